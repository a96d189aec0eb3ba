import json

import numpy as np

from sseflow.ml.atomsets.scoring import default_model_dir, load_default_ensemble, score_structures
from sseflow.ml.labels import load_obelix_labels


def test_shipped_default_ensemble():
    model_dir = default_model_dir()
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert size < 3e6
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model_version"] == "atomsets_v1_camns"
    assert manifest["training"]["n_samples"] == 254
    assert manifest["feature_settings"]["simplification"] == "CAMNS"
    assert manifest["metrics"]["loco_best_set"]["model_auc_pr"]["mean"] > 0
    ens = load_default_ensemble()
    assert len(ens.members) == len(manifest["members"]) >= 3
    # five superionic vs five poor conductors of its own training set (in-sample check)
    fast, slow = ["1kq", "13q", "11b", "cy2", "s3h"], ["47i", "4kt", "3rx", "b4c", "883"]
    data = load_obelix_labels().subset(fast + slow)
    scores = dict(zip(data.ids, score_structures(data.structures, ens), strict=True))
    assert np.mean([scores[i].p_si for i in fast]) > np.mean([scores[i].p_si for i in slow]) + 0.2
    assert all(s.d_training < 1e-3 for s in scores.values())  # training structures
