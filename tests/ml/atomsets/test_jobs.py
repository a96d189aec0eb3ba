import numpy as np
import pytest
from jobflow import run_locally
from monty.json import MontyDecoder
from pymatgen.core import Lattice, Structure

from sseflow.common.candidate import CandidateBatch
from sseflow.ml.atomsets import scoring as A  # noqa: N812
from sseflow.ml.atomsets.jobs import FIRST_DEFAULT_MODEL, AtomSetsMaker
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
    maker = AtomSetsMaker(  # the model shipped with sseflow (model_dir=None)
        band_gap_mode="user",
        user_band_gaps_ev={"li2o": 7.0, "li2o-vac": 0.5},
    )
    assert AtomSetsMaker.batch and AtomSetsMaker.tier == "atomsets"
    assert maker.shipped_model == A.DEFAULT_MODEL_NAME == "psi_v3"
    flow_job = maker.make(cands)
    responses = run_locally(flow_job, log=False, ensure_success=True)
    docs = [AtomSetsDocument.model_validate(d) for d in responses[flow_job.uuid][1].output]
    assert [d.candidate_id for d in docs] == ["li2o", "li2o-vac", "isolated"]
    ok, vac, lone = docs
    assert ok.status == "pending" and 0 <= ok.p_si <= 1 and ok.p_si_std >= 0
    assert ok.d_training >= 0 and ok.band_gap_ev == 7.0 and ok.band_gap_source == "user"
    assert ok.is_ordered and not vac.is_ordered and vac.status == "pending"
    assert ok.model_version == "psi_v3" and ok.features == {**ok.features, "level": 0}
    assert ok.d_composition is not None and ok.d_composition >= 0
    assert ok.p_si_composition is not None and ok.p_si_structure is not None
    assert ok.p_si != vac.p_si
    assert lone.status == "pending"  # V0 features need no bonds
    # a packed batch is scored a chunk at a time and is not kept decoded
    batch = CandidateBatch.from_dict(CandidateBatch(cands).as_dict())
    streamed = AtomSetsMaker(band_gap_mode="user", user_band_gaps_ev=maker.user_band_gaps_ev)
    again = streamed.score(batch)
    assert batch._items is None
    assert [(d.candidate_id, d.status, d.p_si) for d in again] == [
        (d.candidate_id, d.status, d.p_si) for d in docs
    ]
    # the same result as scoring directly
    direct = A.score_structures([c.structure for c in cands[:2]], A.load_default_ensemble())
    np.testing.assert_allclose([ok.p_si, vac.p_si], [s.p_si for s in direct], atol=1e-6)
    # the previous default still loads and scores; its V1 graphs need bonds
    v2 = AtomSetsMaker(band_gap_mode="off", shipped_model="psi_v2").score(cands)
    assert v2[0].model_version == "psi_v2" and v2[0].d_composition is None
    old = AtomSetsMaker(band_gap_mode="off", shipped_model=FIRST_DEFAULT_MODEL).score(cands)
    assert old[0].model_version == FIRST_DEFAULT_MODEL and old[0].features["level"] == 1
    assert old[2].status == "failed" and "no bonds" in old[2].reason


def test_settings_hash_of_the_shipped_model():
    # AtomSetsMaker() before psi_v2 was shipped: its results keep their hash
    old = AtomSetsMaker(shipped_model=FIRST_DEFAULT_MODEL)
    assert old.tier_settings_hash() == "092526df9a31e3d3"
    assert "default_model" not in old.tier_settings()
    new = AtomSetsMaker()
    assert new.tier_settings()["default_model"] == "psi_v3"
    # a Maker of the psi_v2 days names its model: its stored results keep their hash
    v2 = AtomSetsMaker(shipped_model="psi_v2")
    assert MontyDecoder().process_decoded(v2.as_dict()).shipped_model == "psi_v2"
    assert v2.tier_settings_hash() == "d2323cd4a1177793"  # AtomSetsMaker() while psi_v2 shipped
    assert new.tier_settings_hash() != v2.tier_settings_hash()
    assert new.tier_settings_hash() != old.tier_settings_hash()
    # a Maker serialised before the field existed keeps the model of its time
    before = new.as_dict()
    del before["shipped_model"]
    assert MontyDecoder().process_decoded(before).shipped_model == FIRST_DEFAULT_MODEL
    assert MontyDecoder().process_decoded(new.as_dict()).shipped_model == "psi_v3"
    with pytest.raises(ValueError, match="no shipped model 'psi_v9'"):
        AtomSetsMaker(shipped_model="psi_v9")
    # with a model directory, the shipped model plays no part
    user = AtomSetsMaker(model_dir="/models/mine")
    assert "default_model" not in user.tier_settings()
    assert (
        user.tier_settings_hash()
        == AtomSetsMaker(
            model_dir="/models/mine", shipped_model=FIRST_DEFAULT_MODEL
        ).tier_settings_hash()
    )


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
