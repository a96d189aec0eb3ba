"""Storage: the jobflow JobStore and the ``candidates`` collection beside it."""

from sseflow.store.candidates import CandidateRepository, candidate_repository
from sseflow.store.jobstore import CANDIDATES_STORE, get_job_store
from sseflow.store.readonly import ReadOnlyStoreError

__all__ = [
    "CANDIDATES_STORE",
    "CandidateRepository",
    "ReadOnlyStoreError",
    "candidate_repository",
    "get_job_store",
]
