from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from jobflow import CURRENT_JOB, job, run_locally
from pydantic import Field

from sseflow.bvse.jobs import BVSEMaker
from sseflow.common.document import TierDocument
from sseflow.common.maker import TierMaker, run_tier
from sseflow.funnel.gates.threshold import ThresholdGate, bvse_gate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES, TEST_GATE_EV


class DensityDocument(TierDocument):
    tier: str = "density"
    density_g_per_cm3: float | None = Field(None)


@dataclass
class DensityMaker(TierMaker):
    """A user-defined tier: added to the funnel without touching funnel code."""

    name: str = "density"
    tier: ClassVar[str] = "density"

    def make(self, candidate):
        return density_job(candidate, self)


@job
def density_job(candidate, maker):
    return run_tier(
        DensityDocument,
        maker.tier,
        candidate.candidate_id,
        maker.tier_settings(),
        ["pymatgen"],
        lambda: {"density_g_per_cm3": float(candidate.structure.density)},
        job_uuid=CURRENT_JOB.job.uuid,
    )


def _run(flow, store):
    return run_locally(flow, store=store, create_folders=False, log=False)


def test_funnel_on_embedded_store_records_every_input(tmp_path, store_dir):
    (tmp_path / "broken.cif").write_text("not a cif")
    inputs = [
        EXAMPLES / "Li2S_antifluorite.cif",
        EXAMPLES / "Li3N_alpha.cif",
        EXAMPLES / "obelix_jqc.cif",  # Li7BiO6: E_1D ~0.61 eV > TEST_GATE_EV
        EXAMPLES / "obelix_gvd.cif",  # same crystal as Li3N_alpha -> merged
        tmp_path / "broken.cif",
    ]
    store = get_job_store(data_dir=store_dir)
    funnel = ScreeningFunnelMaker(stages=[Stage([BVSEMaker()], bvse_gate(TEST_GATE_EV))])
    _run(funnel.make(inputs), store)
    store.connect()
    repo = candidate_repository(store)
    records = {r["formula"]: r for r in repo.find({})}
    assert records["Li2S"]["status"] == "passed"
    assert 0.2 < records["Li2S"]["tiers"]["bvse"]["ea_1d_ev"] < 0.45
    assert records["Li7BiO6"]["status"] == "rejected"
    assert f"> {TEST_GATE_EV} eV" in records["Li7BiO6"]["reason"]
    assert len(records["Li3N"]["sources"]) == 2
    (broken,) = repo.find({"tiers.ingest.status": "rejected"})
    assert "unreadable CIF" in broken["reason"]
    bvse = records["Li2S"]["tiers"]["bvse"]
    assert bvse["software"]["bvlain"] and bvse["settings"]["occupancy_mode"] == "weighted"
    assert bvse["wall_time_s"] > 0 and bvse["settings_hash"]
    assert "grid" not in bvse and bvse["grid_shape"] == [28, 28, 28]
    # the plain Mongo query from the README
    low = repo.find({"tiers.bvse.ea_1d_ev": {"$lt": 0.4}}, projection={"formula": 1})
    assert {r["formula"] for r in low} == {"Li2S", "Li3N"}
    # the grid is kept in the data store for the CI-NEB tier
    output = store.get_output(bvse["job_uuid"], load=True)
    assert output["grid"]["shape"] == [28, 28, 28]


def test_rerun_reuses_finished_work_and_new_gate_rejudges(store_dir):
    inputs = [EXAMPLES / "Li2S_antifluorite.cif"]
    store = get_job_store(data_dir=store_dir)
    _run(ScreeningFunnelMaker().make(inputs), store)
    strict = ScreeningFunnelMaker(stages=[Stage([BVSEMaker()], bvse_gate(0.3, "1D"))])
    responses = _run(strict.make(inputs), store)
    summaries = [
        r[1].output for r in responses.values() if type(r[1].output).__name__ == "StageSummary"
    ]
    (summary,) = summaries
    assert summary.reused and summary.rejected == summary.reused
    store.connect()
    (record,) = candidate_repository(store).find({})
    assert record["status"] == "rejected"


def test_custom_stage_plugs_in_and_failures_do_not_stop_the_batch(store_dir):
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage([DensityMaker()], ThresholdGate("density", "density_g_per_cm3", max_value=2.5)),
            Stage([BVSEMaker(memory_limit_gb=1e-6)], bvse_gate()),  # forced failure
        ]
    )
    store = get_job_store(data_dir=store_dir)
    _run(
        funnel.make([EXAMPLES / "Li2O_antifluorite.cif", EXAMPLES / "Li2Te_antifluorite.cif"]),
        store,
    )
    store.connect()
    records = {r["formula"]: r for r in candidate_repository(store).find({})}
    assert records["Li2Te"]["status"] == "rejected"  # Li2Te ~3.4 g/cm3 > 2.5, Li2O ~2.0 passes
    assert records["Li2Te"]["last_tier"] == "density"
    li2o = records["Li2O"]
    assert li2o["tiers"]["density"]["status"] == "passed"
    assert li2o["status"] == "failed" and "memory_limit_gb" in li2o["reason"]


@pytest.mark.slow
def test_dft_stage_runs_inside_the_funnel(tmp_path, store_dir):
    """The README's DFT example at small size: BVSE, then a Quantum ESPRESSO stage (real
    pw.x, small pseudopotentials) gated on the residual force, through the local runner."""
    from sseflow.funnel.run import run_funnel
    from sseflow.qe.calculator import QESettings
    from sseflow.qe.jobs import QERelaxMaker

    qe = QESettings(
        pseudo_dir=str(Path(__file__).parents[1] / "data" / "pseudo"),
        ecutwfc_ry=30.0,
        kpoints=(2, 2, 2),
    )
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage([BVSEMaker()], bvse_gate(TEST_GATE_EV, "1D")),
            Stage(
                [QERelaxMaker(qe=qe, work_dir=str(tmp_path))],
                ThresholdGate("qe_relax", "max_force_ev_per_angstrom", max_value=0.05),
            ),
        ]
    )
    store = get_job_store(data_dir=store_dir)
    inputs = [EXAMPLES / "Li2S_antifluorite.cif", EXAMPLES / "obelix_jqc.cif"]
    result = run_funnel(funnel.make(inputs), store, workers=0)
    assert result.ok, result.errors
    store.connect()
    records = {r["formula"]: r for r in candidate_repository(store).find({})}
    li2s = records["Li2S"]
    assert li2s["status"] == "passed" and li2s["last_tier"] == "qe_relax", li2s.get("reason")
    relax = li2s["tiers"]["qe_relax"]
    assert relax["converged"] and relax["max_force_ev_per_angstrom"] < 0.05
    assert relax["qe_version"][0].isdigit() and set(relax["pseudopotentials"]) == {"Li", "S"}
    # the rejected candidate never reached DFT
    assert (
        records["Li7BiO6"]["last_tier"] == "bvse" and "qe_relax" not in records["Li7BiO6"]["tiers"]
    )
