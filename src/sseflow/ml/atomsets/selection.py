"""Choosing and training the P_SI model by nested cross-validation.

:func:`fit_psi_model` turns labelled rows into a :class:`~sseflow.ml.atomsets.stack.PSIModel`,
making every choice on *inner* cross-validation folds of the rows it is given:

1. **composition component**: each configuration of :data:`COMPOSITION_SPACE` (random
   forest / extra trees, feature fraction, leaf size, class weights) gets inner
   out-of-fold (OOF) predictions on all rows; the best AUC-PR wins;
2. **structure component**, on rows with a structure: forests on pooled MEGNet features
   (random search over feature variant V0/V1 x CAN/CAMN/CAMNS and forest settings) and
   AtomSets networks (random search over feature variant and the paper's Table C.7
   ranges: layers, neurons, dropout, L2, batch size, learning rates, epochs). AtomSets
   searches by successive halving: every configuration is trained on the first inner
   fold, the best ``keep_after_first_fold`` on the others. The AtomSets candidate is the
   average of the ``top_k`` best configurations that share the best one's features (an
   ensemble of configurations x seeds, as in the paper); the family with the better
   inner AUC-PR becomes the structure component;
3. **combiner**: a weighted average of the two probabilities (weight of the composition
   on a grid from 0 to 1: 0 is structure only, 1 composition only), logistic stacking
   (cross-fitted over the inner folds), or a gated average: one weight for rows whose
   composition is near the inner training rows and another for rows farther than the
   ``far_quantile`` of the training rows' own nearest-neighbour distances
   (:func:`~sseflow.ml.atomsets.stack.far_distance`), by inner AUC-PR on the rows with a
   structure;
4. **calibration**: none, Platt or isotonic, by cross-fitted Brier score of the combined
   inner OOF scores (:func:`sseflow.ml.calibration.choose_calibration`);
5. the chosen components are refitted on all given rows (AtomSets: ``top_k`` configurations
   x ``seeds``) and the calibrator on the inner OOF scores.

Inner folds are stratified by class and grouped by reduced formula (a compound's
repeated measurements stay together). Calling :func:`fit_psi_model` inside an outer CV
loop gives nested CV: the outer validation rows never influence a choice. AtomSets
trainings are the expensive part (tens of seconds each on 2 cores): a
:class:`PredictionCache` keeps their predictions on disk so an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
from pymatgen.core import Composition, Structure

from sseflow.ml.atomsets.components import (
    AtomSetsConfig,
    ForestComponent,
    ForestConfig,
    PooledForestConfig,
    config_key,
    pooled_features,
)
from sseflow.ml.atomsets.ensemble import (
    ApplicabilityDomain,
    AtomSetsEnsemble,
    training_data_hash,
)
from sseflow.ml.atomsets.featurization import SIMPLIFICATIONS, FeatureSettings, featurize
from sseflow.ml.atomsets.network import (
    AtomSetsHyperparameters,
    predict_probabilities,
    train_member,
)
from sseflow.ml.atomsets.stack import (
    Combiner,
    PSIModel,
    composition_distance,
    composition_domain,
    far_distance,
)
from sseflow.ml.calibration import brier_score, choose_calibration
from sseflow.ml.composition import composition_features
from sseflow.ml.evaluation import grouped_stratified_kfold_splits

#: Feature variants searched for the structure component (thesis chapter 4).
FEATURE_VARIANTS: tuple[FeatureSettings, ...] = tuple(
    FeatureSettings(level, s) for s in ("CAN", "CAMN", "CAMNS") for level in (0, 1)
)
#: Composition component candidates (16: the full grid).
COMPOSITION_SPACE: tuple[ForestConfig, ...] = tuple(
    ForestConfig(kind, 300, max_features, leaf, weight)
    for kind in ("random_forest", "extra_trees")
    for max_features in ("sqrt", 0.3)
    for leaf in (1, 3)
    for weight in (None, "balanced")
)

Log = Callable[[str], None]


def _silent(_: str) -> None:
    return None


def pooled_forest_space(
    n: int = 12, seed: int = 0, variants: Sequence[FeatureSettings] = FEATURE_VARIANTS
) -> list[PooledForestConfig]:
    """Return ``n`` random pooled-feature forest configurations (fixed by ``seed``).

    The feature variants take turns, so every variant is compared.
    """
    rng = np.random.default_rng(seed)
    out = []
    max_features_options: list[float | str] = ["sqrt", 0.3]
    for i in range(n):
        variant = variants[i % len(variants)]
        forest = ForestConfig(
            kind=str(rng.choice(["random_forest", "extra_trees"])),
            n_estimators=300,
            max_features=max_features_options[int(rng.integers(2))],
            min_samples_leaf=int(rng.choice([1, 2, 4])),
            class_weight=[None, "balanced"][int(rng.integers(2))],
        )
        out.append(PooledForestConfig(variant.level, variant.simplification, forest))
    return out


def atomsets_space(
    n: int = 20, seed: int = 0, variants: Sequence[FeatureSettings] = FEATURE_VARIANTS
) -> list[AtomSetsConfig]:
    """Return ``n`` random AtomSets configurations from the paper's Table C.7 ranges.

    The feature variants take turns, so every variant is compared. Epochs are 40, 60 or
    100 (fixed budgets instead of the paper's early stopping on the validation fold,
    which would let validation labels choose the model).
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        variant = variants[i % len(variants)]
        hyper = AtomSetsHyperparameters(
            n_layers=int(rng.choice([1, 2, 3])),
            n_neurons=int(rng.choice([32, 64, 128])),
            dropout_initial=float(rng.choice([0.1, 0.15, 0.2, 0.25, 0.3])),
            dropout_final=float(rng.choice([0.1, 0.15, 0.2, 0.25, 0.3])),
            l2_initial=float(rng.choice([1e-4, 1e-3, 1e-2, 1e-1])),
            l2_final=float(rng.choice([1e-4, 1e-3, 1e-2, 1e-1])),
            batch_size=int(rng.choice([32, 64])),
            learning_rate_initial=float(rng.choice([2e-5, 4e-5, 6e-5, 8e-5, 1e-4])),
            learning_rate_max=float(rng.choice([1e-3, 3e-3, 5e-3, 7e-3])),
            epochs=int(rng.choice([40, 60, 100])),
        )
        out.append(AtomSetsConfig(variant.level, variant.simplification, hyper))
    return out


