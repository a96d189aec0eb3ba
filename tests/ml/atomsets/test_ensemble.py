import json

import numpy as np
import pytest

from sseflow.ml.atomsets.ensemble import (
    ApplicabilityDomain,
    AtomSetsEnsemble,
    ModelArtifactError,
    train_ensemble,
    training_data_hash,
)
from sseflow.ml.atomsets.network import AtomSetsHyperparameters


def test_applicability_domain():
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(int(rng.integers(2, 6)), 4)) for _ in range(30)]
    domain = ApplicabilityDomain.fit(train)
    np.testing.assert_allclose(domain.distance(train[:5]), 0.0, atol=1e-9)
    far = [np.full((3, 4), 50.0)]
    assert domain.distance(far)[0] > domain.distance([train[0] + 0.1])[0] > 0
    again = ApplicabilityDomain.from_arrays(domain.to_arrays())
    np.testing.assert_allclose(again.distance(far), domain.distance(far))
    # blocks of rows give the distances of one pass
    many = [rng.normal(size=(3, 4)) for _ in range(10)]
    np.testing.assert_array_equal(domain.distance(many, block=3), domain.distance(many))


def test_save_load_round_trip(obelix_subset, tmp_path):
    feats, y, ids, settings = obelix_subset
    hyper = AtomSetsHyperparameters(n_neurons=16, epochs=2, batch_size=16)
    sub = list(range(12)) + list(range(32, 44))  # 12 superionic + 12 not
    train_x, train_y, train_ids = [feats[i] for i in sub], y[sub], [ids[i] for i in sub]
    ens = train_ensemble(train_x, train_y, settings, [hyper], [0, 1], train_ids)
    before = ens.predict_features(feats[60:70])
    ens.save(tmp_path / "model", model_version="test-v1")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["model_version"] == "test-v1"
    assert manifest["feature_settings"]["simplification"] == "CAMNS"
    assert [m["seed"] for m in manifest["members"]] == [0, 1]
    assert manifest["training"]["data_sha256"] == training_data_hash(train_ids, train_y)
    loaded = AtomSetsEnsemble.load(tmp_path / "model")
    after = loaded.predict_features(feats[60:70])
    np.testing.assert_array_equal(before.p_si, after.p_si)
    np.testing.assert_array_equal(before.d_training, after.d_training)
    assert before.member_probabilities.shape == (2, 10)
    assert np.all((after.p_si >= 0) & (after.p_si <= 1))


def test_load_errors(tmp_path):
    with pytest.raises(ModelArtifactError, match="manifest"):
        AtomSetsEnsemble.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ModelArtifactError, match="format"):
        AtomSetsEnsemble.load(tmp_path)
