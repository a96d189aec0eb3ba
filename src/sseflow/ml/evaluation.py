"""Cross-validation of superionic classifiers: k-fold and leave-one-cluster-out (LOCO).

Metrics are those of McHaffie et al.: area under the precision-recall curve (AUC-PR,
scikit-learn's average precision) and Matthews correlation coefficient (MCC, threshold
0.5), each with two controls computed on the same validation fold:

- *shuffled*: the validation labels, randomly permuted, used as predictions;
- *mean*: the training-set fraction of superionic structures predicted for every
  validation structure (AUC-PR = validation prevalence, MCC = 0).

Clusters for LOCO. The paper clustered compositions with ElMD + UMAP + DBSCAN. ElMD
0.5.15 does not import here (it needs ``pkg_resources``, removed from setuptools>=81)
and is GPL-licensed, so we use a documented substitute with the same idea:
the earth mover's distance between compositions on Pettifor's chemical scale (each
element at its ``Element.mendeleev_no``, mass = atomic fraction; 1-D EMD computed
exactly by ``scipy.stats.wasserstein_distance``), followed by deterministic
average-linkage agglomerative clustering of that distance matrix (scikit-learn) into
``n_clusters`` groups - no UMAP/DBSCAN randomness or noise points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from pymatgen.core import Composition, Element

FitPredict = Callable[[np.ndarray, np.ndarray], np.ndarray]


def pettifor_emd_matrix(compositions: Sequence[Composition | str]) -> np.ndarray:
    """Return pairwise composition distances (EMD on Pettifor's scale).

    Parameters
    ----------
    compositions
        Compositions or formulas (fractional amounts fine).

    Returns
    -------
    numpy.ndarray
        Symmetric ``(n, n)`` matrix in units of Pettifor (Mendeleev) number.
    """
    from scipy.stats import wasserstein_distance

    positions, weights = [], []
    for comp in compositions:
        comp = Composition(comp)
        frac = comp.fractional_composition
        positions.append(np.array([Element(e.symbol).mendeleev_no for e in frac], dtype=float))
        weights.append(np.array([frac[e] for e in frac], dtype=float))
    n = len(positions)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            d = wasserstein_distance(positions[i], positions[j], weights[i], weights[j])
            out[i, j] = out[j, i] = d
    return out


def composition_clusters(
    compositions: Sequence[Composition | str], n_clusters: int = 12, min_cluster_size: int = 10
) -> np.ndarray:
    """Cluster compositions for leave-one-cluster-out CV (see module docstring).

    Clusters smaller than ``min_cluster_size`` (outliers that average linkage leaves on
    their own) are merged into the cluster with the smallest mean distance to them, so
    fewer than ``n_clusters`` clusters may remain.

    Returns
    -------
    numpy.ndarray
        Cluster index per composition, renumbered 0..k-1 by decreasing size.
    """
    from sklearn.cluster import AgglomerativeClustering

    distances = pettifor_emd_matrix(compositions)
    if len(distances) < 2:
        return np.zeros(len(distances), dtype=int)
    model = AgglomerativeClustering(
        n_clusters=min(n_clusters, len(distances)), metric="precomputed", linkage="average"
    )
    labels = model.fit_predict(distances)
    while True:
        ids, counts = np.unique(labels, return_counts=True)
        small = ids[counts < min_cluster_size]
        if not len(small) or len(ids) == 1:
            break
        c = small[np.argmin(counts[counts < min_cluster_size])]
        others = [k for k in ids if k != c]
        mean_d = [distances[np.ix_(labels == c, labels == k)].mean() for k in others]
        labels[labels == c] = others[int(np.argmin(mean_d))]
    ids, counts = np.unique(labels, return_counts=True)
    order = ids[np.argsort(-counts, kind="stable")]
    rank = {int(k): r for r, k in enumerate(order)}
    return np.array([rank[int(k)] for k in labels])


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Return AUC-PR and MCC (threshold 0.5); AUC-PR is NaN without positives."""
    from sklearn.metrics import average_precision_score, matthews_corrcoef

    labels = np.asarray(labels, dtype=int)
    probabilities = np.asarray(probabilities, dtype=float)
    auc_pr = float(average_precision_score(labels, probabilities)) if labels.any() else float("nan")
    mcc = float(matthews_corrcoef(labels, (probabilities >= 0.5).astype(int)))
    return {"auc_pr": auc_pr, "mcc": mcc}


def control_metrics(
    train_labels: np.ndarray, val_labels: np.ndarray, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Return the shuffled-label and training-mean controls for one validation fold."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(np.asarray(val_labels, dtype=float))
    mean = np.full(len(val_labels), float(np.mean(train_labels)))
    return {
        "shuffled": binary_metrics(val_labels, shuffled),
        "mean": binary_metrics(val_labels, mean),
    }


def stratified_kfold_splits(
    labels: np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, validation) index pairs of a shuffled stratified k-fold."""
    from sklearn.model_selection import StratifiedKFold

    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))


def grouped_stratified_kfold_splits(
    labels: np.ndarray, groups: Sequence[str], n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, validation) index pairs of a shuffled stratified k-fold by group.

    Rows of the same group (e.g. the same reduced formula: OBELiX holds several
    measurements of one compound) always fall in the same fold, so a compound is never
    scored by a model trained on its own twin.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return [
        (np.asarray(tr), np.asarray(va))
        for tr, va in splitter.split(np.zeros(len(labels)), labels, np.asarray(groups))
    ]


def leave_one_cluster_out_splits(clusters: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (train, validation) index pairs, one per cluster."""
    clusters = np.asarray(clusters)
    idx = np.arange(len(clusters))
    return [(idx[clusters != c], idx[clusters == c]) for c in np.unique(clusters)]


def _summary(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if not len(arr):
        return {"mean": float("nan"), "std": float("nan"), "n": 0}
    return {"mean": float(arr.mean()), "std": float(arr.std()), "n": len(arr)}


def cross_validate(
    labels: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    fit_predict: FitPredict,
    seed: int = 0,
) -> dict[str, Any]:
    """Run a classifier over CV splits and summarise metrics and controls.

    Parameters
    ----------
    labels
        1 = superionic, 0 = not.
    splits
        (train, validation) index arrays.
    fit_predict
        ``fit_predict(train_idx, val_idx)`` trains on ``train_idx`` only and returns
        probabilities for ``val_idx``.
    seed
        Seed of the shuffled control.

    Returns
    -------
    dict
        ``folds`` (per-fold metrics, controls, sizes), and ``summary`` with mean/std of
        AUC-PR and MCC for the model and the two controls (NaN folds skipped).
    """
    labels = np.asarray(labels, dtype=int)
    folds: list[dict[str, Any]] = []
    for k, (train_idx, val_idx) in enumerate(splits):
        prob = fit_predict(np.asarray(train_idx), np.asarray(val_idx))
        folds.append(
            {
                "fold": k,
                "n_train": len(train_idx),
                "n_val": len(val_idx),
                "n_val_positive": int(labels[val_idx].sum()),
                "model": binary_metrics(labels[val_idx], prob),
                "controls": control_metrics(labels[train_idx], labels[val_idx], seed + k),
                "probabilities": [float(p) for p in prob],
                "val_indices": [int(i) for i in val_idx],
            }
        )
    summary: dict[str, Any] = {}
    for who in ("model", "shuffled", "mean"):
        for metric in ("auc_pr", "mcc"):
            values = [(f["model"] if who == "model" else f["controls"][who])[metric] for f in folds]
            summary[f"{who}_{metric}"] = _summary(values)
    return {"folds": folds, "summary": summary}


def restrict_training(fit_predict: FitPredict, usable: np.ndarray) -> FitPredict:
    """Return a fit_predict that trains only on the usable rows of each training fold.

    For a structure-only model inside splits of all rows (some without a structure):
    validation rows must be usable too.
    """
    usable = np.asarray(usable, dtype=bool)

    def restricted(train_idx: np.ndarray, val_idx: np.ndarray) -> np.ndarray:
        return fit_predict(train_idx[usable[train_idx]], val_idx)

    return restricted


def oof_metrics(
    labels: np.ndarray,
    oof: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    subset: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Summarise out-of-fold probabilities fold by fold, with the controls.

    Parameters
    ----------
    labels
        1 = superionic, 0 = not (all rows).
    oof
        Out-of-fold probability of every row (NaN where not scored).
    splits
        The (train, validation) index pairs that produced ``oof``.
    subset
        Boolean mask: only these validation rows count (e.g. rows with a structure).
    seed
        Seed of the shuffled control.

    Returns
    -------
    dict
        ``summary`` as in :func:`cross_validate` (mean/std over folds of AUC-PR and MCC
        for the model and the shuffled and mean controls), plus ``pooled`` (AUC-PR, MCC
        and Brier score of all validation rows together) and ``n_rows``.
    """
    labels = np.asarray(labels, dtype=int)
    oof = np.asarray(oof, dtype=float)
    subset = np.ones(len(labels), dtype=bool) if subset is None else np.asarray(subset, bool)
    folds: list[dict[str, Any]] = []
    rows: list[np.ndarray] = []
    for k, (train_idx, val_idx) in enumerate(splits):
        val = np.asarray(val_idx)[subset[np.asarray(val_idx)]]
        val = val[~np.isnan(oof[val])]
        if not len(val):
            continue
        rows.append(val)
        folds.append(
            {
                "model": binary_metrics(labels[val], oof[val]),
                "controls": control_metrics(labels[np.asarray(train_idx)], labels[val], seed + k),
            }
        )
    summary: dict[str, Any] = {}
    for who in ("model", "shuffled", "mean"):
        for metric in ("auc_pr", "mcc"):
            values = [(f["model"] if who == "model" else f["controls"][who])[metric] for f in folds]
            summary[f"{who}_{metric}"] = _summary(values)
    every = np.concatenate(rows) if rows else np.array([], dtype=int)
    pooled = binary_metrics(labels[every], oof[every]) if len(every) else {}
    if len(every):
        pooled["brier"] = float(np.mean((oof[every] - labels[every]) ** 2))
    return {"summary": summary, "pooled": pooled, "n_rows": len(every), "folds": folds}


def logistic_fit_predict(features: np.ndarray, labels: np.ndarray) -> FitPredict:
    """Return a fit_predict for unpenalised logistic regression on standardised features.

    As in the paper: scikit-learn ``LogisticRegression`` with default settings except
    no regularisation penalty. Missing feature values (NaN, e.g. CIFs without Li
    positions) are replaced by the training-fold median.
    """
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=float)
    labels = np.asarray(labels, dtype=int)

    def fit_predict(train_idx: np.ndarray, val_idx: np.ndarray) -> np.ndarray:
        model = make_pipeline(
            SimpleImputer(strategy="median"),
            StandardScaler(),
            LogisticRegression(C=np.inf, max_iter=5000),
        )
        model.fit(features[train_idx], labels[train_idx])
        return model.predict_proba(features[val_idx])[:, 1]

    return fit_predict


def atomsets_fit_predict(
    features: Sequence[np.ndarray],
    labels: np.ndarray,
    hyperparameter_sets: Sequence[Any],
    seeds: Sequence[int],
    input_dim: int,
) -> FitPredict:
    """Return a fit_predict that trains an AtomSets ensemble on each training fold."""
    from sseflow.ml.atomsets.network import predict_probabilities, train_member

    labels = np.asarray(labels, dtype=int)

    def fit_predict(train_idx: np.ndarray, val_idx: np.ndarray) -> np.ndarray:
        train_x = [features[i] for i in train_idx]
        val_x = [features[i] for i in val_idx]
        probs = []
        for hyper in hyperparameter_sets:
            for seed in seeds:
                member = train_member(train_x, labels[train_idx], hyper, seed, input_dim)
                probs.append(predict_probabilities(member, val_x))
        return np.mean(probs, axis=0)

    return fit_predict


def bootstrap_fold_means(
    labels: np.ndarray,
    scores: dict[str, np.ndarray],
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    subset: np.ndarray | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    resample_folds: bool = False,
) -> dict[str, np.ndarray]:
    """Paired bootstrap of the mean-over-folds AUC-PR of several models.

    How much of a difference between two cross-validated models is the luck of the
    validation rows? Each replicate resamples every fold's validation rows with
    replacement - positives and negatives separately, so a fold keeps its number of
    each - and scores every model on the same resample (paired). The fold models are
    not retrained: the spread is that of the finite validation sets, given the models.
    With ``resample_folds`` the folds themselves are drawn with replacement first (for
    leave-one-cluster-out: how the mean would move with another set of chemistries,
    as far as a handful of clusters can tell).

    Parameters
    ----------
    labels
        1 = superionic, 0 = not (all rows).
    scores
        Model name -> out-of-fold probability of every row (NaN where not scored).
    splits
        The (train, validation) index pairs that produced the scores.
    subset
        Boolean mask: only these validation rows count; rows any model did not score
        are left out for all of them.
    n_resamples
        Bootstrap replicates.
    seed
        Seed of the resampling.
    resample_folds
        Draw the folds with replacement too (two-level bootstrap).

    Returns
    -------
    dict
        Model name -> array of ``n_resamples`` mean AUC-PRs (folds without positives
        skipped, as in :func:`oof_metrics`). Differences of two models are paired: take
        them replicate by replicate.

    Examples
    --------
    >>> labels = np.array([0, 1] * 10)
    >>> good = labels + 0.1 * np.arange(20) / 20
    >>> splits = [(np.arange(10, 20), np.arange(10)), (np.arange(10), np.arange(10, 20))]
    >>> means = bootstrap_fold_means(labels, {"good": good}, splits, n_resamples=50)
    >>> float(means["good"].min())
    1.0
    """
    from sklearn.metrics import average_precision_score

    labels = np.asarray(labels, dtype=int)
    names = list(scores)
    matrix = np.array([np.asarray(scores[n], dtype=float) for n in names])
    usable = ~np.isnan(matrix).any(axis=0)
    if subset is not None:
        usable &= np.asarray(subset, dtype=bool)
    folds = []
    for _, val_idx in splits:
        val = np.asarray(val_idx)[usable[np.asarray(val_idx)]]
        positives, negatives = val[labels[val] == 1], val[labels[val] == 0]
        if len(positives):
            folds.append((positives, negatives))
    if not folds:  # no fold with a positive: AUC-PR is undefined
        return {name: np.full(n_resamples, np.nan) for name in names}
    rng = np.random.default_rng(seed)
    out = np.zeros((len(names), n_resamples))
    for r in range(n_resamples):
        drawn = rng.integers(len(folds), size=len(folds)) if resample_folds else range(len(folds))
        for f in drawn:
            positives, negatives = folds[f]
            rows = np.concatenate(
                [rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))]
            )
            for m in range(len(names)):
                out[m, r] += average_precision_score(labels[rows], matrix[m, rows])
    out /= len(folds)
    return {name: out[m] for m, name in enumerate(names)}