@dataclass
class TrainingSet:
    """Labelled rows for P_SI: composition for every row, a structure for some.

    ``atom_features`` computes (and keeps) the MEGNet features of one variant for the
    rows with a structure; a structure that cannot be featurized counts as missing for
    that variant. Precomputed features may be passed in ``features``.
    """

    ids: list[str]
    labels: np.ndarray
    compositions: list[Composition]
    groups: list[str]
    structures: list[Structure | None]
    features: dict[FeatureSettings, list[np.ndarray | None]] = field(default_factory=dict)
    _composition_x: np.ndarray | None = None

    @classmethod
    def from_label_table(cls, table: Any) -> TrainingSet:
        """Build from a :class:`sseflow.ml.labels.LabelTable` (any rows)."""
        return cls(
            ids=list(table.ids),
            labels=np.asarray(table.labels, dtype=int),
            compositions=list(table.compositions),
            groups=list(table.formulas),
            structures=list(table.structures),
        )

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.ids)

    def composition_matrix(self) -> np.ndarray:
        """Composition features of every row."""
        if self._composition_x is None:
            self._composition_x = composition_features(self.compositions)
        return self._composition_x

    def atom_features(self, settings: FeatureSettings) -> list[np.ndarray | None]:
        """MEGNet features of each row for ``settings`` (None: no usable structure)."""
        settings = FeatureSettings(settings.level, settings.simplification)
        if settings not in self.features:
            out: list[np.ndarray | None] = [None] * len(self)
            rows = [i for i, s in enumerate(self.structures) if s is not None]
            try:
                feats = featurize([self.structures[i] for i in rows], settings)
                for i, f in zip(rows, feats, strict=True):
                    out[i] = f
            except Exception:  # one bad structure fails the batch: go one by one
                for i in rows:
                    try:
                        out[i] = featurize([self.structures[i]], settings)[0]
                    except Exception:  # that row has no structure for this variant
                        out[i] = None
            self.features[settings] = out
        return self.features[settings]

    def structure_rows(self, settings: FeatureSettings, rows: np.ndarray) -> np.ndarray:
        """Return the rows of ``rows`` that have features for ``settings``."""
        feats = self.atom_features(settings)
        return np.array([i for i in rows if feats[i] is not None], dtype=int)


