"""The Python API: ``sseflow.screen`` and its results, Makers that take Structures."""

import pytest
from jobflow import run_locally

import sseflow
from sseflow.bvse.jobs import BVSEMaker
from sseflow.common.candidate import Candidate
from sseflow.funnel.options import FunnelOptionError
from sseflow.ingest.batch import ingest
from tests.conftest import EXAMPLES, antifluorite


def test_screen_returns_ranked_results(tmp_path):
    results = sseflow.screen(
        [EXAMPLES / "Li2S_antifluorite.cif", antifluorite(6.517, "Te"), tmp_path / "nothing.cif"],
        data_dir=tmp_path / "db",
        skip=("ml",),
        until="bvse",
    )
    assert len(results) == 3
    frame = results.to_dataframe()
    assert list(frame["formula"])[:2] == ["Li2Te", "Li2S"]  # lowest BVSE barrier first
    assert list(frame["rank"])[:2] == [1, 2] and frame["rank"].isna().iloc[2]
    assert frame.loc[frame.index[0], "bvse_ea_ev"] < frame.loc[frame.index[1], "bvse_ea_ev"]
    best = next(iter(results))
    assert best.deepest_passed_tier == "bvse" and best.barrier_source == "bvse"
    assert results.structure(best.candidate_id).composition.reduced_formula == "Li2Te"
    assert results.record(best.candidate_id)["tiers"]["bvse"]["status"] == "passed"
    assert results.pending == []
    with pytest.raises(FunnelOptionError, match="neb_top_n"):
        sseflow.screen([], data_dir=tmp_path / "db", until="bvse", neb_top_n=3)


def test_makers_take_a_structure_and_candidate_from_structure(li2s):
    candidate = Candidate.from_structure(li2s)
    assert candidate.candidate_id == ingest([li2s]).accepted[0].candidate_id
    assert candidate.oxidation_states == {"Li": 1.0, "S": -2.0}
    job = BVSEMaker(resolution_angstrom=0.3).make(li2s)  # a Structure, not a Candidate
    responses = run_locally(job, log=False, create_folders=False)
    doc = responses[job.uuid][1].output
    assert doc.candidate_id == candidate.candidate_id and 0.2 < doc.ea_1d_ev < 0.5
    na2s = antifluorite(6.5, "S")
    na2s.replace_species({"Li": "Na"})
    with pytest.raises(ValueError, match="no Li"):
        Candidate.from_structure(na2s)
