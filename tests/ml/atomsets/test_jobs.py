import numpy as np
import pytest
from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sseflow.ml.atomsets import scoring as A  # noqa: N812
from sseflow.ml.atomsets.jobs import AtomSetsMaker
from sseflow.ml.atomsets.schemas import AtomSetsDocument
from tests.conftest import EXAMPLES, memory_candidate


def test_maker_batch_documents():
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25] * 3]
    )
    disordered = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", {"Li": 0.75}], [[0, 0, 0], [0.25] * 3]
    )
    isolated = Structure(Lattice.cubic(15.0), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    cands = [
        memory_candidate("li2o", li2o),
        memory_candidate("li2o-vac", disordered, {"Li": 1, "O": -2}),
        memory_candidate("isolated", isolated),
    ]
    maker = AtomSetsMaker(  # the ensemble shipped with sseflow (model_dir=None)
        band_gap_mode="user",
        user_band_gaps_ev={"li2o": 7.0, "li2o-vac": 0.5},
    )
    assert AtomSetsMaker.batch and AtomSetsMaker.tier == "atomsets"
    flow_job = maker.make(cands)
    responses = run_locally(flow_job, log=False, ensure_success=True)
    docs = [AtomSetsDocument.model_validate(d) for d in responses[flow_job.uuid][1].output]
    assert [d.candidate_id for d in docs] == ["li2o", "li2o-vac", "isolated"]
    ok, vac, bad = docs
    assert ok.status == "pending" and 0 <= ok.p_si <= 1 and ok.p_si_std >= 0
    assert ok.d_training >= 0 and ok.band_gap_ev == 7.0 and ok.band_gap_source == "user"
    assert ok.is_ordered and not vac.is_ordered and vac.status == "pending"
    assert ok.model_version == "atomsets_v1_camns" and ok.features["simplification"] == "CAMNS"
    assert ok.p_si != vac.p_si
    assert bad.status == "failed" and "no bonds" in bad.reason
    # the same result as scoring directly
    direct = A.score_structures([c.structure for c in cands[:2]], A.load_default_ensemble())
    np.testing.assert_allclose([ok.p_si, vac.p_si], [s.p_si for s in direct], atol=1e-6)


@pytest.mark.slow
def test_maker_predicts_band_gaps():
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25] * 3]
    )
    li3n = Structure.from_file(EXAMPLES / "Li3N_alpha.cif")
    maker = AtomSetsMaker(user_band_gaps_ev={"li3n": 1.1})  # band_gap_mode="predict"
    job = maker.make([memory_candidate("li2o", li2o), memory_candidate("li3n", li3n)])
    responses = run_locally(job, log=False, ensure_success=True)
    li2o_doc, li3n_doc = (AtomSetsDocument.model_validate(d) for d in responses[job.uuid][1].output)
    assert li2o_doc.band_gap_source.startswith("megnet-mf_2020")
    assert li2o_doc.band_gap_ev > 3.0 and li2o_doc.band_gap_std_ev >= 0
    assert li3n_doc.band_gap_source == "user" and li3n_doc.band_gap_ev == 1.1
