"""A stage that cannot run here: its candidates wait, recorded pending, and resume later."""

import pytest
from jobflow import run_locally

from sseflow.bvse.jobs import BVSEMaker
from sseflow.funnel.deferred import DeferredTierMaker
from sseflow.funnel.gates import ThresholdGate, bvse_gate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.funnel.resume import ResumeError, waiting_groups
from sseflow.qe.calculator import QESettings
from sseflow.qe.jobs import QENEBMaker
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES, REPO


def funnel(pseudo_dir="."):
    dft = QENEBMaker(qe=QESettings(pseudo_dir=pseudo_dir), min_length_angstrom=4.0)
    return ScreeningFunnelMaker(
        stages=[
            Stage([BVSEMaker(resolution_angstrom=0.3)], bvse_gate(0.6, "1D")),
            Stage([dft], ThresholdGate("neb_dft", "barrier_forward_ev", max_value=0.5)),
        ],
        resume_command="sseflow resume --data-dir DB",
    )


def run(flow, store):
    return run_locally(flow, store=store, create_folders=False, log=False)


def test_waiting_candidates_are_pending_with_the_command(store_dir, monkeypatch):
    monkeypatch.delenv("SSEFLOW_QE_PSEUDO_DIR", raising=False)
    store = get_job_store(data_dir=store_dir)
    inputs = [EXAMPLES / "Li2S_antifluorite.cif", EXAMPLES / "obelix_jqc.cif"]
    responses = run(funnel().make(inputs), store)
    summaries = [r[1].output for r in responses.values() if hasattr(r[1].output, "pending")]
    assert [len(s.pending) for s in summaries] == [0, 1]
    store.connect()
    repo = candidate_repository(store)
    records = {r["formula"]: r for r in repo.find({})}
    li2s = records["Li2S"]
    assert li2s["status"] == "pending" and li2s["last_tier"] == "neb_dft"
    doc = li2s["tiers"]["neb_dft"]
    assert doc["deferred"] and doc["status"] == "pending"
    assert doc["resume_command"] == "sseflow resume --data-dir DB --qe-pseudo-dir PSEUDO_DIR"
    assert "no pseudopotential folder" in li2s["reason"] and doc["resume_command"] in li2s["reason"]
    assert li2s["tiers"]["bvse"]["status"] == "passed"  # the tier before keeps its outcome
    assert records["Li7BiO6"]["status"] == "rejected"  # E_1D 0.606 eV: never waits
    # still no QE: a rerun keeps them waiting and recomputes nothing
    run(funnel().make(inputs), store)
    again = repo.get(li2s["candidate_id"])
    assert again["status"] == "pending"
    assert again["tiers"]["bvse"]["job_uuid"] == li2s["tiers"]["bvse"]["job_uuid"]
    # resuming without QE set up is refused with the reason; with another funnel too
    with pytest.raises(ResumeError, match=r"still cannot run here: .*pseudopotential"):
        waiting_groups(funnel(), repo)
    bvse_only = ScreeningFunnelMaker(stages=funnel().stages[:1])
    with pytest.raises(ResumeError, match="does not run"):
        waiting_groups(bvse_only, repo)
    # with QE set up, the group is the one waiting candidate at the DFT stage
    (group,) = waiting_groups(funnel(str(REPO / "tests" / "data" / "pseudo")), repo)
    assert group.tier == "neb_dft" and group.stage_index == 1
    assert [c.candidate_id for c in group.candidates] == [li2s["candidate_id"]]
    assert group.candidates[0].structure.composition.reduced_formula == "Li2S"


def test_deferred_maker_settings_hash_differs_from_the_real_tier():
    deferred = DeferredTierMaker(tier="neb_dft", reason="x", resume_command="y")
    assert deferred.tier_settings() == {"tier": "neb_dft"}
    assert deferred.tier_settings_hash() != QENEBMaker().tier_settings_hash()
    assert deferred.tier_settings_hash() == DeferredTierMaker(tier="neb_dft").tier_settings_hash()
