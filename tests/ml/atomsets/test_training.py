import json
from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.selection import SelectionSettings
from sseflow.ml.atomsets.stack import PSIModel
from sseflow.ml.atomsets.training import AtomSetsTrainingMaker
from tests.ml.label_tables import obelix_form

#: 10 + 1 superionic, 10 + 1 not; dj2 and 7se have no CIF (composition only).
IDS = ["019", "09w", "10s", "11b", "122", "13q", "1dm", "1kq", "1m8", "1xf"]
IDS += ["00x", "0fh", "0iv", "0o6", "1e9", "1xt", "20k", "240", "2t8", "3nb", "dj2", "7se"]


@pytest.mark.slow
def test_training_flow_with_nested_cv(tmp_path):
    labels = obelix_form(tmp_path / "labels", IDS)
    maker = AtomSetsTrainingMaker(
        selection=SelectionSettings(
            inner_folds=2,
            n_pooled=1,
            n_atomsets=1,
            keep_after_first_fold=1,
            top_k=1,
            seeds=(0,),
            max_epochs=1,
            variants=(FeatureSettings(0, "CAN"),),
            n_composition=2,
            max_trees=20,
        ),
        loco=False,
        n_splits=2,
        model_version="flow-test",
    )
    flow = maker.make(labels, tmp_path / "model")
    assert [j.name for j in flow.jobs] == ["featurize", "cross-validate", "train model"]
    responses = run_locally(flow, log=False, ensure_success=True)
    out = responses[flow.jobs[-1].uuid][1].output
    manifest = json.loads((Path(out["model_dir"]) / "manifest.json").read_text())
    assert manifest["feature_settings"]["simplification"] == "CAN"
    assert manifest["feature_settings"]["input_dim"] == 16
    kfold = manifest["metrics"]["nested_cv"]["kfold"]["structures"]
    assert kfold["model_auc_pr"]["n"] >= 1 and "shuffled_mcc" in kfold
    model = PSIModel.load(out["model_dir"])
    assert model.training["n_samples"] == len(IDS)
    assert model.training["n_with_structure"] == len(IDS) - 2
    assert np.isfinite(model.domain.training_points).all()
