"""Open the job store and candidate records for a command."""

from __future__ import annotations

from pathlib import Path

from jobflow import JobStore

from sseflow.cli.app import fail
from sseflow.store import CandidateRepository, candidate_repository, get_job_store


def open_store(data_dir: Path | None, db_uri: str | None) -> JobStore:
    """Return a connected JobStore, or exit with a clear message."""
    try:
        store = get_job_store(data_dir=data_dir, uri=db_uri)
        store.connect()
    except Exception as exc:
        fail(f"cannot open the store: {type(exc).__name__}: {exc}")
    return store


def open_candidates(data_dir: Path | None, db_uri: str | None) -> CandidateRepository:
    """Return the candidate repository of the configured store."""
    return candidate_repository(open_store(data_dir, db_uri))
