"""The embedded store: maggma's ``MontyStore`` made safe for many processes at once.

Why not plain ``MontyStore``: on every ``connect`` it rewrites montydb's configuration
files (``.monty.storage``, ``monty.storage.cfg``), so a process opening the folder at
that moment reads an empty file and fails ("ValueError: Empty module name"); montydb
updates a record by reading it through one SQLite connection and writing it through
another, so concurrent writers lose updates and concurrent upserts duplicate records;
every keyed read or write decodes the whole collection (a 26,000-record store spends
seconds per write); and in montydb's WAL journal mode even a query creates files.

What this class changes (the files stay montydb's, readable by ``MontyStore``):

- ``connect`` writes the configuration only when the folder has none, under an
  exclusive ``flock`` on ``.sseflow-store.lock``; otherwise it only reads it.
- ``read_only=True`` opens every SQLite file with ``mode=ro`` and creates nothing, not
  even the folder; a missing store is an error.
- Writes by key (jobflow's outputs by ``uuid`` + ``index``, data blobs by
  ``blob_uuid``, candidate records by ``candidate_id``) go through a key index in the
  same SQLite file (:class:`~sseflow.store.sqlite_engine.KeyIndex`): each is one
  ``BEGIN IMMEDIATE`` transaction (atomic across processes, no duplicate, no lost
  update) touching one row. Queries on the first key field use the index too.
- Any other query (:meth:`EmbeddedStore.find_streamed`, ``query``, ``count``) reads the
  collection a page of rows at a time (montydb decodes the whole collection before its
  first result: 5.8 GB for 24,000 candidate records); a sorted query holds only the
  matching documents. montydb still answers queries with options this class does not
  have and sorts on values it cannot order (documents, arrays).

Every process writing to the folder must use this class (sseflow does); a plain
``MontyStore`` writer would leave the key index behind, which the next sseflow writer
notices and rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from maggma.core import StoreError
from maggma.stores import MontyStore
from monty.json import jsanitize

from sseflow.store.sqlite_engine import (
    DEFAULT_TIMEOUT_S,
    KeyIndex,
    SafeSQLiteEngine,
    use_rollback_journal,
)

LOCK_FILE = ".sseflow-store.lock"
CONFIG_FILE = ".monty.storage"
SQLITE_STORAGE: Final = "sqlite"  # Final: typed Literal["sqlite"], as MontyStore expects
_MONTY_SETTINGS = {"use_bson": True, "mongo_version": "4.0"}  # maggma's MontyStore defaults


class EmbeddedStoreError(StoreError):
    """The embedded store folder cannot be opened (missing, foreign, or read-only)."""


@contextlib.contextmanager
def folder_lock(folder: Path, exclusive: bool) -> Iterator[None]:
    """Hold an ``flock`` on the store folder's lock file (shared or exclusive).

    A shared lock is taken only when the lock file exists (readers create nothing).
    """
    path = folder / LOCK_FILE
    if not exclusive and not path.exists():
        yield
        return
    flags = os.O_RDWR | os.O_CREAT if exclusive else os.O_RDONLY
    fd = os.open(path, flags, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # releases the lock


class EmbeddedStore(MontyStore):
    """A montydb (SQLite) collection that many processes may read and write at once.

    Parameters
    ----------
    collection_name
        Collection (one SQLite file ``<database_path>/<database_name>/<name>.collection``).
    database_path
        Store folder.
    database_name
        Database name.
    index_key
        Fields that identify a document (its writes and look-ups go through the key
        index); default the store's ``key``.
    read_only
        Open read-only: nothing is created or written.
    timeout_s
        How long an operation waits for another process's lock, s.
    kwargs
        Passed to maggma's ``MontyStore`` (``key``, ``validator``, ...).
    """

    def __init__(
        self,
        collection_name: str,
        database_path: str | None = None,
        database_name: str = "db",
        index_key: Sequence[str] | None = None,
        read_only: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        **kwargs: Any,
    ):
        kwargs.pop("storage", None)
        kwargs.setdefault("storage_kwargs", dict(_MONTY_SETTINGS))
        super().__init__(
            collection_name,
            database_path=database_path,
            database_name=database_name,
            storage=SQLITE_STORAGE,
            **kwargs,
        )
        self.index_key = list(index_key) if index_key else [self.key]
        self.read_only = read_only
        self.timeout_s = timeout_s
        self._index: KeyIndex | None = None
        self._index_usable = False
        self._index_stale = False

    # --- connecting ---

    def connect(self, force_reset: bool = False) -> None:
        """Open the collection; create the store folder only when writing."""
        if self._coll is not None and not force_reset:
            return
        from montydb import MontyClient, set_storage

        folder = Path(self.database_path)
        configured = (folder / CONFIG_FILE).is_file()
        if self.read_only:
            if not configured:
                raise EmbeddedStoreError(f"no sseflow store at {folder}")
            with folder_lock(folder, exclusive=False):
                client = MontyClient(str(folder), **self.client_kwargs)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            with folder_lock(folder, exclusive=True):
                if not (folder / CONFIG_FILE).is_file():
                    set_storage(str(folder), storage=SQLITE_STORAGE, **self.storage_kwargs)
                client = MontyClient(str(folder), **self.client_kwargs)
        storage = client._storage
        if storage.nice_name() != SQLITE_STORAGE:
            raise EmbeddedStoreError(
                f"{folder} holds a montydb '{storage.nice_name()}' store; sseflow needs sqlite"
            )
        # montydb opens one SQLite connection per operation through this engine; its
        # own writes (raw collection inserts, updates, deletes) mark the index stale
        storage._conn = SafeSQLiteEngine(
            storage._config, self.read_only, self.timeout_s, on_write=self._montydb_wrote
        )
        collection = client[self.database_name][self.collection_name]
        low_level: Any = storage
        for component in collection._components:
            low_level = low_level.contractor_cls(low_level, component)
        codec = low_level.coptions

        from montydb.types import bson

        self._index = KeyIndex(
            Path(low_level._col_path),
            self.index_key,
            encode=low_level._encode_doc,
            decode=lambda raw: bson.document_decode(raw, codec_options=codec),
            row_key=bson.id_encode,
            read_only=self.read_only,
            timeout_s=self.timeout_s,
        )
        if self.read_only:
            self._index_usable = self._index.is_current()
        else:
            with folder_lock(folder, exclusive=True):
                use_rollback_journal(self._index.path)
                if not self._index.is_current():
                    self._index.rebuild()
            self._index_usable = True
        self._coll = collection

    def close(self) -> None:
        """Forget the connection (montydb opens SQLite per operation)."""
        self._coll = None
        self._index = None
        self._index_usable = False

    def _montydb_wrote(self, db_file: str) -> None:
        if self._index is not None and Path(db_file) == self._index.path:
            self._index_stale = True

    @property
    def index(self) -> KeyIndex:
        """The key index (connects first; rebuilt after montydb's own writes)."""
        if self._coll is None:
            self.connect()
        assert self._index is not None
        if self._index_stale and not self.read_only:
            self._index_stale = False
            self._index.rebuild()
        return self._index

    def _check_writable(self) -> None:
        if self.read_only:
            raise EmbeddedStoreError(f"{self.name} is open read-only")

    # --- keyed writes ---

    def update(self, docs: list[dict] | dict, key: list | str | None = None) -> None:
        """Insert or replace documents by key, each in its own transaction.

        Documents are replaced whole, as maggma's ``update`` does.
        """
        self._check_writable()
        from montydb.types import bson

        docs = docs if isinstance(docs, list) else [docs]
        fields = key if isinstance(key, list) else [key or self.key]
        if fields != self.index_key:
            super().update(docs, key=key)  # not our key: montydb's way (index rebuilt)
            return
        items = []
        for raw in docs:
            doc = jsanitize(raw, allow_bson=True)
            if self.validator and not self.validator.is_valid(doc):
                # maggma's Validator ABC declares no ``strict``, yet maggma's own
                # stores read it too (its JSONSchemaValidator defines it)
                if self.validator.strict:  # type: ignore[attr-defined]
                    raise ValueError(self.validator.validation_errors(doc))
                continue

            def replace(stored: dict | None, doc: dict = doc) -> dict:
                doc = dict(doc)
                doc["_id"] = stored["_id"] if stored else doc.get("_id") or bson.ObjectId()
                return doc

            items.append(([doc[f] for f in fields], replace))
        self.index.write_many(items)

    def update_by_key(
        self, key_values: Sequence[Any], update: dict[str, Any], upsert: bool = True
    ) -> None:
        """Apply a Mongo update (``$set``, ``$setOnInsert``, ``$addToSet``, ...) to one record.

        The read, the change and the write are one transaction.
        """
        self.update_many_by_key([(key_values, update)], upsert=upsert)

    def update_many_by_key(
        self, updates: Sequence[tuple[Sequence[Any], dict[str, Any]]], upsert: bool = True
    ) -> None:
        """Apply one Mongo update per record, all in one transaction."""
        self._check_writable()
        items = [(values, self._updater(values, update, upsert)) for values, update in updates]
        self.index.write_many(items)

    def _updater(
        self, key_values: Sequence[Any], update: dict[str, Any], upsert: bool
    ) -> Callable[[dict | None], dict | None]:
        from montydb.engine.field_walker import FieldWalker
        from montydb.engine.update import Updator
        from montydb.types import bson

        def change(stored: dict | None) -> dict | None:
            updator = Updator(update)
            if stored is None:
                if not upsert:
                    return None
                doc = dict(zip(self.index_key, key_values, strict=True))
                doc["_id"] = bson.ObjectId()
                walker = FieldWalker(doc)
                updator(walker, do_insert=True)
                return walker.doc
            walker = FieldWalker(stored)
            return walker.doc if updator(walker) else None

        return change

    def remove_docs(self, criteria: dict) -> None:
        """Remove documents matching ``criteria`` (and their key index rows)."""
        self._check_writable()
        super().remove_docs(criteria)  # montydb's delete marks the index stale

    # --- keyed reads ---

    def get_by_key(self, key_values: Sequence[Any]) -> dict[str, Any] | None:
        """Return the document with these key values (one row read), or None."""
        if self._coll is None:
            self.connect()
        if not self._index_usable or (self._index_stale and self.read_only):
            query = dict(zip(self.index_key, key_values, strict=True))
            return self._collection.find_one(query)
        return self.index.get(key_values)

    def find_streamed(
        self,
        criteria: dict | None = None,
        projection: dict[str, Any] | None = None,
        limit: int = 0,
    ) -> Iterator[dict]:
        """Yield matching documents one at a time (unsorted; Mongo projection).

        Criteria on the first key field use the key index; any other query reads the
        collection a page at a time and checks each document with montydb's own
        filter, instead of montydb decoding every document before the first result.
        """
        from montydb.engine.queries import QueryFilter

        if self._coll is None:
            self.connect()
        assert self._index is not None
        indexed = self._by_first_key(criteria, None, None)
        if indexed is not None:
            docs: Iterable[dict] = indexed
        else:
            matches = QueryFilter(criteria or {})
            docs = (doc for doc in self._index.scan() if matches(doc))
        for n, doc in enumerate(docs, start=1):
            yield project_document(doc, projection)
            if limit and n >= limit:
                return

    def sorted_matches(
        self,
        criteria: dict | None,
        projection: dict[str, Any] | None,
        sort: Sequence[tuple[str, Any]],
        skip: int = 0,
        limit: int = 0,
    ) -> list[dict]:
        """Return the matching documents sorted as MongoDB sorts them, then projected.

        Only the matching documents are held (read as :meth:`find_streamed` reads them,
        with the sort fields kept even when ``projection`` drops them).

        Raises
        ------
        TypeError
            For a sort value with no order here (a document or an array): montydb's
            own sort is then the answer (see :func:`sort_documents`).
        """
        fields = [field for field, _ in sort]
        wide = widened_projection(projection, fields)
        matched = list(self.find_streamed(criteria, wide))
        sort_documents(matched, sort)
        matched = matched[skip : skip + limit] if limit else matched[skip:]
        if wide == projection:
            return matched
        return [project_document(doc, projection) for doc in matched]

    def query(  # type: ignore[override]
        self,
        criteria: dict | None = None,
        properties: dict | list | None = None,
        sort: dict | None = None,
        hint: dict | None = None,
        skip: int = 0,
        limit: int = 0,
        **kwargs: Any,
    ) -> Iterator[dict]:
        """Query like ``MontyStore``, without montydb decoding the whole collection.

        Criteria on the first key field use the key index; others read the collection a
        page at a time (:meth:`find_streamed`); a sorted query holds the matching
        documents only. Options montydb has and this has not (``kwargs``), and sorts on
        values with no order here, are montydb's.
        """
        if self._coll is None:
            self.connect()
        projection = dict.fromkeys(properties, 1) if isinstance(properties, list) else properties
        if not kwargs:
            if not sort:
                docs = self.find_streamed(criteria, projection)
                yield from itertools.islice(docs, skip, skip + limit if limit else None)
                return
            try:
                matched = self.sorted_matches(criteria, projection, list(sort.items()), skip, limit)
            except TypeError:
                pass  # values MongoDB orders but Python does not: montydb sorts
            else:
                yield from matched
                return
        yield from super().query(criteria, properties, sort, hint, skip, limit, **kwargs)

    def count(self, criteria: dict | None = None, hint: dict | None = None) -> int:
        """Count matching documents as they stream (montydb decodes them all at once)."""
        if self._coll is None:
            self.connect()
        return sum(1 for _ in self.find_streamed(criteria, {"_id": 1}))

    def _by_first_key(
        self, criteria: dict | None, properties: dict | list | None, sort: dict | None
    ) -> list[dict] | None:
        """Return the documents matching ``criteria`` through the index, or None."""
        if not self._index_usable or not criteria or (self._index_stale and self.read_only):
            return None
        if isinstance(properties, dict) and not all(properties.values()):
            return None  # exclusion projections: left to montydb
        first = self.index_key[0]
        wanted = criteria.get(first)
        if isinstance(wanted, dict):
            if set(wanted) != {"$in"}:
                return None
            values = list(wanted["$in"])
        elif wanted is None:
            return None
        else:
            values = [wanted]
        from montydb.engine.queries import QueryFilter

        # the index returns exactly the documents whose first key is one of ``values``;
        # only the other conditions are left to check (montydb's ``$in`` match scans the
        # whole list for every document: quadratic for a batch of 20,000 ids)
        rest = {k: v for k, v in criteria.items() if k != first}
        docs = self.index.find_first(values)
        if not rest:
            return list(docs)
        matches = QueryFilter(rest)
        return [doc for doc in docs if matches(doc)]


def sort_documents(docs: list[dict], sort: Sequence[tuple[str, Any]]) -> None:
    """Sort documents in place as MongoDB does, by each ``(dotted field, direction)``.

    Values are ranked by BSON type first (null and missing, numbers, strings, booleans,
    dates), then by value; the keys are applied last to first (Python's sort is stable).

    Raises
    ------
    TypeError
        For a value with no order here (a document or an array).
    """
    for field, direction in reversed(list(sort)):
        descending = int(getattr(direction, "value", direction)) < 0
        docs.sort(key=_mongo_sort_key(field), reverse=descending)


def widened_projection(
    projection: dict[str, Any] | None, fields: Sequence[str]
) -> dict[str, Any] | None:
    """Return ``projection`` changed so that it keeps ``fields`` (e.g. sort keys).

    An inclusion gains the fields; an exclusion loses every excluded path that is one
    of the fields, inside one, or holds one. ``None`` (everything) stays ``None``.
    """
    if not projection:
        return projection
    included = {k: v for k, v in projection.items() if k != "_id"}
    if any(included.values()):
        return {**projection, **dict.fromkeys(fields, 1)}

    def overlaps(path: str) -> bool:
        return any(
            path == f or f.startswith(path + ".") or path.startswith(f + ".") for f in fields
        )

    return {k: v for k, v in projection.items() if k == "_id" or not overlaps(k)}


def _type_rank(value: Any) -> int:
    """Return MongoDB's sort rank of a value's BSON type (null and missing first)."""
    if value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, int | float):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, datetime):
        return 9
    raise TypeError(f"no sort order here for {type(value).__name__}")


