"""Nested cross-validation of the P_SI model against baselines, and training the shipped model.

All numbers are on the OBELiX *training split* shipped with sseflow (478 rows, 254 with a
CIF); the OBELiX test split is never used. Two outer schemes, the same for every model:

- ``kfold``: stratified 5-fold grouped by reduced formula (seed 0), over all 478 rows;
- ``loco``: leave-one-cluster-out over the composition clusters of
  :func:`sseflow.ml.evaluation.composition_clusters` (12 requested, small ones merged).

In each outer fold, :func:`sseflow.ml.atomsets.selection.fit_psi_model` chooses every part
of P_SI on inner folds of the outer training rows only (nested CV) and is scored on the
outer validation rows. Baselines on the same folds: the composition forest alone (the
nested-tuned composition component), the structure components alone (pooled-feature
forest and AtomSets ensemble, nested-tuned), the Sendek logistic model, SOAP features with
a logistic regression (C chosen on inner folds), and the shuffled-label and mean
controls. Metrics are reported on all 478 rows and on the 254 with a structure (what a
funnel candidate is).

Stages (``--stage``; results accumulate in ``benchmarks/results/psi_model.json``):

- ``cv``: the nested CV of P_SI (``--atomsets`` adds the AtomSets random search to the
  forests; ``--criterion kfold`` chooses on inner k-fold AUC-PR alone instead of the mean
  of inner k-fold and inner leave-cluster-out; ``--scheme`` limits the outer schemes);
  every outer fold is kept in ``$SSEFLOW_ML_CACHE/outer/<tag>`` so a stopped run
  resumes, and several processes started alike share the folds (each claims the next
  one not taken);
- ``baselines``: Sendek, SOAP, controls on the same folds;
- ``report``: tables, reliability diagram, ``results/psi_model_oof.csv``;
- ``train``: the shipped model on all 478 rows -> ``src/sseflow/data/models/<name>``.

Usage::

    PYTHONPATH=src:. nice -n 5 python benchmarks/psi_model.py --stage cv [--atomsets]
    # e.g. one process per core: OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 ... & (twice)
    PYTHONPATH=src:. python benchmarks/psi_model.py --stage baselines
    PYTHONPATH=src:. python benchmarks/psi_model.py --stage report
    PYTHONPATH=src:. nice -n 5 python benchmarks/psi_model.py --stage train  # psi_v3, shipped
    # psi_v2 (the recipe without the gated combiner): --atomsets --no-gate
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
RESULT_JSON = RESULTS / "psi_model.json"
OOF_CSV = RESULTS / "psi_model_oof.csv"
FIGURES = ROOT / "docs" / "atomsets"
MODEL_NAME = "psi_v3"
SCHEMES = ("kfold", "loco")


def _load() -> dict:
    return json.loads(RESULT_JSON.read_text()) if RESULT_JSON.is_file() else {}


def _save(results: dict) -> None:
    """Write ``results`` over the stored file's keys (other stages' results are kept)."""
    RESULTS.mkdir(exist_ok=True)
    merged = {**_load(), **results}
    RESULT_JSON.write_text(json.dumps(merged, indent=1, default=float) + "\n")


def training_set():
    """All 478 rows, with the cached MEGNet features of the 254 structures."""
    from sseflow.ml.atomsets.featurization import FeatureSettings
    from sseflow.ml.atomsets.selection import TrainingSet

    table = ml_data.everything()
    data = TrainingSet.from_label_table(table)
    position = {i: k for k, i in enumerate(ml_data.structures().ids)}
    for level, simplification in ml_data.MEGNET_VARIANTS:
        feats = ml_data.megnet_features(level, simplification)
        data.features[FeatureSettings(level, simplification)] = [
            feats[position[i]] if i in position else None for i in table.ids
        ]
    return data


def outer_splits(data) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The two outer schemes (see the module docstring)."""
    from sseflow.ml.evaluation import (
        composition_clusters,
        grouped_stratified_kfold_splits,
        leave_one_cluster_out_splits,
    )

    clusters = composition_clusters(data.compositions, n_clusters=12)
    return {
        "kfold": grouped_stratified_kfold_splits(data.labels, data.groups, 5, seed=0),
        "loco": leave_one_cluster_out_splits(clusters),
    }