class PredictionCache:
    """Predictions of trained models on disk, keyed by configuration, rows and seed."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None

    def _path(self, *parts: Any) -> Path | None:
        if self.directory is None:
            return None
        text = json.dumps([str(p) for p in parts])
        return self.directory / f"{hashlib.sha256(text.encode()).hexdigest()[:20]}.npy"

    def get(self, compute: Callable[[], np.ndarray], *parts: Any) -> np.ndarray:
        """Return the cached array for ``parts``, computing and storing it when absent."""
        path = self._path(*parts)
        if path is not None and path.is_file():
            return np.load(path)
        value = np.asarray(compute(), dtype=float)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, value)
        return value


@dataclass
class SelectionSettings:
    """Budget and options of :func:`fit_psi_model`.

    Parameters
    ----------
    inner_folds
        Inner CV folds of every choice.
    n_pooled, n_atomsets
        Configurations in the pooled-forest and AtomSets random searches (0 AtomSets:
        pooled forests only).
    keep_after_first_fold
        AtomSets configurations trained on the other inner folds (successive halving).
    top_k
        AtomSets configurations (same features) in the ensemble.
    seeds
        Seeds of each AtomSets configuration in the final ensemble.
    weight_grid
        Composition weights tried by the averaging combiner.
    seed
        Seed of the inner folds and the random searches.
    max_epochs
        Cap on the epochs of every AtomSets configuration (tests, quick runs).
    variants
        MEGNet feature variants searched (default: V0/V1 x CAN/CAMN/CAMNS).
    n_composition
        Composition candidates: the first ``n_composition`` of :data:`COMPOSITION_SPACE`.
    max_trees
        Cap on the trees of every forest (tests, quick runs).
    criterion
        ``"kfold+clusters"`` (default): every choice maximises the mean of two inner
        AUC-PRs, grouped stratified k-fold (how well it interpolates) and leave one
        composition cluster out (how well it extrapolates to an unseen chemistry);
        ``"kfold"``: the k-fold AUC-PR alone.
    inner_clusters
        Composition clusters requested for the inner leave-cluster-out folds
        (:func:`sseflow.ml.evaluation.composition_clusters`; small ones are merged).
    gated_combiner
        Also try gated averages (a composition weight for near and one for far rows, both
        on ``weight_grid``).
    far_quantile
        Quantile of the training rows' own composition distances beyond which a row is
        far (:func:`sseflow.ml.atomsets.stack.far_distance`).
    """

    inner_folds: int = 3
    n_pooled: int = 12
    n_atomsets: int = 20
    keep_after_first_fold: int = 6
    top_k: int = 3
    seeds: tuple[int, ...] = (0, 1, 2)
    weight_grid: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(11))
    seed: int = 0
    max_epochs: int | None = None
    variants: tuple[FeatureSettings, ...] = FEATURE_VARIANTS
    n_composition: int = len(COMPOSITION_SPACE)
    max_trees: int | None = None
    criterion: str = "kfold+clusters"
    inner_clusters: int = 12
    gated_combiner: bool = True
    far_quantile: float = 0.95

    def _trees(self, config: ForestConfig) -> ForestConfig:
        if self.max_trees is None:
            return config
        return replace(config, n_estimators=min(config.n_estimators, self.max_trees))

    def composition_configs(self) -> list[ForestConfig]:
        """Return the composition candidates (the first ``n_composition`` of the grid)."""
        return [self._trees(c) for c in COMPOSITION_SPACE[: self.n_composition]]

    def pooled_configs(self) -> list[PooledForestConfig]:
        """Return the pooled-feature forest candidates."""
        return [
            replace(c, forest=self._trees(c.forest))
            for c in pooled_forest_space(self.n_pooled, self.seed, self.variants)
        ]

    def atomsets_configs(self) -> list[AtomSetsConfig]:
        """Return the AtomSets configurations searched (epochs capped at ``max_epochs``)."""
        configs = atomsets_space(self.n_atomsets, self.seed, self.variants)
        if self.max_epochs is None:
            return configs
        return [
            replace(c, hyper=replace(c.hyper, epochs=min(c.hyper.epochs, self.max_epochs)))
            for c in configs
        ]


def _rows_hash(rows: np.ndarray) -> str:
    return hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:16]


def _average_precision(y: np.ndarray, p: np.ndarray) -> float:
    """AUC-PR of the scored rows (NaN scores left out); NaN without both classes."""
    from sklearn.metrics import average_precision_score

    scored = ~np.isnan(np.asarray(p, dtype=float))
    y, p = np.asarray(y)[scored], np.asarray(p, dtype=float)[scored]
    return float(average_precision_score(y, p)) if 0 < y.sum() < len(y) else float("nan")


@dataclass
class _Inner:
    """Inner folds of a set of rows."""

    rows: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]  # (train rows, validation rows), global ids


def _inner_folds(data: TrainingSet, rows: np.ndarray, settings: SelectionSettings) -> _Inner:
    y = data.labels[rows]
    groups = [data.groups[i] for i in rows]
    splits = grouped_stratified_kfold_splits(y, groups, settings.inner_folds, settings.seed)
    return _Inner(rows, [(rows[tr], rows[va]) for tr, va in splits])


def _inner_cluster_folds(
    data: TrainingSet, rows: np.ndarray, settings: SelectionSettings
) -> _Inner:
    from sseflow.ml.evaluation import composition_clusters

    clusters = composition_clusters(
        [data.compositions[i] for i in rows], n_clusters=settings.inner_clusters
    )
    folds = [(rows[clusters != c], rows[clusters == c]) for c in np.unique(clusters)]
    return _Inner(rows, folds)


def _far_rows(
    data: TrainingSet, x_composition: np.ndarray, scheme: _Inner, quantile: float
) -> np.ndarray:
    """Whether each validation row of ``scheme`` is far from its fold's training rows."""
    far = np.zeros(len(data), dtype=bool)
    for train, val in scheme.folds:
        if not len(val):
            continue
        domain = composition_domain(x_composition[train])
        limit = far_distance(domain, [data.groups[i] for i in train], quantile)
        far[val] = composition_distance(domain, x_composition[val]) > limit
    return far


