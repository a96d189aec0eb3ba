"""Learning curve of P_SI and its baselines: does more labelled data move the scores?

Issue 12 asks for leave-one-cluster-out AUC-PR >= 0.70; the nested CV
(``benchmarks/psi_model.py``) gives 0.57 for the shipped recipe, and the notes say what
limits it is the amount of labelled data. This script measures that claim instead of
asserting it: on the *same outer folds* as the nested CV (stratified 5-fold grouped by
formula, and leave-one-composition-cluster-out; OBELiX training split only), every
outer training fold is subsampled to a fraction of its rows (stratified by label,
``--repeats`` draws per fraction) and each model is trained on the subsample and scored
on the full outer validation fold (rows with a structure, the funnel's case).

Models, with the configurations the shipped ``psi_v3`` manifest records (no search):

- ``p_si``: composition forest + pooled MEGNet V0-CAMNS forest, gated average (composition
  weight 0.7 near, 0.8 far; the far distance refitted on each subsample);
- ``composition_forest``, ``pooled_forest``: the two components alone;
- ``sendek_logistic``: the Sendek logistic model (structure rows).

The configurations were chosen on all 478 rows, outer validation rows included, so the
absolute numbers are slightly optimistic against the nested CV (the full-data point is
shown beside the nested figures); the curve's *slope* - AUC-PR gained per doubling of
the training rows - is what this measures. Calibration is left out: AUC-PR depends only
on the ranking. ``--mode structures`` subsamples only the rows with a structure (the
224 composition-only rows are always kept): does the structure data limit it?

Usage::

    PYTHONPATH=src:. nice -n 5 python benchmarks/psi_learning_curve.py --mode all
    # then --mode structures, --mode in_cluster (each adds its part; --mode plot redraws)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data
import psi_model

RESULTS = Path(__file__).resolve().parent / "results"
RESULT_JSON = RESULTS / "psi_learning_curve.json"
MODELS = ("p_si", "composition_forest", "pooled_forest", "sendek_logistic")
SHIPPED = Path(__file__).resolve().parent.parent / "src/sseflow/data/models/psi_v3/manifest.json"
FIGURE = Path(__file__).resolve().parent.parent / "docs" / "atomsets" / "psi_learning_curve.png"


def shipped_recipe() -> dict:
    """The configurations the shipped model's manifest records."""
    from sseflow.ml.atomsets.components import ForestConfig, PooledForestConfig
    from sseflow.ml.atomsets.stack import Combiner

    manifest = json.loads(SHIPPED.read_text())
    selection = manifest["selection"]
    pooled = selection["pooled_forest"]["chosen"]
    return {
        "composition": ForestConfig(**selection["composition"]["chosen"]),
        "pooled": PooledForestConfig(
            level=pooled["level"],
            simplification=pooled["simplification"],
            forest=ForestConfig(**pooled["forest"]),
        ),
        "combiner": Combiner.from_dict(selection["combiner"]["chosen"]),
        "far_quantile": selection["combiner"]["far_quantile"],
    }


