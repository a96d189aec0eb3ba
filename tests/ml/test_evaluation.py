import numpy as np
import pytest

from sseflow.ml import evaluation as E  # noqa: N812


def test_metrics_and_controls():
    y = np.array([0, 0, 1, 1, 0, 1])
    perfect = E.binary_metrics(y, y.astype(float))
    assert perfect == {"auc_pr": 1.0, "mcc": 1.0}
    controls = E.control_metrics(np.array([0, 1, 1, 0]), y, seed=0)
    assert controls["mean"]["mcc"] == 0.0
    assert controls["mean"]["auc_pr"] == pytest.approx(0.5)  # prevalence
    assert np.isnan(E.binary_metrics(np.zeros(3, int), np.ones(3))["auc_pr"])


def test_pettifor_emd_and_clusters():
    formulas = ["Li3PS4", "Li7P3S11", "Li6PS5Cl", "Li7La3Zr2O12", "Li6.5La3Zr1.5Ta0.5O12"] * 3
    d = E.pettifor_emd_matrix(formulas[:5])
    assert d[0, 0] == 0 and np.allclose(d, d.T)
    assert d[0, 1] < d[0, 3]  # thiophosphates are closer to each other than to LLZO
    c = E.composition_clusters(formulas, n_clusters=2, min_cluster_size=1)
    assert len(set(c[[0, 1, 2]])) == 1 and len(set(c[[3, 4]])) == 1 and c[0] != c[3]


def test_cross_validate_logistic_beats_controls():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3))
    y = (x[:, 0] + 0.3 * rng.normal(size=120) > 0).astype(int)
    splits = E.stratified_kfold_splits(y, 5, seed=0)
    out = E.cross_validate(y, splits, E.logistic_fit_predict(x, y))
    s = out["summary"]
    assert s["model_auc_pr"]["mean"] > s["shuffled_auc_pr"]["mean"] + 0.3
    assert s["model_mcc"]["mean"] > 0.6
    assert sorted(i for f in out["folds"] for i in f["val_indices"]) == list(range(120))
    loco = E.leave_one_cluster_out_splits(np.repeat([0, 1, 2], 40))
    assert [len(v) for _, v in loco] == [40, 40, 40]
