"""The rank gate: only the N best candidates of a stage go on (MLIP first, DFT for top-N)."""

import pytest
from jobflow import run_locally

from sseflow.bvse.jobs import BVSEMaker
from sseflow.funnel.gates.rank import RankGate
from sseflow.funnel.gates.threshold import bvse_gate
from sseflow.funnel.jobs import _batch_decisions
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES
from tests.funnel.test_funnel import DensityMaker


def stage_docs(barriers: dict[str, float | None]) -> list[dict]:
    return [
        {"neb_mlip": {"candidate_id": cid, "barrier_forward_ev": value}}
        for cid, value in barriers.items()
    ]


def test_top_n_pass_and_the_rest_say_their_rank():
    barriers = {"a": 0.40, "b": 0.12, "c": 0.33, "d": 0.25, "e": 0.90, "f": 0.05, "g": 0.31}
    gate = RankGate("neb_mlip", "barrier_forward_ev", top_n=3)
    decisions = dict(zip(barriers, gate.evaluate_batch(stage_docs(barriers)), strict=True))
    assert {cid for cid, d in decisions.items() if d.passed} == {"f", "b", "d"}
    assert decisions["g"].reason == (
        "rank 4 of 7 by neb_mlip.barrier_forward_ev (lowest first); top 3 pass"
    )
    assert decisions["e"].reason.startswith("rank 7 of 7")


def test_bounds_missing_values_ties_and_descending():
    gate = RankGate("neb_mlip", "barrier_forward_ev", top_n=2, max_value=0.5, unit="eV")
    barriers = {"z": 0.2, "a": 0.2, "m": 0.1, "high": 0.7, "none": None}
    decisions = dict(zip(barriers, gate.evaluate_batch(stage_docs(barriers)), strict=True))
    assert decisions["m"].passed and decisions["a"].passed  # tie broken by candidate id
    assert decisions["z"].reason.startswith("rank 3 of 3")
    assert decisions["high"].reason == "barrier_forward_ev = 0.700 eV > 0.5 eV"
    assert decisions["none"].reason == "neb_mlip.barrier_forward_ev is not available"
    # bounds reject even when fewer than top_n remain; one candidate alone ranks first
    assert not gate.evaluate(stage_docs({"x": 0.6})[0]).passed
    assert gate.evaluate(stage_docs({"x": 0.3})[0]).passed
    best_p = RankGate("atomsets", "p_si", top_n=1, lowest_first=False)
    docs = [{"atomsets": {"candidate_id": c, "p_si": p}} for c, p in [("u", 0.2), ("v", 0.9)]]
    assert [d.passed for d in best_p.evaluate_batch(docs)] == [False, True]
    with pytest.raises(ValueError, match="top_n"):
        RankGate("neb_mlip", "barrier_forward_ev", top_n=0)
    assert RankGate.from_dict(gate.as_dict()) == gate


def test_failed_candidates_are_not_ranked():
    docs = stage_docs({"a": 0.3, "b": 0.1, "c": 0.2})
    docs[1]["neb_mlip"]["status"] = "failed"
    decisions = _batch_decisions(RankGate("neb_mlip", "barrier_forward_ev", top_n=1), docs)
    assert set(decisions) == {0, 2}
    assert decisions[2].passed and decisions[0].reason.startswith("rank 2 of 2")
    assert _batch_decisions(bvse_gate(), docs) is None  # per-candidate gates unchanged


def test_funnel_sends_only_the_top_n_to_the_next_stage(store_dir):
    # densities: Li3N 1.3, Li2S 1.7, Li2O 2.0, Li2Te 3.4 g/cm3 -> Li3N and Li2S go on
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage([DensityMaker()], RankGate("density", "density_g_per_cm3", top_n=2)),
            Stage([BVSEMaker()], bvse_gate()),
        ]
    )
    inputs = [
        EXAMPLES / name
        for name in (
            "Li2O_antifluorite.cif",
            "Li2S_antifluorite.cif",
            "Li2Te_antifluorite.cif",
            "Li3N_alpha.cif",
        )
    ]
    store = get_job_store(data_dir=store_dir)
    run_locally(funnel.make(inputs), store=store, create_folders=False, log=False)
    store.connect()
    records = {r["formula"]: r for r in candidate_repository(store).find({})}
    assert set(records["Li3N"]["tiers"]) == {"ingest", "density", "bvse"}
    assert set(records["Li2S"]["tiers"]) == {"ingest", "density", "bvse"}
    li2o = records["Li2O"]
    assert li2o["status"] == "rejected" and "bvse" not in li2o["tiers"]
    assert li2o["reason"] == ("rank 3 of 4 by density.density_g_per_cm3 (lowest first); top 2 pass")
    assert records["Li2Te"]["reason"].startswith("rank 4 of 4")


def test_yaml_example_in_the_docs_builds_the_mlip_then_dft_funnel(tmp_path):
    from sseflow.funnel.config import load_funnel
    from sseflow.neb.jobs import CHGNetNEBMaker
    from sseflow.qe.calculator import QESettings
    from sseflow.qe.jobs import QENEBMaker
    from tests.conftest import REPO

    text = (REPO / "docs" / "neb.md").read_text()
    section = text[text.index("## MLIP first, DFT for the top-N") :]
    start = section.index("```yaml\n") + len("```yaml\n")
    block = section[start : section.index("```", start)]
    (tmp_path / "funnel.yaml").write_text(block)
    funnel = load_funnel(tmp_path / "funnel.yaml")
    bvse, mlip, dft = funnel.stages
    assert bvse.tiers == ["bvse"] and isinstance(mlip.makers[0], CHGNetNEBMaker)
    assert mlip.gate == RankGate(
        "neb_mlip", "barrier_forward_ev", top_n=10, max_value=0.8, unit="eV"
    )
    maker = dft.makers[0]
    assert isinstance(maker, QENEBMaker) and isinstance(maker.qe, QESettings)
    assert maker.neb.endpoint_fmax_ev_per_angstrom == 3e-4
    assert maker.qe.conv_thr_ry == 1e-10 and maker.qe.mpi_command == "srun"
    # the funnel (and so its settings) serialises for jobflow/FireWorks
    assert funnel.make([tmp_path / "x.cif"]).as_dict()