def _settings(atomsets: bool, criterion: str, gated: bool, seeds: tuple[int, ...] = (0,)):
    from sseflow.ml.atomsets.selection import SelectionSettings

    # outer folds: one seed per AtomSets configuration (the shipped model uses three)
    return SelectionSettings(
        n_atomsets=20 if atomsets else 0, seeds=seeds, criterion=criterion, gated_combiner=gated
    )


def _tag(atomsets: bool, criterion: str, gated: bool) -> str:
    """Name of a recipe's outer folds (runs before the gated combiner have no suffix)."""
    return f"{'atomsets' if atomsets else 'forests'}_{criterion}{'_gated' if gated else ''}"


def _ungated(tag: str) -> str | None:
    """The same recipe without the gated combiner (compared side by side), if ``tag`` has it."""
    return tag.removesuffix("_gated") if tag.endswith("_gated") else None


def _claim(path: Path) -> bool:
    """Claim an outer fold for this process (several processes share the folds).

    A claim is a file holding the claiming process's id; a claim whose process is gone
    (killed run) is taken over.
    """
    claim = path.with_suffix(".claim")
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                os.kill(int(claim.read_text() or 0), 0)
                return False  # another live process works on this fold
            except (ProcessLookupError, ValueError):
                claim.unlink(missing_ok=True)
                continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def stage_cv(
    results: dict, atomsets: bool, criterion: str, gated: bool, schemes: tuple[str, ...]
) -> None:
    """Nested CV of P_SI, one outer fold at a time (resumable; processes share the folds)."""
    from sseflow.ml.atomsets.components import ForestComponent, pooled_features
    from sseflow.ml.atomsets.selection import (
        PredictionCache,
        fit_psi_model,
        fit_structure_component,
    )

    data = training_set()
    splits = outer_splits(data)
    cache = PredictionCache(ml_data.CACHE / "predictions")
    tag = _tag(atomsets, criterion, gated)
    outer_dir = ml_data.CACHE / "outer" / tag
    outer_dir.mkdir(parents=True, exist_ok=True)
    for scheme in schemes:
        for k, (train, val) in enumerate(splits[scheme]):
            path = outer_dir / f"{scheme}_{k}.json"
            if path.is_file() or not _claim(path):
                continue
            t0 = time.perf_counter()
            print(f"[{scheme} {k}] {len(train)} train / {len(val)} validation rows", flush=True)
            model, selection = fit_psi_model(
                data,
                train,
                _settings(atomsets, criterion, gated),
                cache,
                log=lambda m: print("   ", m, flush=True),
            )
            comps = [data.compositions[i] for i in val]
            feats = data.atom_features(model.feature_settings)
            pred = model.predict(comps, [feats[i] for i in val])
            out = {
                "val": val.tolist(),
                "p_si": pred.p_si.tolist(),
                "p_si_std": pred.p_si_std.tolist(),
                "p_composition": pred.p_composition.tolist(),
                "p_structure": pred.p_structure.tolist(),
                "d_training": pred.d_training.tolist(),
                "d_composition": None
                if pred.d_composition is None
                else pred.d_composition.tolist(),
                "family": selection.family,
                "selection": model.selection,
                "wall_s": 0.0,
            }
            # both structure families alone, as baselines (the chosen one is p_structure)
            for family, choice in (
                ("pooled_forest", selection.pooled_forest),
                ("atomsets", selection.atomsets),
            ):
                if choice is None:
                    continue
                if family == selection.family:
                    out[f"p_{family}"] = out["p_structure"]
                    continue
                component = fit_structure_component(data, choice, train, seeds=(0,))
                fs = (
                    choice.feature_settings
                    if family == "pooled_forest"
                    else choice[0].feature_settings
                )
                f = data.atom_features(fs)
                keep = [j for j, i in enumerate(val) if f[i] is not None]
                p = np.full(len(val), np.nan)
                if keep:
                    x = [f[val[j]] for j in keep]
                    p[keep] = (
                        component.predict(pooled_features(x))[0]
                        if isinstance(component, ForestComponent)
                        else component.predict_features(x).p_si
                    )
                out[f"p_{family}"] = p.tolist()
            out["wall_s"] = round(time.perf_counter() - t0, 1)
            path.write_text(json.dumps(out, default=float))
            path.with_suffix(".claim").unlink(missing_ok=True)
            print(f"[{scheme} {k}] done in {out['wall_s']} s", flush=True)
    results.setdefault("cv_runs", {})[tag] = str(outer_dir)
    _save(results)


