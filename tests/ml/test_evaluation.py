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


def test_bootstrap_fold_means_is_paired():
    rng = np.random.default_rng(3)
    labels = np.array([1] * 12 + [0] * 28)
    splits = [
        (np.arange(20, 40), np.arange(0, 40, 2)),
        (np.arange(0, 20), np.arange(1, 40, 2)),
    ]
    informative = labels + rng.normal(0, 0.6, 40)
    noise = rng.normal(0, 1, 40)
    scores = {"informative": informative, "noise": noise, "partial": noise.copy()}
    scores["partial"][5] = np.nan  # a row one model did not score leaves all of them
    means = E.bootstrap_fold_means(labels, scores, splits, n_resamples=200, seed=1)
    assert set(means) == {"informative", "noise", "partial"}
    assert all(len(v) == 200 for v in means.values())
    # paired: the same resamples for every model (and row 5 left out for all), so
    # identical scores give identical means replicate by replicate
    np.testing.assert_array_equal(means["noise"], means["partial"])
    alone = E.bootstrap_fold_means(labels, {"noise": noise}, splits, n_resamples=200, seed=1)
    assert not np.array_equal(alone["noise"], means["noise"])  # row 5 counted there
    # the informative model is better in (nearly) every replicate, and its spread is real
    assert np.mean(means["informative"] > means["noise"]) > 0.95
    assert means["informative"].std() > 0
    # the unresampled mean lies inside the bootstrap range
    point = np.mean([E.binary_metrics(labels[va], informative[va])["auc_pr"] for _, va in splits])
    assert means["informative"].min() <= point <= means["informative"].max()


def test_bootstrap_fold_means_resamples_the_folds_on_request():
    # fold 0 ranked perfectly, fold 1 inverted: only drawing fold 0 twice gives a mean of 1
    labels = np.array([1, 1, 0, 0, 0, 0] * 2)
    score = np.array([0.9, 0.8, 0.1, 0.2, 0.3, 0.1, 0.1, 0.2, 0.9, 0.8, 0.7, 0.9])
    splits = [(np.arange(6, 12), np.arange(6)), (np.arange(6), np.arange(6, 12))]
    rows = E.bootstrap_fold_means(labels, {"m": score}, splits, n_resamples=100)["m"]
    both = E.bootstrap_fold_means(
        labels, {"m": score}, splits, n_resamples=100, resample_folds=True
    )["m"]
    assert rows.max() < 1.0 and np.isclose(both.max(), 1.0)
    assert both.min() < rows.min()  # fold 1 drawn twice
    none = E.bootstrap_fold_means(np.zeros(12, int), {"m": score}, splits, n_resamples=5)
    assert np.isnan(none["m"]).all()  # no positives anywhere: undefined, not 0
