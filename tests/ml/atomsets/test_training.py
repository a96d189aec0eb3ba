import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from jobflow import run_locally

from sseflow.ml.atomsets.ensemble import AtomSetsEnsemble
from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.network import AtomSetsHyperparameters
from sseflow.ml.atomsets.training import AtomSetsTrainingMaker

OBELIX = Path(__file__).resolve().parents[3] / "src/sseflow/data/obelix"


@pytest.mark.slow
def test_training_flow_with_cv(tmp_path):
    ids = ["47i", "0iv", "11b", "1e9", "3rx", "5bz", "4kt", "883", "1kq", "13q"]
    with open(OBELIX / "train.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["ID"] in ids]
    (tmp_path / "cifs").mkdir()
    for r in rows:
        shutil.copy(OBELIX / "cifs" / f"{r['ID']}.cif", tmp_path / "cifs")
    labels = tmp_path / "train.csv"
    with open(labels, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    maker = AtomSetsTrainingMaker(
        feature_settings=FeatureSettings(level=0, simplification="CAN"),
        hyperparameter_sets=[AtomSetsHyperparameters(n_neurons=8, epochs=1, batch_size=8)],
        seeds=[0],
        loco=False,
        n_splits=2,
        model_version="flow-test",
    )
    flow = maker.make(labels, tmp_path / "model")
    assert [j.name for j in flow.jobs] == ["featurize", "cross-validate", "train ensemble"]
    responses = run_locally(flow, log=False, ensure_success=True)
    out = responses[flow.jobs[-1].uuid][1].output
    manifest = json.loads((Path(out["model_dir"]) / "manifest.json").read_text())
    assert manifest["feature_settings"]["simplification"] == "CAN"
    assert manifest["feature_settings"]["input_dim"] == 16
    kfold = manifest["metrics"]["cross_validation"]["kfold"]
    assert kfold["model_auc_pr"]["n"] >= 1 and "shuffled_mcc" in kfold
    ens = AtomSetsEnsemble.load(out["model_dir"])
    assert ens.training["n_samples"] == len(rows)
    assert np.isfinite(ens.domain.training_points).all()