def subsample(
    rows: np.ndarray, labels: np.ndarray, fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Return ``fraction`` of ``rows``, the same fraction of each label (at least 2 each)."""
    if fraction >= 1.0:
        return np.sort(rows)
    kept = []
    for label in (0, 1):
        members = rows[labels[rows] == label]
        n = max(2, round(fraction * len(members)))
        kept.append(rng.choice(members, size=min(n, len(members)), replace=False))
    return np.sort(np.concatenate(kept))


def fit_and_score(
    data,
    recipe: dict,
    x_comp: np.ndarray,
    x_pooled: np.ndarray,
    sendek: np.ndarray,
    has: np.ndarray,
    train: np.ndarray,
    val: np.ndarray,
    seed: int,
) -> dict[str, np.ndarray]:
    """Train every model on ``train`` and return its probabilities on ``val``."""
    from dataclasses import replace

    from sseflow.ml import evaluation as ev
    from sseflow.ml.atomsets.stack import composition_distance, composition_domain, far_distance

    y = data.labels
    composition = recipe["composition"].make(seed).fit(x_comp[train], y[train])
    p_comp = composition.predict_proba(x_comp[val])[:, 1]
    train_s = train[has[train]]
    pooled = recipe["pooled"].forest.make(seed).fit(x_pooled[train_s], y[train_s])
    p_pooled = np.full(len(val), np.nan)
    p_pooled[has[val]] = pooled.predict_proba(x_pooled[val[has[val]]])[:, 1]
    domain = composition_domain(x_comp[train])
    limit = far_distance(domain, [data.groups[i] for i in train], recipe["far_quantile"])
    combiner = replace(recipe["combiner"], far_distance=limit)
    p_si = combiner(p_comp, p_pooled, composition_distance(domain, x_comp[val]))
    p_sendek = np.full(len(val), np.nan)
    if has[val].any():
        fit_predict = ev.restrict_training(ev.logistic_fit_predict(sendek, y), has)
        p_sendek[has[val]] = fit_predict(train, val[has[val]])
    return {
        "p_si": p_si,
        "composition_forest": p_comp,
        "pooled_forest": p_pooled,
        "sendek_logistic": p_sendek,
    }


class Inputs:
    """Labels, feature matrices and outer folds shared by every model and mode."""

    def __init__(self) -> None:
        from sseflow.ml.atomsets.components import pooled_features

        self.data = psi_model.training_set()
        self.recipe = shipped_recipe()
        self.y = self.data.labels
        self.x_comp = self.data.composition_matrix()
        fs = self.recipe["pooled"].feature_settings
        feats = self.data.atom_features(fs)
        self.has = np.array([f is not None for f in feats])
        self.x_pooled = np.full((len(self.data), 4 * fs.input_dim), np.nan)
        self.x_pooled[self.has] = pooled_features([feats[i] for i in np.flatnonzero(self.has)])
        position = {i: k for k, i in enumerate(ml_data.structures().ids)}
        self.sendek = np.full((len(self.data), 5), np.nan)
        self.sendek[self.has] = ml_data.sendek_matrix()[
            [position[i] for i in np.array(self.data.ids)[self.has]]
        ]
        self.splits = psi_model.outer_splits(self.data)

    def scores(self, train: np.ndarray, val: np.ndarray, seed: int) -> dict[str, float]:
        """AUC-PR of every model trained on ``train`` on the rows ``val``."""
        from sseflow.ml import evaluation as ev

        probabilities = fit_and_score(
            self.data,
            self.recipe,
            self.x_comp,
            self.x_pooled,
            self.sendek,
            self.has,
            train,
            val,
            seed,
        )
        return {m: ev.binary_metrics(self.y[val], p)["auc_pr"] for m, p in probabilities.items()}


def learning_curve(inputs: Inputs, fractions: list[float], repeats: int, mode: str) -> list:
    """Fold-mean AUC-PR of each model trained on fractions of each outer training fold."""
    y, has = inputs.y, inputs.has
    runs = []
    for scheme, scheme_splits in inputs.splits.items():
        for fraction in fractions:
            for repeat in range(repeats):
                rng = np.random.default_rng(1000 * repeat + int(100 * fraction))
                fold_scores: dict[str, list[float]] = {m: [] for m in MODELS}
                n_train, n_structures = [], []
                for train, val in scheme_splits:
                    val = val[has[val]]
                    if mode == "structures":
                        kept = subsample(train[has[train]], y, fraction, rng)
                        train_sub = np.sort(np.concatenate([train[~has[train]], kept]))
                    else:
                        train_sub = subsample(train, y, fraction, rng)
                    if not y[val].any():
                        continue
                    n_train.append(len(train_sub))
                    n_structures.append(int(has[train_sub].sum()))
                    for model, score in inputs.scores(train_sub, val, repeat).items():
                        fold_scores[model].append(score)
                runs.append(
                    {
                        "scheme": scheme,
                        "fraction": fraction,
                        "repeat": repeat,
                        "n_train_mean": float(np.mean(n_train)),
                        "fold_n_train": n_train,
                        "fold_n_structures": n_structures,
                        "fold_auc_pr": fold_scores,
                        "auc_pr": {m: float(np.mean(s)) for m, s in fold_scores.items()},
                    }
                )
                print(
                    f"{scheme} {fraction:.2f} #{repeat}: n={np.mean(n_train):.0f} "
                    + " ".join(f"{m} {np.mean(s):.3f}" for m, s in fold_scores.items()),
                    flush=True,
                )
    return runs


def in_cluster_labels(inputs: Inputs, counts: list[int], repeats: int) -> dict:
    """Leave-one-cluster-out, but with ``k`` labelled rows of the held-out cluster added.

    What kind of data would move the leave-cluster-out scores: more rows of the known
    chemistries (the learning curve) or a few labels of the new one? ``k`` rows of the
    held-out cluster (any rows, drawn at random) join the training fold; the model is
    scored on the cluster's other rows with a structure. Draws that leave no superionic
    row to score are skipped. The same draws serve every ``k`` (nested: the ``k = 5``
    rows are among the ``k = 10`` rows), so the differences between ``k`` are paired.
    """
    y, has = inputs.y, inputs.has
    by_k: dict[int, dict[str, list[float]]] = {k: {m: [] for m in MODELS} for k in counts}
    skipped, draw_folds = 0, []
    for fold, (train, val) in enumerate(inputs.splits["loco"]):
        for repeat in range(repeats):
            order = np.random.default_rng(100 * fold + repeat).permutation(val)
            scored = order[max(counts) :]
            scored = scored[has[scored]]
            if not y[scored].any():
                skipped += 1
                continue
            draw_folds.append(fold)
            for k in counts:
                train_k = np.sort(np.concatenate([train, order[:k]]))
                for model, score in inputs.scores(train_k, scored, repeat).items():
                    by_k[k][model].append(score)
        print(f"cluster {fold}: {len(val)} rows, {int(y[val].sum())} superionic", flush=True)
    folds = np.array(draw_folds)
    gain_by_cluster = {
        str(k): {
            m: [
                float(np.mean(np.subtract(by_k[k][m], by_k[counts[0]][m])[folds == f]))
                for f in np.unique(folds)
            ]
            for m in MODELS
        }
        for k in counts[1:]
    }
    return {
        "counts": counts,
        "repeats": repeats,
        "skipped_draws": skipped,
        "draw_folds": draw_folds,
        "gain_over_no_labels_by_cluster": gain_by_cluster,
        "note": "scored on the held-out cluster's rows not drawn for the largest k",
        "auc_pr_mean": {
            str(k): {m: float(np.mean(v)) for m, v in scores.items()} for k, scores in by_k.items()
        },
        "auc_pr": {str(k): scores for k, scores in by_k.items()},
    }


def plot(stored: dict) -> Path:
    """Draw the curves of every mode stored: ``docs/atomsets/psi_learning_curve.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [m for m in ("all", "structures", "in_cluster") if m in stored]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    titles = {
        "all": "LOCO, all rows subsampled",
        "structures": "LOCO, structure rows subsampled",
        "in_cluster": "LOCO + k labels of the held-out cluster",
    }
    for ax, mode in zip(axes[0], panels, strict=True):
        for model in MODELS:
            if mode == "in_cluster":
                means = stored[mode]["auc_pr_mean"]
                x = [int(k) for k in means]
                y = [means[k][model] for k in means]
            else:
                curve = stored[mode]["runs"]
                fractions = stored[mode]["fractions"]
                x = [
                    np.mean(
                        [
                            np.mean(r["fold_n_structures"])
                            for r in curve
                            if r["scheme"] == "loco" and r["fraction"] == f
                        ]
                    )
                    for f in fractions
                ]
                y = list(stored[mode]["summary"]["loco"][model]["auc_pr_by_fraction"].values())
            ax.plot(x, y, marker="o", label=model)
        ax.axhline(0.70, color="grey", ls="--", lw=0.8)
        if mode != "in_cluster":
            ax.set_xscale("log", base=2)
            ax.set_xlabel("training structures (mean over folds)")
        else:
            ax.set_xlabel("labelled rows of the held-out cluster added")
        ax.set_ylabel("AUC-PR (fold mean)")
        ax.set_title(titles[mode], fontsize=9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    out = FIGURE
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def main() -> None:
    """Run one mode and write its part of ``results/psi_learning_curve.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", default="0.125,0.25,0.5,0.75,1.0")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--counts", default="0,5,10", help="in_cluster: labels added")
    parser.add_argument(
        "--mode", choices=("all", "structures", "in_cluster", "plot"), default="all"
    )
    args = parser.parse_args()
    if args.mode == "plot":
        print(plot(json.loads(RESULT_JSON.read_text())))
        return
    fractions = [float(f) for f in args.fractions.split(",")]

    t0 = time.perf_counter()
    inputs = Inputs()
    if args.mode == "in_cluster":
        result = in_cluster_labels(inputs, [int(k) for k in args.counts.split(",")], args.repeats)
        summary = result["auc_pr_mean"]
    else:
        runs = learning_curve(inputs, fractions, args.repeats, args.mode)
        summary = summarise(runs, fractions)
        result = {"fractions": fractions, "repeats": args.repeats, "runs": runs}
    result.update(
        recipe=str(SHIPPED.relative_to(SHIPPED.parents[4])),
        summary=summary,
        wall_s=round(time.perf_counter() - t0, 1),
    )
    RESULTS.mkdir(exist_ok=True)
    stored = json.loads(RESULT_JSON.read_text()) if RESULT_JSON.is_file() else {}
    stored[args.mode] = result
    RESULT_JSON.write_text(json.dumps(_five_digits(stored), indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print(plot(stored))


def _five_digits(value: object) -> object:
    """``value`` with every float rounded to 5 decimals (the results file stays small)."""
    if isinstance(value, float):
        return round(value, 5)
    if isinstance(value, dict):
        return {k: _five_digits(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_five_digits(v) for v in value]
    return value


def summarise(runs: list[dict], fractions: list[float]) -> dict:
    """Mean AUC-PR per fraction, and the gain per doubling of the training structures.

    The gain is the least-squares slope of the AUC-PR against log2 of the training rows
    with a structure (the rows each mode varies; in mode ``all`` every row is scaled
    alike), for the fold mean and for each outer fold (their spread says how sure it is).
    """
    out: dict = {}
    for scheme in sorted({r["scheme"] for r in runs}):
        mine = [r for r in runs if r["scheme"] == scheme]
        for model in MODELS:
            curve = {
                f"{f:g}": float(np.mean([r["auc_pr"][model] for r in mine if r["fraction"] == f]))
                for f in fractions
            }
            n_folds = len(mine[0]["fold_auc_pr"][model])
            slopes = []
            for k in range(n_folds):
                xk = np.log2([r["fold_n_structures"][k] for r in mine])
                yk = np.array([r["fold_auc_pr"][model][k] for r in mine])
                slopes.append(float(np.polyfit(xk, yk, 1)[0]))
            x = np.log2([np.mean(r["fold_n_structures"]) for r in mine])
            yy = np.array([r["auc_pr"][model] for r in mine])
            slope = np.polyfit(x, yy, 1)[0]
            out.setdefault(scheme, {})[model] = {
                "auc_pr_by_fraction": curve,
                "gain_per_doubling": float(slope),
                "gain_per_doubling_by_fold": slopes,
                "folds_with_positive_gain": int(sum(s > 0 for s in slopes)),
                "n_folds": n_folds,
                "n_train_full": float(max(r["n_train_mean"] for r in mine)),
                "n_structures_full": float(max(np.mean(r["fold_n_structures"]) for r in mine)),
            }
    return out


if __name__ == "__main__":
    main()