def _mean_score(scores: dict[str, float]) -> float:
    values = [v for v in scores.values() if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def _forest_oof(
    x: np.ndarray, y: np.ndarray, inner: _Inner, usable: np.ndarray, config: ForestConfig
) -> np.ndarray:
    """Inner OOF probabilities of a forest on the usable rows (NaN elsewhere)."""
    out = np.full(len(y), np.nan)
    for train, val in inner.folds:
        train, val = train[usable[train]], val[usable[val]]
        if len(np.unique(y[train])) < 2:  # one class in this fold: predict its rate
            out[val] = float(y[train].mean()) if len(train) else np.nan
            continue
        model = config.make(0).fit(x[train], y[train])
        out[val] = model.predict_proba(x[val])[:, 1]
    return out


def _atomsets_predict(
    data: TrainingSet,
    config: AtomSetsConfig,
    train: np.ndarray,
    val: np.ndarray,
    seed: int,
    cache: PredictionCache,
) -> np.ndarray:
    feats = data.atom_features(config.feature_settings)

    def compute() -> np.ndarray:
        member = train_member(
            [feats[i] for i in train],
            data.labels[train],
            config.hyper,
            seed,
            config.feature_settings.input_dim,
        )
        return predict_probabilities(member, [feats[i].astype(np.float32) for i in val])

    key = training_data_hash([data.ids[i] for i in train], data.labels[train].tolist())
    return cache.get(compute, config_key(config), key, _rows_hash(val), seed, "atomsets-v1")


#: Stands for the far-row threshold while gated combiners are scored on far flags (0/1).
_FLAG_THRESHOLD = 0.5


def _choose_combiner(
    parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]],
    grid: Sequence[float],
    gated: bool = False,
) -> tuple[Combiner, dict[str, np.ndarray], dict[str, dict[str, float]]]:
    """Pick the combiner with the best mean AUC-PR of the combined OOF scores.

    ``parts`` maps each inner scheme to (composition OOF, structure OOF, labels, folds as
    positions, far flags). Logistic stacking is cross-fitted over each scheme's folds.
    With ``gated``, gated averages (every pair of different near/far weights of ``grid``)
    are candidates too; the chosen one's ``far_distance`` is a placeholder for the caller
    to set. On ties the earlier candidate wins: plain averages, logistic, gated.
    """
    candidates: list[tuple[str, Combiner | None]] = [
        (f"average w={w:g}", Combiner("average", float(w))) for w in grid
    ]
    candidates.append(("logistic", None))
    if gated:
        candidates += [
            (
                f"gated w_near={near:g} w_far={far:g}",
                Combiner(
                    "gated_average",
                    float(near),
                    weight_composition_far=float(far),
                    far_distance=_FLAG_THRESHOLD,
                ),
            )
            for near in grid
            for far in grid
            if near != far
        ]
    scores: dict[str, dict[str, float]] = {}
    best: tuple[float, float, Combiner, dict[str, np.ndarray]] | None = None
    for name, combiner in candidates:
        raws, per_scheme = {}, {}
        for scheme, (pc, ps, y, folds, far) in parts.items():
            if combiner is None:  # logistic stacking, cross-fitted over the folds
                raw = np.full(len(y), np.nan)
                for val in folds:
                    rest = np.setdiff1d(np.arange(len(y)), val)
                    if len(val) and len(np.unique(y[rest])) == 2:
                        fitted_fold = Combiner.fit_logistic(pc[rest], ps[rest], y[rest])
                        raw[val] = fitted_fold(pc[val], ps[val])
                raw = np.where(np.isnan(raw), 0.5 * (pc + ps), raw)
            else:
                raw = combiner(pc, ps, far.astype(float))
            raws[scheme] = raw
            per_scheme[scheme] = _average_precision(y, raw)
        scores[name] = per_scheme
        y0 = parts["kfold"][2]
        rank = (np.nan_to_num(_mean_score(per_scheme)), -brier_score(y0, raws["kfold"]))
        if best is None or rank > best[:2]:
            pc0, ps0, _, _, _ = parts["kfold"]
            fitted = combiner if combiner is not None else Combiner.fit_logistic(pc0, ps0, y0)
            best = (*rank, fitted, raws)
    assert best is not None
    return best[2], best[3], scores


