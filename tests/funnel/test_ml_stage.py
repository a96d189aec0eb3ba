from jobflow import run_locally

from sseflow.funnel.gates.ml_policy import MLPolicyGate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.ml.atomsets.jobs import AtomSetsMaker
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES


def test_atomsets_stage_in_the_funnel(store_dir):
    threshold = 0.5
    funnel = ScreeningFunnelMaker(
        stages=[
            Stage(
                [AtomSetsMaker(band_gap_mode="off")],
                MLPolicyGate(policy="p_si_only", p_si_threshold=threshold),
            )
        ]
    )
    inputs = [EXAMPLES / "Li2S_antifluorite.cif", EXAMPLES / "obelix_47i.cif"]
    store = get_job_store(data_dir=store_dir)
    run_locally(funnel.make(inputs), store=store, create_folders=False, log=False)
    store.connect()
    records = list(candidate_repository(store).find({}))
    assert len(records) == 2
    for record in records:
        doc = record["tiers"]["atomsets"]
        assert 0.0 <= doc["p_si"] <= 1.0 and doc["d_training"] >= 0
        assert doc["model_version"] == "psi_v3"
        assert doc["band_gap_ev"] is None
        expected = "passed" if doc["p_si"] >= threshold else "rejected"
        assert doc["status"] == expected == record["status"]


def test_ml_stage_uses_the_shipped_model_and_the_chosen_policy():
    from sseflow.funnel import ml_stage
    from sseflow.ml.atomsets.scoring import DEFAULT_MODEL_NAME
    from sseflow.ml.policy import DEFAULT_POLICY

    stage = ml_stage()
    gate = stage.gate
    assert (gate.policy, gate.p_si_threshold, gate.band_gap_min_ev) == (
        DEFAULT_POLICY.policy,
        DEFAULT_POLICY.p_si_threshold,
        DEFAULT_POLICY.band_gap_min_ev,
    )
    soap, atomsets = stage.makers  # SOAP selection recorded (shortlist), not gated on
    assert soap.tier == "soap_clustering" and ml_stage(soap_selection=False).tiers == ["atomsets"]
    assert atomsets.model_dir is None and atomsets.shipped_model == DEFAULT_MODEL_NAME
    assert atomsets.band_gap_mode == "off"  # the default gate does not test band gaps
    both = ml_stage(MLPolicyGate(policy="any", band_gap_min_ev=1.0))
    assert both.tiers == ["soap_clustering", "atomsets"]
    assert both.makers[1].band_gap_mode == "predict"
