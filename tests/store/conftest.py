"""A candidate repository on each backend (embedded montydb, MongoDB protocol server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sseflow.bvse.schemas import BVSEDocument
from sseflow.common.document import TierDocument, TierStatus
from sseflow.ml.atomsets.schemas import AtomSetsDocument
from sseflow.neb.schemas import NEBDocument
from sseflow.store import candidate_repository, get_job_store

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["embedded", "mongo"])
def job_store(request, tmp_path):
    """An empty, connected JobStore on the embedded store or on a MongoDB server."""
    if request.param == "embedded":
        store = get_job_store(data_dir=tmp_path / "db", uri="")
    else:
        uri = request.getfixturevalue("mongo_uri")
        store = get_job_store(uri=uri, db_name=request.getfixturevalue("mongo_db_name"))
    store.connect()
    yield store
    store.close()


def _tier(doc_class, tier, cid, status, minutes, **numbers):
    start = T0 + timedelta(minutes=minutes)
    return doc_class(
        tier=tier,
        candidate_id=cid,
        status=status,
        started_at=start,
        finished_at=start + timedelta(seconds=30),
        wall_time_s=30.0,
        **numbers,
    )


@pytest.fixture
def repo(job_store):
    """A repository holding five hand-built records with real tier documents.

    ==========  ========  ==========  =====  =========  ===========
    id          formula   BVSE E_1D   P_SI   neb_mlip   status
    ==========  ========  ==========  =====  =========  ===========
    sse-a       Li3N      0.19        0.80   0.25       passed
    sse-b       Li2S      0.34        0.30   -          passed (bvse)
    sse-c       Li7BiO6   0.606       -      -          rejected (bvse)
    sse-d       Li3PS4    None        -      -          failed (bvse)
    sse-e       Li2O      -           -      -          passed (ingest only)
    ==========  ========  ==========  =====  =========  ===========
    """
    repo = candidate_repository(job_store, read_only=False)
    rows = {
        "sse-a": ("Li3N", ["Li", "N"]),
        "sse-b": ("Li2S", ["Li", "S"]),
        "sse-c": ("Li7BiO6", ["Bi", "Li", "O"]),
        "sse-d": ("Li3PS4", ["Li", "P", "S"]),
        "sse-e": ("Li2O", ["Li", "O"]),
    }
    for cid, (formula, elements) in rows.items():
        repo.upsert_candidate(cid, {"formula": formula, "elements": elements})
        repo.set_tier(_tier(TierDocument, "ingest", cid, TierStatus.PASSED, 0))
    passed, rejected, failed = TierStatus.PASSED, TierStatus.REJECTED, TierStatus.FAILED
    repo.set_tier(_tier(BVSEDocument, "bvse", "sse-a", passed, 5, ea_1d_ev=0.19, ea_ev=0.19))
    repo.set_tier(_tier(BVSEDocument, "bvse", "sse-b", passed, 6, ea_1d_ev=0.34, ea_ev=0.34))
    repo.set_tier(
        _tier(
            BVSEDocument,
            "bvse",
            "sse-c",
            rejected,
            7,
            ea_1d_ev=0.606,
            ea_ev=0.606,
            reason="ea_1d_ev = 0.606 eV > 0.6 eV",
        )
    )
    repo.set_tier(
        _tier(BVSEDocument, "bvse", "sse-d", failed, 8, reason="TimeoutError: BVSE > 600 s")
    )
    repo.set_tier(_tier(AtomSetsDocument, "atomsets", "sse-a", passed, 10, p_si=0.8))
    repo.set_tier(_tier(AtomSetsDocument, "atomsets", "sse-b", passed, 11, p_si=0.3))
    repo.set_tier(_tier(NEBDocument, "neb_mlip", "sse-a", passed, 20, barrier_forward_ev=0.25))
    return repo
