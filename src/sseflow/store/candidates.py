"""Read and write candidate records (one document per structure).

Writes are partial ``$set`` updates keyed by ``candidate_id`` rather than maggma's
whole-document ``Store.update``: different tiers (and different workers) update different
parts of the same record, and a whole-document replace would lose a concurrent write.
On MongoDB they are ``update_one(..., upsert=True)`` on the collection (a unique index on
``candidate_id`` rules out duplicates); on the embedded store each is one SQLite
transaction through the store's key index
(:meth:`~sseflow.store.embedded.EmbeddedStore.update_by_key`), so concurrent processes
neither lose an update nor duplicate a record. Queries use operations both backends
support (no aggregation; indexes only where the backend has them, see
:mod:`sseflow.store.indexes`).

In read-only mode (``SSEFLOW_READ_ONLY=1`` or ``read_only=True``) every write raises
:class:`~sseflow.store.readonly.ReadOnlyStoreError`, including writes through
:attr:`CandidateRepository.collection`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jobflow import JobStore
from maggma.core import Store
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from sseflow import __version__
from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.common.document import TierDocument, TierStatus
from sseflow.provenance import utc_now
from sseflow.settings import get_settings
from sseflow.store.embedded import EmbeddedStore
from sseflow.store.indexes import IndexResult, ensure_indexes
from sseflow.store.jobstore import CANDIDATES_STORE
from sseflow.store.readonly import ReadOnlyCollection, ReadOnlyStoreError, read_only_message


def identity_fields(candidate: Candidate) -> dict[str, Any]:
    """Return the record fields that identify a candidate (formula, structure, ...)."""
    structure = candidate.structure
    elements = sorted(el.symbol for el in structure.composition.elements)
    return {
        "formula": candidate.formula,
        "chemsys": "-".join(elements),
        "elements": elements,
        "nsites": len(structure),
        "is_ordered": structure.is_ordered,
        "structure": structure.as_dict(),
        "oxidation_states": candidate.oxidation_states,
        **({"fingerprint": candidate.fingerprint} if candidate.fingerprint else {}),
    }


class CandidateRepository:
    """Candidate records in a maggma store (connected on first use).

    Parameters
    ----------
    store
        The ``candidates`` maggma store.
    read_only
        Refuse every write. Default: the ``SSEFLOW_READ_ONLY`` setting.
    """

    def __init__(self, store: Store, read_only: bool | None = None):
        self.store = store
        self.read_only = get_settings().read_only if read_only is None else read_only

    @property
    def collection(self) -> Any:
        """Return the raw (pymongo or montydb) collection, connecting if needed.

        In read-only mode the collection is wrapped so that write methods raise
        :class:`ReadOnlyStoreError`.
        """
        try:
            collection = self.store._collection
        except Exception:
            self.store.connect()
            collection = self.store._collection
        return ReadOnlyCollection(collection) if self.read_only else collection

    def _check_writable(self, action: str) -> None:
        if self.read_only:
            raise ReadOnlyStoreError(read_only_message(action))

    def _update_one(self, candidate_id: str, update: dict[str, Any]) -> None:
        """Upsert one record; retry once when a concurrent upsert inserted it first."""
        self._update_many([(candidate_id, update)])

    def _update_many(self, updates: list[tuple[str, dict[str, Any]]]) -> None:
        """Upsert records, one update each (one transaction on the embedded store)."""
        if not updates:
            return
        if isinstance(self.store, EmbeddedStore):
            self.store.update_many_by_key([([cid], update) for cid, update in updates])
            return
        requests = [UpdateOne({"candidate_id": cid}, u, upsert=True) for cid, u in updates]
        try:
            self.collection.bulk_write(requests, ordered=True)
        except (BulkWriteError, DuplicateKeyError):
            # another worker created a record in between: the retry updates it
            for cid, update in updates:
                try:
                    self.collection.update_one({"candidate_id": cid}, update, upsert=True)
                except DuplicateKeyError:
                    self.collection.update_one({"candidate_id": cid}, update, upsert=True)

    def ensure_indexes(self, extra_fields: Iterable[str] = ()) -> IndexResult:
        """Create indexes on the fields queries use (see :mod:`sseflow.store.indexes`).

        Never fails on a backend without indexes (montydb): skipped indexes are logged
        and listed in the result.

        Raises
        ------
        ReadOnlyStoreError
            In read-only mode.
        """
        self._check_writable("create indexes")
        return ensure_indexes(self.collection, extra_fields)

    def upsert_candidate(
        self,
        candidate_id: str,
        fields: Mapping[str, Any],
        source: SourceInfo | None = None,
        tier: TierDocument | Mapping[str, Any] | None = None,
    ) -> None:
        """Create or update the identity part of a record (formula, structure, ...).

        With ``tier``, that tier document is stored in the same write and becomes the
        record's overall state (what ingest does for each input).
        """
        self.upsert_candidates([(candidate_id, fields, source, tier)])

    def upsert_candidates(
        self,
        items: Iterable[
            tuple[
                str, Mapping[str, Any], SourceInfo | None, TierDocument | Mapping[str, Any] | None
            ]
        ],
    ) -> None:
        """Create or update many records at once; see :meth:`upsert_candidate`.

        One bulk write on MongoDB, one transaction on the embedded store. Items of the
        same candidate are applied in order.
        """
        now = utc_now()
        updates: list[tuple[str, dict[str, Any]]] = []
        for candidate_id, fields, source, tier in items:
            on_insert: dict[str, Any] = {"created_at": now}
            values: dict[str, Any] = {**fields, "updated_at": now, "sseflow_version": __version__}
            if tier is None:
                on_insert.update(tiers={}, status=TierStatus.PENDING.value)
            else:
                data = tier.record_dump() if isinstance(tier, TierDocument) else dict(tier)
                values[f"tiers.{data['tier']}"] = data
                values.update(
                    last_tier=data["tier"],
                    status=TierStatus(data["status"]).value,
                    reason=data.get("reason"),
                )
            update: dict[str, Any] = {"$set": values, "$setOnInsert": on_insert}
            if source is not None:
                update["$addToSet"] = {"sources": source.model_dump()}
            updates.append((candidate_id, update))
        if not updates:
            return
        self._check_writable(f"write candidate {updates[0][0]}")
        self._update_many(updates)

    def set_tier(self, doc: TierDocument | Mapping[str, Any], overall: bool = True) -> None:
        """Store a tier's document under ``tiers.<tier>``.

        Parameters
        ----------
        doc
            The tier document (its ``record_exclude`` fields are left out) or its dict.
        overall
            Also make it the record's overall ``status``/``last_tier``/``reason`` (the
            funnel's gates); False for a side analysis (e.g. ``sseflow cluster``).
        """
        self.set_tiers([doc], overall=overall)

    def set_tiers(
        self, docs: Iterable[TierDocument | Mapping[str, Any]], overall: bool = True
    ) -> None:
        """Store many tier documents at once (see :meth:`set_tier`); one write per record.

        Documents of the same candidate are merged into one update; with ``overall``
        the last one of a candidate sets the record's overall status.
        """
        updates: dict[str, dict[str, Any]] = {}
        now = utc_now()
        for doc in docs:
            data = doc.record_dump() if isinstance(doc, TierDocument) else dict(doc)
            tier = data["tier"]
            status = TierStatus(data["status"])
            update = updates.setdefault(data["candidate_id"], {"updated_at": now})
            update[f"tiers.{tier}"] = data
            if overall:
                update.update(last_tier=tier, status=status.value, reason=data.get("reason"))
        if not updates:
            return
        self._check_writable(f"write tiers of {', '.join(list(updates)[:3])}")
        self._update_many([(cid, {"$set": update}) for cid, update in updates.items()])

    def set_status(
        self,
        candidate_ids: Iterable[str],
        status: TierStatus,
        last_tier: str,
        reason: str | None,
        tier_fields: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the overall status of records (e.g. ``pending`` while a stage runs).

        Parameters
        ----------
        candidate_ids
            Records to change (existing ones only are meant; missing ones are created).
        status, last_tier, reason
            The new overall state.
        tier_fields
            Also set these dotted fields (e.g. ``{"tiers.bvse.status": "failed"}``).
        """
        ids = list(dict.fromkeys(candidate_ids))
        if not ids:
            return
        self._check_writable(f"set status of {len(ids)} candidate(s)")
        values = {
            "status": status.value,
            "last_tier": last_tier,
            "reason": reason,
            "updated_at": utc_now(),
            **(tier_fields or {}),
        }
        self._update_many([(cid, {"$set": dict(values)}) for cid in ids])

    def get(self, candidate_id: str) -> dict[str, Any] | None:
        """Return one record (without Mongo's ``_id``), or None."""
        if isinstance(self.store, EmbeddedStore):
            record = self.store.get_by_key([candidate_id])
            if record is not None:
                record.pop("_id", None)
            return record
        return self.collection.find_one({"candidate_id": candidate_id}, {"_id": 0})

    def get_many(
        self, candidate_ids: Iterable[str], projection: Mapping[str, Any] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Return candidate id -> record for the ids that have one (one query)."""
        ids = list(dict.fromkeys(candidate_ids))
        if not ids:
            return {}
        if isinstance(self.store, EmbeddedStore):
            found = self.store.query({"candidate_id": {"$in": ids}})
            records = {}
            for rec in found:
                rec.pop("_id", None)
                if projection:
                    rec = {k: v for k, v in rec.items() if projection.get(k, 1)}
                records[rec["candidate_id"]] = rec
            return records
        return {
            rec["candidate_id"]: rec
            for rec in self.find({"candidate_id": {"$in": ids}}, projection=projection)
        }

    def get_tier(self, candidate_id: str, tier: str) -> dict[str, Any] | None:
        """Return ``tiers.<tier>`` of a record, or None."""
        record = self.get(candidate_id)
        return None if record is None else record.get("tiers", {}).get(tier)

    def find(
        self,
        query: Mapping[str, Any] | None = None,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield records matching a plain Mongo query.

        On the embedded store records are read and checked one at a time instead of by
        montydb, which decodes the whole collection first: an unsorted query streams;
        a sorted one holds and sorts the matching records here, in MongoDB's order of
        types, and falls back to montydb for values it cannot order (e.g. documents).
        """
        proj = {"_id": 0, **(projection or {})}
        if isinstance(self.store, EmbeddedStore):
            if not sort:
                yield from self.store.find_streamed(dict(query or {}), proj, limit)
                return
            try:
                matched = self.store.sorted_matches(dict(query or {}), proj, sort, limit=limit)
            except TypeError:
                pass  # values MongoDB orders but Python does not: montydb sorts
            else:
                yield from matched
                return
        cursor = self.collection.find(dict(query or {}), proj)
        if sort:
            cursor = cursor.sort(sort)
        if limit:
            cursor = cursor.limit(limit)
        for doc in cursor:
            doc.pop("_id", None)
            yield doc

    def find_sorted(
        self,
        query: Mapping[str, Any] | None,
        sort_path: str,
        descending: bool = False,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield records sorted by ``sort_path`` in the database, missing values last.

        MongoDB sorts missing and null values before all numbers; here records that
        have a value come first (ascending or descending, ties by ``candidate_id``),
        then those without one (by ``candidate_id``). Two queries, both sorted by the
        database, so it works on MongoDB and montydb alike.

        Parameters
        ----------
        query
            Mongo filter.
        sort_path
            Dotted record path to sort on.
        descending
            Largest first.
        limit
            At most this many records (0 = all).
        projection
            Mongo projection (``_id`` is always dropped).
        """
        base = dict(query or {})
        direction = -1 if descending else 1
        sort = [(sort_path, direction)]
        if sort_path != "candidate_id":
            sort.append(("candidate_id", 1))
        with_value = {"$and": [base, {sort_path: {"$ne": None}}]}
        n = 0
        for record in self.find(with_value, sort=sort, limit=limit, projection=projection):
            n += 1
            yield record
        if limit and n >= limit:
            return
        without = {"$and": [base, {sort_path: None}]}
        rest = limit - n if limit else 0
        yield from self.find(without, sort=[("candidate_id", 1)], limit=rest, projection=projection)

    def count(self, query: Mapping[str, Any] | None = None) -> int:
        """Return the number of records matching ``query``.

        On the embedded store the records are counted as they stream (montydb's count
        decodes the whole collection at once: 5.8 GB for 24,000 records).
        """
        if isinstance(self.store, EmbeddedStore):
            return self.store.count(dict(query or {}))
        return int(self.collection.count_documents(dict(query or {})))


def candidate_repository(job_store: JobStore, read_only: bool | None = None) -> CandidateRepository:
    """Return the candidate repository of a JobStore built by :func:`get_job_store`.

    Parameters
    ----------
    job_store
        JobStore with a ``candidates`` additional store.
    read_only
        Refuse writes. Default: the ``SSEFLOW_READ_ONLY`` setting.

    Raises
    ------
    KeyError
        If the JobStore has no ``candidates`` additional store.
    """
    try:
        # jobflow's JobStore.__init__ leaves additional_stores unannotated (has-type)
        store = job_store.additional_stores[CANDIDATES_STORE]  # type: ignore[has-type]
    except KeyError as exc:
        raise KeyError(
            "This JobStore has no 'candidates' store; build it with "
            "sseflow.store.get_job_store() or add additional_stores.candidates "
            "to your jobflow config."
        ) from exc
    return CandidateRepository(store, read_only=read_only)