def stage_baselines(results: dict) -> None:
    """Sendek logistic model and SOAP + logistic regression on the same outer folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from sseflow.ml import evaluation as ev

    data = training_set()
    splits = outer_splits(data)
    table = ml_data.everything()
    position = {i: k for k, i in enumerate(ml_data.structures().ids)}
    has = np.array([i in position for i in table.ids])
    rows = [position.get(i, 0) for i in table.ids]
    sendek = np.where(has[:, None], ml_data.sendek_matrix()[rows], np.nan)
    soap = np.where(has[:, None], ml_data.soap_matrix()[rows], np.nan)
    y = data.labels

    def soap_fit_predict(train: np.ndarray, val: np.ndarray) -> np.ndarray:
        # C of the L2-penalised logistic regression chosen on inner folds of ``train``
        inner = ev.grouped_stratified_kfold_splits(y[train], [data.groups[i] for i in train], 3)
        best_c, best = 1.0, -1.0
        for c in (0.001, 0.01, 0.1, 1.0):
            oof = np.empty(len(train))
            for tr, va in inner:
                model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
                oof[va] = model.fit(soap[train[tr]], y[train[tr]]).predict_proba(soap[train[va]])[
                    :, 1
                ]
            score = ev.binary_metrics(y[train], oof)["auc_pr"]
            if score > best:
                best_c, best = c, score
        model = make_pipeline(StandardScaler(), LogisticRegression(C=best_c, max_iter=5000))
        return model.fit(soap[train], y[train]).predict_proba(soap[val])[:, 1]

    out = {}
    for scheme, scheme_splits in splits.items():
        restricted = [(tr, va[has[va]]) for tr, va in scheme_splits]
        for name, fit_predict in (
            ("sendek_logistic", ev.logistic_fit_predict(sendek, y)),
            ("soap_logistic", soap_fit_predict),
        ):
            oof = np.full(len(y), np.nan)
            fp = ev.restrict_training(fit_predict, has)
            for tr, va in restricted:
                if len(va):
                    oof[va] = fp(tr, va)
            out.setdefault(scheme, {})[name] = oof.tolist()
    results["baselines_oof"] = out
    results["clusters"] = {
        "sizes": [len(va) for _, va in splits["loco"]],
        "positives": [int(y[va].sum()) for _, va in splits["loco"]],
    }
    _save(results)


def _collect(tag: str, scheme: str, n: int, splits) -> dict:
    from sseflow.ml.atomsets.stack import Combiner

    folder = ml_data.CACHE / "outer" / tag
    keys = (
        "p_si",
        "p_composition",
        "p_structure",
        "p_pooled_forest",
        "p_atomsets",
        "d_training",
        "d_composition",
    )
    out = {key: np.full(n, np.nan) for key in keys}
    out["raw"] = np.full(n, np.nan)
    families, choices = [], []
    for k in range(len(splits)):
        path = folder / f"{scheme}_{k}.json"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: run --stage cv first")
        fold = json.loads(path.read_text())
        val = np.asarray(fold["val"])
        for key in keys:
            if fold.get(key) is not None:
                out[key][val] = np.asarray(fold[key], dtype=float)
        families.append(fold["family"])
        record = fold["selection"]
        combiner = Combiner.from_dict(record["combiner"]["chosen"])
        out["raw"][val] = combiner(
            out["p_composition"][val], out["p_structure"][val], out["d_composition"][val]
        )
        pooled = record["pooled_forest"]["chosen"]
        choices.append(
            {
                "family": fold["family"],
                "composition": record["composition"]["chosen"],
                "pooled_forest": f"V{pooled['level']}-{pooled['simplification']}",
                "atomsets": [
                    f"V{c['level']}-{c['simplification']}"
                    for c in record.get("atomsets", {}).get("chosen", [])
                ],
                "combiner": record["combiner"]["chosen"],
                "calibration": record["calibration"]["chosen"],
                # inner AUC-PR of each structure family (k-fold and cluster folds)
                "family_inner_auc_pr": record.get("structure_family_inner_auc_pr", {}),
                "wall_s": fold.get("wall_s"),
            }
        )
    out["families"] = families
    out["choices"] = choices
    return out


def stage_report(results: dict, tag: str, schemes: tuple[str, ...] = SCHEMES) -> None:
    """Metrics of P_SI and the baselines, reliability, the OOF CSV and the figures."""
    from sseflow.ml import evaluation as ev
    from sseflow.ml.calibration import brier_score, reliability

    data = training_set()
    splits = outer_splits(data)
    y = data.labels
    has = np.array([s is not None for s in data.structures])
    report: dict = {"tag": tag}
    oof_by_scheme = {}
    for scheme in schemes:
        got = _collect(tag, scheme, len(y), splits[scheme])
        oof_by_scheme[scheme] = got
        models = {
            "P_SI (shipped recipe)": got["p_si"],
            "composition forest": got["p_composition"],
            "pooled-feature forest": got["p_pooled_forest"],
            "AtomSets ensemble": got["p_atomsets"],
            "Sendek logistic": np.asarray(results["baselines_oof"][scheme]["sendek_logistic"]),
            **(
                {
                    "P_SI without the gate": _collect(
                        _ungated(tag), scheme, len(y), splits[scheme]
                    )["p_si"]
                }
                if _ungated(tag)
                else {}
            ),
            "SOAP logistic": np.asarray(results["baselines_oof"][scheme]["soap_logistic"]),
        }
        rows = {}
        for name, oof in models.items():
            if np.isnan(oof).all():
                continue
            rows[name] = {
                "all_rows": ev.oof_metrics(y, oof, splits[scheme])
                if not np.isnan(oof[~has]).all()
                else None,
                "structures": ev.oof_metrics(y, oof, splits[scheme], subset=has),
            }
        for entry in rows.values():
            for part in entry.values():
                if part:  # per fold only the model's metrics (paired comparisons)
                    folds = part.pop("folds", [])
                    part["fold_auc_pr"] = [f["model"]["auc_pr"] for f in folds]
                    part["fold_mcc"] = [f["model"]["mcc"] for f in folds]
        report[scheme] = {"models": rows, "families": got["families"]}
        report[scheme]["bootstrap"] = _bootstrap(y, models, splits[scheme], has)
        p = got["p_si"]
        report[scheme]["reliability"] = {
            "structures": reliability(y[has], p[has]).as_dict(),
            "all_rows": reliability(y, p).as_dict(),
        }
        raw = got["raw"]
        report[scheme]["brier"] = {
            "structures": brier_score(y[has], p[has]),
            "all_rows": brier_score(y, p),
            "prevalence_structures": float(y[has].mean()),
            "uncalibrated_structures": brier_score(y[has], raw[has]),
        }
        report[scheme]["reliability"]["uncalibrated_structures"] = reliability(
            y[has], raw[has]
        ).as_dict()
        report[scheme]["choices"] = got["choices"]
    results[f"report_{tag}"] = report
    _save(results)
    if tag == results.get("train", {}).get("tag") and set(schemes) == set(SCHEMES):
        # the committed OOF table and figures describe the shipped recipe only
        _write_oof_csv(data, oof_by_scheme, splits, tag)
        _figures(data, oof_by_scheme, tag)
    _print_tables(report)


def _bootstrap(y, models: dict, splits, has, n_resamples: int = 2000) -> dict:
    """Paired bootstrap of the fold-mean AUC-PR on the rows with a structure.

    95 % intervals of each model's mean over folds and of P_SI minus each baseline,
    the fraction of replicates where P_SI is higher, and where each model reaches the
    issue's LOCO goal (0.70); resampling the validation rows of the given folds, and
    the folds too.
    """
    from sseflow.ml.evaluation import bootstrap_fold_means

    scored = {name: oof for name, oof in models.items() if not np.isnan(oof[has]).all()}

    def interval(values: np.ndarray) -> list[float]:
        return [float(v) for v in np.percentile(values, [2.5, 97.5])]

    out: dict = {
        "n_resamples": n_resamples,
        # rows every model scored (the paired resamples need the same rows)
        "n_rows": int((has & ~np.isnan(np.array(list(scored.values()))).any(axis=0)).sum()),
    }
    for level, resample_folds in (("rows", False), ("folds_and_rows", True)):
        means = bootstrap_fold_means(
            y, scored, splits, subset=has, n_resamples=n_resamples, resample_folds=resample_folds
        )
        p = means["P_SI (shipped recipe)"]
        out[level] = {
            "models": {
                name: {"interval_95": interval(v), "at_least_0.70": float(np.mean(v >= 0.70))}
                for name, v in means.items()
            },
            "p_si_minus": {
                name: {"interval_95": interval(p - v), "p_si_higher": float(np.mean(p > v))}
                for name, v in means.items()
                if v is not p
            },
        }
    return out


def _write_oof_csv(data, oof_by_scheme, splits, tag) -> None:
    fold = {scheme: np.empty(len(data), dtype=int) for scheme in SCHEMES}
    for scheme in SCHEMES:
        for k, (_, val) in enumerate(splits[scheme]):
            fold[scheme][val] = k
    table = ml_data.everything()
    with open(OOF_CSV, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "id",
                "formula",
                "has_structure",
                "sigma_s_per_cm",
                "superionic",
                "fold_kfold",
                "p_si_kfold",
                "p_composition_kfold",
                "p_structure_kfold",
                "cluster_loco",
                "p_si_loco",
                "model",
            ]
        )
        for i, label_id in enumerate(data.ids):
            k, c = oof_by_scheme["kfold"], oof_by_scheme["loco"]
            writer.writerow(
                [
                    label_id,
                    table.formulas[i],
                    int(data.structures[i] is not None),
                    f"{table.sigma_s_per_cm[i]:.6g}",
                    int(data.labels[i]),
                    int(fold["kfold"][i]),
                    f"{k['p_si'][i]:.6f}",
                    f"{k['p_composition'][i]:.6f}",
                    "" if np.isnan(k["p_structure"][i]) else f"{k['p_structure'][i]:.6f}",
                    int(fold["loco"][i]),
                    f"{c['p_si'][i]:.6f}",
                    f"{MODEL_NAME} recipe ({tag}), nested CV",
                ]
            )


def _figures(data, oof_by_scheme, tag) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sseflow.ml.calibration import reliability

    FIGURES.mkdir(parents=True, exist_ok=True)
    y = data.labels
    has = np.array([s is not None for s in data.structures])
    fig, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfect")
    for scheme, marker in (("kfold", "o"), ("loco", "s")):
        bins = reliability(y[has], oof_by_scheme[scheme]["p_si"][has], n_bins=10)
        keep = bins.counts > 0
        ax.plot(
            bins.mean_score[keep],
            bins.observed_fraction[keep],
            marker=marker,
            label=f"{scheme} (ECE {bins.expected_calibration_error:.3f})",
        )
    ax.set_xlabel("out-of-fold P_SI")
    ax.set_ylabel("fraction superionic")
    ax.set_title("P_SI reliability (254 structures)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIGURES / "psi_reliability.png", dpi=120)
    plt.close(fig)


def _fmt(s: dict) -> str:
    return f"{s['mean']:.2f} ± {s['std']:.2f}"


def _print_tables(report: dict) -> None:
    for scheme in (s for s in SCHEMES if s in report):
        print(f"\n{scheme}: families chosen per fold {report[scheme]['families']}")
        for part in ("structures", "all_rows"):
            print(f"  on {part}:")
            for name, entry in report[scheme]["models"].items():
                m = entry.get(part)
                if not m:
                    continue
                s = m["summary"]
                print(
                    f"    {name:26s} AUC-PR {_fmt(s['model_auc_pr'])}  MCC {_fmt(s['model_mcc'])}"
                    f"  pooled AUC-PR {m['pooled']['auc_pr']:.2f} Brier {m['pooled']['brier']:.3f}"
                    f"  | shuffled {_fmt(s['shuffled_auc_pr'])} mean {_fmt(s['mean_auc_pr'])}"
                )


def stage_train(results: dict, atomsets: bool, criterion: str, gated: bool) -> None:
    """Train the shipped model on all rows (three seeds per AtomSets configuration)."""
    from sseflow.common.paths import shipped_data
    from sseflow.ml.atomsets.selection import PredictionCache, fit_psi_model

    data = training_set()
    settings = _settings(atomsets, criterion, gated, seeds=(0, 1, 2))
    t0 = time.perf_counter()
    model, selection = fit_psi_model(
        data,
        None,
        settings,
        PredictionCache(ml_data.CACHE / "predictions"),
        log=lambda m: print("   ", m, flush=True),
    )
    wall = time.perf_counter() - t0
    tag = _tag(atomsets, criterion, gated)
    report = results.get(f"report_{tag}", {})
    model.training.update(
        {
            "label_table": "sseflow/data/obelix/train.csv (OBELiX training split, CC BY 4.0)",
            "wall_time_s": round(wall, 1),
        }
    )
    model.metrics = {
        "nested_cv": {
            scheme: {
                name: {
                    part: entry[part]["summary"] | {"pooled": entry[part]["pooled"]}
                    for part in entry
                    if entry[part]
                }
                for name, entry in report.get(scheme, {}).get("models", {}).items()
            }
            for scheme in SCHEMES
        },
        "brier": {scheme: report.get(scheme, {}).get("brier") for scheme in SCHEMES},
        "benchmark": "benchmarks/psi_model.py",
    }
    out = model.save(shipped_data("models", MODEL_NAME), model_version=MODEL_NAME)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    earlier = results.get("train")
    if earlier and not earlier.get("dir", "").endswith(MODEL_NAME):  # an earlier model
        results.setdefault("earlier_trains", {})[Path(earlier["dir"]).name] = earlier
    results["train"] = {
        "tag": tag,
        "wall_s": round(wall, 1),
        "dir": str(out.relative_to(ROOT)),
        "size_bytes": size,
        "family": selection.family,
    }
    _save(results)
    print(f"saved {out} ({size / 1e6:.1f} MB) in {wall:.0f} s")


def main() -> None:
    """Run the chosen stages."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=("cv", "baselines", "report", "train"), action="append")
    parser.add_argument("--atomsets", action="store_true", help="Search AtomSets too.")
    parser.add_argument(
        "--criterion", choices=("kfold+clusters", "kfold"), default="kfold+clusters"
    )
    parser.add_argument(
        "--no-gate",
        dest="gated",
        action="store_false",
        help="Leave the gated combiner out of the search (the psi_v2 recipe).",
    )
    parser.add_argument(
        "--scheme",
        choices=SCHEMES,
        action="append",
        help="Outer schemes of the cv and report stages (default: both).",
    )
    args = parser.parse_args()
    schemes = tuple(args.scheme or SCHEMES)
    results = _load()
    atomsets = args.atomsets
    tag = _tag(atomsets, args.criterion, args.gated)
    for stage in args.stage or ("cv", "baselines", "report", "train"):
        t0 = time.perf_counter()
        if stage == "cv":
            stage_cv(results, atomsets, args.criterion, args.gated, schemes)
        elif stage == "baselines":
            stage_baselines(results)
        elif stage == "report":
            stage_report(results, tag, schemes)
        else:
            stage_train(results, atomsets, args.criterion, args.gated)
        print(f"stage {stage}: {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
