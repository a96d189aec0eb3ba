"""Build the jobflow :class:`~jobflow.JobStore` used by every sseflow run.

The same code serves the embedded default (maggma ``MontyStore``: montydb on disk, no
server) and a MongoDB server (maggma ``MongoStore`` given a ``mongodb://`` URI).
Besides jobflow's ``outputs`` collection the store carries two additional stores:

``candidates``
    one record per structure (see :mod:`sseflow.common.candidate`);
``data``
    large job outputs that jobflow offloads (e.g. BVSE energy grids).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jobflow import JobStore
from maggma.core import Store
from maggma.stores import MongoStore

from sseflow.settings import get_settings
from sseflow.store.embedded import EmbeddedStore

CANDIDATES_STORE = "candidates"
DATA_STORE = "data"
OUTPUTS_STORE = "outputs"
#: Fields that identify a document of each collection (the embedded store's key index).
INDEX_KEYS = {
    OUTPUTS_STORE: ["uuid", "index"],
    CANDIDATES_STORE: ["candidate_id"],
    DATA_STORE: ["blob_uuid"],
}
_USERINFO = re.compile(r"(?<=://)[^@/\s]+@")


def _collection_store(
    collection: str,
    data_dir: Path | None,
    uri: str | None,
    db_name: str,
    read_only: bool = False,
    **kwargs: Any,
) -> Store:
    if uri:
        return MongoStore.from_uri(uri, collection_name=collection, database=db_name, **kwargs)
    assert data_dir is not None
    return EmbeddedStore(
        collection_name=collection,
        database_path=str(data_dir),
        database_name=db_name,
        index_key=INDEX_KEYS[collection],
        read_only=read_only,
        **kwargs,
    )


def get_job_store(
    data_dir: str | Path | None = None,
    uri: str | None = None,
    db_name: str | None = None,
    mongo_client_kwargs: dict[str, Any] | None = None,
    read_only: bool = False,
) -> JobStore:
    """Return the JobStore for the embedded folder or a MongoDB URI.

    Parameters
    ----------
    data_dir
        Folder of the embedded montydb store. Default: ``SSEFLOW_DATA_DIR`` or
        ``./sseflow-data``. Ignored when ``uri`` is given.
    uri
        ``mongodb://`` URI. Default: ``SSEFLOW_DB_URI``. Credentials belong in the URI
        or the environment, never in code.
    db_name
        Database name. Default: ``SSEFLOW_DB_NAME`` or ``sseflow``.
    mongo_client_kwargs
        Keyword arguments for ``pymongo.MongoClient`` (TLS, auth source, ...); they
        override those of the ``SSEFLOW_DB_*`` settings
        (:meth:`~sseflow.settings.SseflowSettings.mongo_client_kwargs`).
    read_only
        Open the embedded store read-only: nothing is created or written (a missing
        folder is an error at ``connect``). On MongoDB use a read-only database user;
        sseflow's own guard is ``SSEFLOW_READ_ONLY``.

    Returns
    -------
    JobStore
        Not yet connected; jobflow connects it when a flow runs.
    """
    settings = get_settings()
    uri = uri if uri is not None else settings.db_uri
    db_name = db_name or settings.db_name
    folder: Path | None = None
    extra: dict[str, Any] = {}
    if uri:
        client_kwargs = {**settings.mongo_client_kwargs(), **(mongo_client_kwargs or {})}
        if client_kwargs:
            extra["mongoclient_kwargs"] = client_kwargs
    else:
        folder = Path(data_dir if data_dir is not None else settings.data_dir).resolve()
        extra["read_only"] = read_only

    def make(collection: str) -> Store:
        return _collection_store(collection, folder, uri, db_name, **extra)

    return JobStore(
        docs_store=make(OUTPUTS_STORE),
        additional_stores={CANDIDATES_STORE: make(CANDIDATES_STORE), DATA_STORE: make(DATA_STORE)},
    )


def redact_uri(text: str) -> str:
    """Return ``text`` with the user and password of any URI in it replaced by ``***``.

    Used on URIs and on error messages that may quote one.

    Examples
    --------
    >>> redact_uri("mongodb://ann:secret@db.example.org:27017/sseflow")
    'mongodb://***@db.example.org:27017/sseflow'
    """
    return _USERINFO.sub("***@", text)