@dataclass
class Selection:
    """The configurations :func:`fit_psi_model` chose (``record``: all inner scores)."""

    composition: ForestConfig
    pooled_forest: PooledForestConfig
    atomsets: list[AtomSetsConfig] | None
    family: str
    record: dict[str, Any]


def fit_psi_model(
    data: TrainingSet,
    rows: np.ndarray | None = None,
    settings: SelectionSettings | None = None,
    cache: PredictionCache | None = None,
    log: Log = _silent,
) -> tuple[PSIModel, Selection]:
    """Choose every part of P_SI on inner CV folds of ``rows`` and train it on them.

    Parameters
    ----------
    data
        All labelled rows.
    rows
        Rows to use (an outer training fold); all rows when None.
    settings
        Search budget (default :class:`SelectionSettings`).
    cache
        Where AtomSets predictions are kept (none by default).
    log
        Progress messages.

    Returns
    -------
    model, selection
        The trained model (``model.selection`` holds ``selection.record``: every inner
        score and choice) and the chosen configurations.
    """
    settings = settings or SelectionSettings()
    cache = cache or PredictionCache(None)
    rows = np.arange(len(data)) if rows is None else np.asarray(rows, dtype=int)
    y_all = data.labels
    n_positive = int(y_all[rows].sum())
    if min(n_positive, len(rows) - n_positive) < 2 * settings.inner_folds:
        raise ValueError(
            f"need at least {2 * settings.inner_folds} superionic and as many other rows "
            f"for {settings.inner_folds} inner folds; got {n_positive} and "
            f"{len(rows) - n_positive}"
        )
    schemes = {"kfold": _inner_folds(data, rows, settings)}
    if settings.criterion == "kfold+clusters":
        clusters = _inner_cluster_folds(data, rows, settings)
        if len(clusters.folds) >= 2:  # too few rows for clusters: k-fold alone
            schemes["clusters"] = clusters
    elif settings.criterion != "kfold":
        raise ValueError(f"unknown criterion {settings.criterion!r}")
    inner = schemes["kfold"]
    x_comp = data.composition_matrix()
    far_rows = {
        name: _far_rows(data, x_comp, scheme, settings.far_quantile)
        for name, scheme in schemes.items()
    }
    record: dict[str, Any] = {
        "n_rows": len(rows),
        "inner_folds": settings.inner_folds,
        "criterion": settings.criterion,
        "inner_cluster_folds": len(schemes["clusters"].folds) if "clusters" in schemes else 0,
    }

    def forest_scores(
        x: np.ndarray, usable: np.ndarray, config: ForestConfig
    ) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        oofs = {s: _forest_oof(x, y_all, schemes[s], usable, config) for s in schemes}
        keep = rows[usable[rows]]
        return oofs, {s: _average_precision(y_all[keep], o[keep]) for s, o in oofs.items()}

    # 1. composition component: all rows
    everywhere = np.ones(len(data), dtype=bool)
    comp_oof, comp_scores = {}, {}
    comp_configs = settings.composition_configs()
    for comp_config in comp_configs:
        comp_oof[comp_config], comp_scores[comp_config] = forest_scores(
            x_comp, everywhere, comp_config
        )
    comp_best = max(comp_configs, key=lambda c: np.nan_to_num(_mean_score(comp_scores[c])))
    record["composition"] = {
        "chosen": asdict(comp_best),
        "inner_auc_pr": {config_key(c): s for c, s in comp_scores.items()},
    }
    log(f"composition: {comp_best} (inner AUC-PR {comp_scores[comp_best]})")

    # 2a. pooled-feature forests
    pooled_scores, pooled_oof = {}, {}
    for pooled_config in settings.pooled_configs():
        feats = data.atom_features(pooled_config.feature_settings)
        usable = np.array([f is not None for f in feats])
        x = np.full((len(data), 4 * pooled_config.feature_settings.input_dim), np.nan)
        rows_s = np.flatnonzero(usable)
        # rows_s are the usable rows: their features are not None
        x[rows_s] = pooled_features(cast(list[np.ndarray], [feats[i] for i in rows_s]))
        pooled_oof[pooled_config], pooled_scores[pooled_config] = forest_scores(
            x, usable, pooled_config.forest
        )
    pooled_best = max(pooled_scores, key=lambda c: np.nan_to_num(_mean_score(pooled_scores[c])))
    log(f"pooled forest: {pooled_best} (inner AUC-PR {pooled_scores[pooled_best]})")
    families: dict[str, tuple[Any, dict[str, np.ndarray], dict[str, float]]] = {
        "pooled_forest": (pooled_best, pooled_oof[pooled_best], pooled_scores[pooled_best])
    }
    record["pooled_forest"] = {
        "chosen": asdict(pooled_best),
        "inner_auc_pr": {config_key(c): s for c, s in pooled_scores.items()},
    }

    # 2b. AtomSets: successive halving over a random search (k-fold scheme); the best
    # ensemble is then also scored on the cluster folds
    if settings.n_atomsets > 0:
        configs = settings.atomsets_configs()
        oof = {c: np.full(len(data), np.nan) for c in configs}

        def run_fold(config: AtomSetsConfig, scheme: _Inner, k: int, out: np.ndarray) -> None:
            train, val = scheme.folds[k]
            train = data.structure_rows(config.feature_settings, train)
            val = data.structure_rows(config.feature_settings, val)
            if len(val) and len(np.unique(data.labels[train])) == 2:
                out[val] = _atomsets_predict(data, config, train, val, settings.seed, cache)

        first_scores = {}
        for i, config in enumerate(configs):
            run_fold(config, inner, 0, oof[config])
            val = inner.folds[0][1]
            keep = val[~np.isnan(oof[config][val])]
            first_scores[config] = _average_precision(y_all[keep], oof[config][keep])
            log(f"atomsets {i + 1}/{len(configs)} fold 0: AUC-PR {first_scores[config]:.3f}")
        survivors = sorted(configs, key=lambda c: -np.nan_to_num(first_scores[c]))
        survivors = survivors[: settings.keep_after_first_fold]
        full_scores = {}
        for config in survivors:
            for k in range(1, len(inner.folds)):
                run_fold(config, inner, k, oof[config])
            keep = rows[~np.isnan(oof[config][rows])]
            full_scores[config] = _average_precision(y_all[keep], oof[config][keep])
        ranked = sorted(survivors, key=lambda c: -np.nan_to_num(full_scores[c]))
        variant = ranked[0].feature_settings
        top = [c for c in ranked if c.feature_settings == variant][: settings.top_k]
        ensemble_oof = {"kfold": np.mean([oof[c] for c in top], axis=0)}
        if "clusters" in schemes:
            cluster_oof = {c: np.full(len(data), np.nan) for c in top}
            for config in top:
                for k in range(len(schemes["clusters"].folds)):
                    run_fold(config, schemes["clusters"], k, cluster_oof[config])
            stacked = np.array([cluster_oof[c] for c in top])
            counts = (~np.isnan(stacked)).sum(axis=0)
            ensemble_oof["clusters"] = np.where(
                counts > 0, np.nansum(stacked, axis=0) / np.maximum(counts, 1), np.nan
            )
        keep = data.structure_rows(variant, rows)
        ensemble_scores = {
            s: _average_precision(y_all[keep], o[keep]) for s, o in ensemble_oof.items()
        }
        families["atomsets"] = (top, ensemble_oof, ensemble_scores)
        record["atomsets"] = {
            "configurations": [asdict(c) for c in configs],
            "first_fold_auc_pr": {config_key(c): s for c, s in first_scores.items()},
            "inner_auc_pr": {config_key(c): s for c, s in full_scores.items()},
            "chosen": [asdict(c) for c in top],
            "ensemble_inner_auc_pr": ensemble_scores,
        }
        log(f"atomsets: top {len(top)} on {variant} (inner AUC-PR {ensemble_scores})")

    family = max(families, key=lambda f: np.nan_to_num(_mean_score(families[f][2])))
    structure_choice, ps_oof, _ = families[family]
    record["structure_family"] = family
    record["structure_family_inner_auc_pr"] = {f: v[2] for f, v in families.items()}

    # 3. combiner, on rows with a structure (for the chosen family's features)
    chosen_settings = (
        structure_choice[0].feature_settings
        if family == "atomsets"
        else structure_choice.feature_settings
    )
    rows_s = data.structure_rows(chosen_settings, rows)
    position = {r: i for i, r in enumerate(rows_s)}
    parts = {}
    for name in schemes:
        fold_rows = [
            np.array([position[r] for r in val if r in position], dtype=int)
            for _, val in schemes[name].folds
        ]
        pc, ps = comp_oof[comp_best][name][rows_s], ps_oof[name][rows_s]
        keep = ~np.isnan(pc) & ~np.isnan(ps)
        remap = np.cumsum(keep) - 1
        parts[name] = (
            pc[keep],
            ps[keep],
            y_all[rows_s][keep],
            [remap[f[keep[f]]] for f in fold_rows],
            far_rows[name][rows_s][keep],
        )
    combiner, raws, combiner_scores = _choose_combiner(
        parts, settings.weight_grid, gated=settings.gated_combiner
    )
    composition_dom = composition_domain(x_comp[rows])
    if combiner.kind == "gated_average":
        limit = far_distance(composition_dom, [data.groups[i] for i in rows], settings.far_quantile)
        combiner = replace(combiner, far_distance=limit)
    record["combiner"] = {
        "chosen": combiner.as_dict(),
        "inner_auc_pr": combiner_scores,
        "far_quantile": settings.far_quantile,
        "far_fraction": {
            name: float(np.mean(p[4])) if len(p[4]) else 0.0 for name, p in parts.items()
        },
    }
    log(f"combiner: {combiner.as_dict()}")

    # 4. calibration of the combined inner k-fold OOF scores
    _, _, ys, fold_rows, _ = parts["kfold"]
    calibrator, brier = choose_calibration(raws["kfold"], ys, fold_rows)
    record["calibration"] = {"chosen": calibrator.method, "cross_fitted_brier": brier}
    log(f"calibration: {calibrator.method} (cross-fitted Brier {brier})")

    # 5. refit on all rows
    composition = ForestComponent.fit(comp_best, x_comp[rows], y_all[rows], seed=settings.seed)
    feats = data.atom_features(chosen_settings)
    # rows_s come from structure_rows: only rows whose features are not None
    domain = ApplicabilityDomain.fit(cast(list[np.ndarray], [feats[i] for i in rows_s]))
    structure = fit_structure_component(
        data, structure_choice, rows_s, settings.seeds, domain=domain
    )
    ids = [data.ids[i] for i in rows]
    model = PSIModel(
        feature_settings=chosen_settings,
        composition=composition,
        structure=structure,
        combiner=combiner,
        calibrator=calibrator,
        domain=domain,
        structure_config=structure_choice,
        training={
            "n_samples": len(rows),
            "n_positive": int(y_all[rows].sum()),
            "n_with_structure": len(rows_s),
            "n_positive_with_structure": int(y_all[rows_s].sum()),
            "data_sha256": training_data_hash(ids, y_all[rows].tolist()),
        },
        selection=record,
        composition_domain=composition_dom,
    )
    selection = Selection(
        composition=comp_best,
        pooled_forest=pooled_best,
        atomsets=families["atomsets"][0] if "atomsets" in families else None,
        family=family,
        record=record,
    )
    return model, selection


