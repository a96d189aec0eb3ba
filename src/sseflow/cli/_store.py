"""Open the job store and candidate records for a command.

Commands that write (``screen``, ``index``) open the store with ``write=True`` and are
refused in read-only mode (``SSEFLOW_READ_ONLY=1``). Query commands (``candidates``,
``show``, ``report``) open it read-only: their repository refuses every write, an
embedded store folder that does not exist is an error instead of being created, and the
embedded store's files are opened read-only (nothing in the folder is created or
changed, so queries work on a store they cannot write).
"""

from __future__ import annotations

from pathlib import Path

from jobflow import JobStore

from sseflow.cli.app import fail
from sseflow.settings import get_settings
from sseflow.store import CandidateRepository, candidate_repository, get_job_store
from sseflow.store.jobstore import redact_uri
from sseflow.store.readonly import read_only_message


def describe_store(data_dir: Path | None, db_uri: str | None) -> str:
    """Return where records are read from, without credentials."""
    settings = get_settings()
    uri = db_uri if db_uri is not None else settings.db_uri
    if uri:
        return f"{redact_uri(uri)} (database {settings.db_name})"
    folder = Path(data_dir if data_dir is not None else settings.data_dir).resolve()
    return f"embedded store {folder}"


def open_store(data_dir: Path | None, db_uri: str | None, write: bool = True) -> JobStore:
    """Return a connected JobStore, or exit with a clear message.

    Parameters
    ----------
    data_dir, db_uri
        Command-line options (None: from the settings).
    write
        The command will write. Refused in read-only mode. When False, a missing
        embedded store folder is an error (a query never creates a store).
    """
    settings = get_settings()
    if write and settings.read_only:
        fail(read_only_message("run a command that writes to the database (SSEFLOW_READ_ONLY)"))
    uri = db_uri if db_uri is not None else settings.db_uri
    if not uri and not write:
        folder = Path(data_dir if data_dir is not None else settings.data_dir)
        if not folder.is_dir():
            fail(
                f"no sseflow store at {folder.resolve()}: run `sseflow screen` first, or "
                "point --data-dir / SSEFLOW_DATA_DIR or --db-uri / SSEFLOW_DB_URI at one"
            )
    try:
        store = get_job_store(data_dir=data_dir, uri=db_uri, read_only=not write)
        store.connect()
        if uri:  # fail here, with a clear message, when the server is unreachable
            store.docs_store._collection.database.client.admin.command("ping")
    except Exception as exc:
        fail(f"cannot open the store: {type(exc).__name__}: {redact_uri(str(exc))}")
    return store


def open_candidates(
    data_dir: Path | None, db_uri: str | None, read_only: bool = True
) -> CandidateRepository:
    """Return the candidate repository of the configured store (read-only by default)."""
    store = open_store(data_dir, db_uri, write=not read_only)
    return candidate_repository(store, read_only=read_only or None)