def _mongo_sort_key(path: str) -> Callable[[dict], tuple[int, Any]]:
    """Return a sort key: the value at a dotted path, ranked by type as MongoDB does."""

    def key(doc: dict) -> tuple[int, Any]:
        value: Any = doc
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return _type_rank(value), (0 if value is None else value)

    return key


def project_document(doc: dict, projection: dict[str, Any] | None) -> dict:
    """Apply a Mongo projection: inclusion (``{"a.b": 1}``) or exclusion (``{"a": 0}``).

    Dotted paths reach into sub-documents and into every document of an array
    (``sources.path``), as in MongoDB; ``_id`` is kept unless excluded.
    """
    if not projection:
        return doc
    keep_id = bool(projection.get("_id", 1))
    fields = {k: v for k, v in projection.items() if k != "_id"}
    tree = _path_tree(fields)
    if any(fields.values()):
        if not all(fields.values()):
            raise ValueError(f"projection mixes inclusion and exclusion: {projection}")
        out = _keep(doc, tree)
        if keep_id and "_id" in doc:
            out = {"_id": doc["_id"], **out}
    else:
        out = _without(doc, tree)
    if not keep_id:
        out.pop("_id", None)
    return out


_Tree = dict[str, Any]  # path part -> sub-tree, or True at the end of a path


def _path_tree(paths: Iterable[str]) -> _Tree:
    tree: _Tree = {}
    for path in paths:
        node = tree
        *parents, last = path.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if child is True:  # a shorter path already takes the whole field
                break
            node = child
        else:
            node[last] = True
    return tree


def _keep(doc: dict, tree: _Tree) -> dict:
    out: dict[str, Any] = {}
    for key, sub in tree.items():
        if key not in doc:
            continue
        value = doc[key]
        if sub is True:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = _keep(value, sub)
        elif isinstance(value, list):
            out[key] = [_keep(item, sub) for item in value if isinstance(item, dict)]
    return out


def _without(doc: dict, tree: _Tree) -> dict:
    out = dict(doc)
    for key, sub in tree.items():
        if key not in out:
            continue
        if sub is True:
            del out[key]
        elif isinstance(out[key], dict):
            out[key] = _without(out[key], sub)
        elif isinstance(out[key], list):
            out[key] = [_without(i, sub) if isinstance(i, dict) else i for i in out[key]]
    return out