def fit_structure_component(
    data: TrainingSet,
    choice: PooledForestConfig | Sequence[AtomSetsConfig],
    rows: np.ndarray,
    seeds: Sequence[int] = (0,),
    domain: ApplicabilityDomain | None = None,
) -> AtomSetsEnsemble | ForestComponent:
    """Train a structure component on the rows of ``rows`` that have its features.

    ``choice`` is a pooled-forest configuration (trained once, with the first seed) or
    AtomSets configurations sharing one feature variant (each trained with every seed).
    """
    fs = (
        choice.feature_settings
        if isinstance(choice, PooledForestConfig)
        else choice[0].feature_settings
    )
    feats = data.atom_features(fs)
    rows_s = data.structure_rows(fs, np.asarray(rows, dtype=int))
    y = data.labels[rows_s]
    x = [feats[i] for i in rows_s]
    if not isinstance(choice, PooledForestConfig):  # AtomSets configurations
        members = [
            (c.hyper, int(seed), train_member(x, y, c.hyper, int(seed), fs.input_dim))
            for c in choice
            for seed in seeds
        ]
        ids = [data.ids[i] for i in rows_s]
        ensemble = AtomSetsEnsemble(
            feature_settings=fs,
            members=members,
            domain=domain or ApplicabilityDomain.fit(x),
            training={
                "n_samples": len(rows_s),
                "n_positive": int(y.sum()),
                "data_sha256": training_data_hash(ids, y.tolist()),
            },
        )
        return ensemble
    return ForestComponent.fit(choice.forest, pooled_features(x), y, seed=int(seeds[0]))


def check_simplification(name: str) -> str:
    """Return ``name`` if it is a known simplification (used by the CLI)."""
    if name not in SIMPLIFICATIONS:
        raise ValueError(f"unknown simplification {name!r}; choose from {SIMPLIFICATIONS}")
    return name
