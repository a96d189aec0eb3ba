"""The CHGNet NEB tier as a funnel stage after BVSE (MLIP ranks before any DFT)."""

import pytest
from jobflow import run_locally

from sseflow.bvse.jobs import BVSEMaker
from sseflow.funnel.gates.threshold import ThresholdGate, bvse_gate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.neb.jobs import CHGNetNEBMaker
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES


@pytest.mark.slow
def test_neb_stage_in_funnel_records_barrier(tmp_path, store_dir):
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage([BVSEMaker()], bvse_gate(0.6, "1D")),
            Stage(
                [CHGNetNEBMaker(min_length_angstrom=5.5, n_images=3, work_dir=str(tmp_path))],
                ThresholdGate("neb_mlip", "barrier_forward_ev", max_value=0.5, unit="eV"),
            ),
        ]
    )
    store = get_job_store(data_dir=store_dir)
    run_locally(
        funnel.make([EXAMPLES / "Li2S_antifluorite.cif"]),
        store=store,
        create_folders=False,
        log=False,
    )
    store.connect()
    (record,) = candidate_repository(store).find({})
    neb = record["tiers"]["neb_mlip"]
    assert record["status"] == "passed", record.get("reason")
    assert record["last_tier"] == "neb_mlip"
    assert 0.05 < neb["barrier_forward_ev"] < 0.5
    assert neb["converged"] and neb["hops"][0]["images"]
    # the NEB tier used the BVSE tier's stored grid of this candidate, not a recomputation
    bvse_uuid = record["tiers"]["bvse"]["job_uuid"]
    assert neb["bvse_landscape_source"] == f"stored grid {bvse_uuid}"
    assert neb["bvse_grid_job_uuid"] == bvse_uuid and neb["bvse_landscape_note"] is None
    # queryable like any other tier field
    hits = candidate_repository(store).find({"tiers.neb_mlip.barrier_forward_ev": {"$lt": 0.5}})
    assert [r["candidate_id"] for r in hits] == [record["candidate_id"]]
