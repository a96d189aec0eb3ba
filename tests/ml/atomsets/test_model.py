import json

import numpy as np
import pytest

from sseflow.ml import evaluation as E  # noqa: N812
from sseflow.ml.atomsets import model as A  # noqa: N812


def test_labels():
    assert A.superionic_label("<1E-10") == 0
    assert A.superionic_label("1.58489e-06") == 0
    assert A.superionic_label("1e-4") == 1
    assert A.superionic_label("2.5E-3") == 1
    assert A.parse_conductivity_s_per_cm("<1E-8") == (1e-8, True)
    with pytest.raises(ValueError, match="does not decide"):
        A.superionic_label("<1E-3")


def test_applicability_domain():
    rng = np.random.default_rng(0)
    train = [rng.normal(size=(int(rng.integers(2, 6)), 4)) for _ in range(30)]
    domain = A.ApplicabilityDomain.fit(train)
    np.testing.assert_allclose(domain.distance(train[:5]), 0.0, atol=1e-9)
    far = [np.full((3, 4), 50.0)]
    assert domain.distance(far)[0] > domain.distance([train[0] + 0.1])[0] > 0
    again = A.ApplicabilityDomain.from_arrays(domain.to_arrays())
    np.testing.assert_allclose(again.distance(far), domain.distance(far))


@pytest.fixture(scope="module")
def obelix_subset():
    import csv

    with open(A.default_training_table(), newline="") as handle:
        rows = list(csv.DictReader(handle))
    cifs = A.default_training_table().parent / "cifs"
    rows = [r for r in rows if (cifs / f"{r['ID']}.cif").is_file()]
    label = {r["ID"]: A.superionic_label(r["Ionic conductivity (S cm-1)"]) for r in rows}
    rng = np.random.default_rng(0)
    pos = rng.choice(sorted(i for i, v in label.items() if v == 1), 32, replace=False)
    neg = rng.choice(sorted(i for i, v in label.items() if v == 0), 48, replace=False)
    data = A.load_label_table(A.default_training_table(), only_ids=[*pos, *neg])
    order = np.argsort(-data.labels, kind="stable")  # superionic first
    settings = A.FeatureSettings()
    feats = A.featurize([data.structures[i] for i in order], settings)
    return feats, data.labels[order], [data.ids[i] for i in order], settings


def test_featurize_camns(obelix_subset):
    feats, _, _, settings = obelix_subset
    assert all(f.shape[1] == settings.input_dim == 32 for f in feats)


@pytest.mark.slow
def test_training_beats_shuffled_control(obelix_subset):
    feats, y, _, settings = obelix_subset
    hyper = A.CANDIDATE_HYPERPARAMETER_SETS[3]
    fit_predict = E.atomsets_fit_predict(feats, y, [hyper], [0], settings.input_dim)
    splits = E.stratified_kfold_splits(y, 3, seed=0)[:1]
    fold = E.cross_validate(y, splits, fit_predict)["folds"][0]
    assert fold["model"]["auc_pr"] > fold["controls"]["shuffled"]["auc_pr"] + 0.15
    assert fold["model"]["auc_pr"] > fold["controls"]["mean"]["auc_pr"] + 0.15


def test_save_load_round_trip(obelix_subset, tmp_path):
    feats, y, ids, settings = obelix_subset
    hyper = A.AtomSetsHyperparameters(n_neurons=16, epochs=2, batch_size=16)
    sub = list(range(12)) + list(range(32, 44))  # 12 superionic + 12 not
    train_x, train_y, train_ids = [feats[i] for i in sub], y[sub], [ids[i] for i in sub]
    ens = A.train_ensemble(train_x, train_y, settings, [hyper], [0, 1], train_ids)
    before = ens.predict_features(feats[60:70])
    ens.save(tmp_path / "model", model_version="test-v1")
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["model_version"] == "test-v1"
    assert manifest["feature_settings"]["simplification"] == "CAMNS"
    assert [m["seed"] for m in manifest["members"]] == [0, 1]
    assert manifest["training"]["data_sha256"] == A.training_data_hash(train_ids, train_y)
    loaded = A.AtomSetsEnsemble.load(tmp_path / "model")
    after = loaded.predict_features(feats[60:70])
    np.testing.assert_array_equal(before.p_si, after.p_si)
    np.testing.assert_array_equal(before.d_training, after.d_training)
    assert before.member_probabilities.shape == (2, 10)
    assert np.all((after.p_si >= 0) & (after.p_si <= 1))


def test_load_errors(tmp_path):
    with pytest.raises(A.ModelArtifactError, match="manifest"):
        A.AtomSetsEnsemble.load(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 99}))
    with pytest.raises(A.ModelArtifactError, match="format"):
        A.AtomSetsEnsemble.load(tmp_path)


def test_shipped_default_ensemble():
    model_dir = A.default_model_dir()
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert size < 3e6
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model_version"] == "atomsets_v1_camns"
    assert manifest["training"]["n_samples"] == 254
    assert manifest["feature_settings"]["simplification"] == "CAMNS"
    assert manifest["metrics"]["loco_best_set"]["model_auc_pr"]["mean"] > 0
    ens = A.load_default_ensemble()
    assert len(ens.members) == len(manifest["members"]) >= 3
    # five superionic vs five poor conductors of its own training set (in-sample check)
    fast, slow = ["1kq", "13q", "11b", "cy2", "s3h"], ["47i", "4kt", "3rx", "b4c", "883"]
    data = A.load_label_table(A.default_training_table(), only_ids=fast + slow)
    scores = dict(zip(data.ids, A.score_structures(data.structures, ens), strict=True))
    assert np.mean([scores[i].p_si for i in fast]) > np.mean([scores[i].p_si for i in slow]) + 0.2
    assert all(s.d_training < 1e-3 for s in scores.values())  # training structures
