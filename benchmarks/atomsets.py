"""Benchmark and model selection for the AtomSets tier on the shipped OBELiX training split.

Stages (run all by default; results accumulate in benchmarks/atomsets_results.json):

- ``timing``: featurize + score the 254 training structures with the shipped ensemble,
  cold (a fresh Python process, including TensorFlow and model loading) and warm.
- ``baseline``: Sendek logistic regression, k-fold and LOCO, with controls.
- ``kfold``: stratified 5-fold CV of candidate hyperparameter sets (1 seed each) and the
  selection of the sets kept for the ensemble.
- ``loco``: leave-one-cluster-out CV of the best set.
- ``batching``: MEGNet V1 featurization time for several batch sizes.
- ``train``: trains the default ensemble on all structures with the sets kept by CV and
  writes it to src/sseflow/data/models/atomsets_v1_camns.

Usage::

    PYTHONPATH=src python benchmarks/atomsets.py            # all stages
    PYTHONPATH=src python benchmarks/atomsets.py --stage kfold --sets 3,4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "atomsets_results.json"
SEEDS = (0, 1, 2)
N_CLUSTERS = 12


def _load_results() -> dict:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def _save_results(results: dict) -> None:
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


def _strip(cv: dict) -> dict:
    """Drop per-structure arrays before storing."""
    return {
        "summary": cv["summary"],
        "folds": [
            {k: v for k, v in f.items() if k not in ("probabilities", "val_indices")}
            for f in cv["folds"]
        ],
    }


def _api():
    """The AtomSets API used here (split over several modules), as one namespace."""
    from types import SimpleNamespace

    from sseflow.ml import labels
    from sseflow.ml.atomsets import ensemble, featurization, network, scoring

    modules = (labels, network, featurization, ensemble, scoring)
    return SimpleNamespace(**{k: v for m in modules for k, v in vars(m).items()})


def _prepare():
    from sseflow.ml import evaluation as E  # noqa: N812

    A = _api()  # noqa: N806

    data = A.load_label_table(A.default_training_table())
    settings = A.FeatureSettings()
    feats = A.featurize(data.structures, settings)
    kfold = E.stratified_kfold_splits(data.labels, 5, seed=0)
    clusters = E.composition_clusters(data.formulas, N_CLUSTERS)
    return data, settings, feats, kfold, E.leave_one_cluster_out_splits(clusters), clusters


def stage_baseline(results: dict) -> None:
    from sseflow.ml import evaluation as E  # noqa: N812
    from sseflow.ml.sendek import sendek_feature_matrix

    data, _, _, kfold, loco, clusters = _prepare()
    y = data.labels
    out = results.setdefault("cv", {})
    out.update(
        {
            "n_structures": len(y),
            "n_positive": int(y.sum()),
            "clusters": {
                str(c): {"n": int((clusters == c).sum()), "n_positive": int(y[clusters == c].sum())}
                for c in np.unique(clusters)
            },
        }
    )
    logit = E.logistic_fit_predict(sendek_feature_matrix(data.structures), y)
    out["logistic_kfold"] = _strip(E.cross_validate(y, kfold, logit))
    out["logistic_loco"] = _strip(E.cross_validate(y, loco, logit))
    _save_results(results)


def stage_kfold(results: dict, sets: list[int]) -> None:
    from sseflow.ml import evaluation as E  # noqa: N812

    A = _api()  # noqa: N806

    data, settings, feats, kfold, _, _ = _prepare()
    y = data.labels
    out = results.setdefault("cv", {})
    per_set = {r["set"]: r for r in out.get("atomsets_kfold_per_set", [])}
    for k in sets:
        hyper = A.CANDIDATE_HYPERPARAMETER_SETS[k]
        t0 = time.perf_counter()
        fp = E.atomsets_fit_predict(feats, y, [hyper], [0], settings.input_dim)
        cv = E.cross_validate(y, kfold, fp)
        per_set[k] = {
            "set": k,
            "hyperparameters": hyper.as_dict(),
            "kfold": _strip(cv),
            "wall_s": round(time.perf_counter() - t0, 1),
        }
        out["atomsets_kfold_per_set"] = [per_set[i] for i in sorted(per_set)]
        _save_results(results)
        print(k, cv["summary"]["model_auc_pr"], cv["summary"]["model_mcc"], flush=True)
    rows = out["atomsets_kfold_per_set"]
    best = max(rows, key=lambda r: r["kfold"]["summary"]["model_auc_pr"]["mean"])
    best_auc = best["kfold"]["summary"]["model_auc_pr"]["mean"]
    out["selection"] = {
        "rule": "keep sets whose k-fold mean AUC-PR is within 0.03 of the best",
        "best_set": best["set"],
        "kept_sets": [
            r["set"]
            for r in rows
            if r["kfold"]["summary"]["model_auc_pr"]["mean"] >= best_auc - 0.03
        ],
    }
    _save_results(results)


def stage_loco(results: dict) -> None:
    from sseflow.ml import evaluation as E  # noqa: N812

    A = _api()  # noqa: N806

    data, settings, feats, _, loco, _ = _prepare()
    out = results["cv"]
    best = out["selection"]["best_set"]
    t0 = time.perf_counter()
    fp = E.atomsets_fit_predict(
        feats, data.labels, [A.CANDIDATE_HYPERPARAMETER_SETS[best]], [0], settings.input_dim
    )
    out["atomsets_loco_best_set"] = _strip(E.cross_validate(data.labels, loco, fp))
    out["atomsets_loco_best_set"]["set"] = best
    out["atomsets_loco_best_set"]["wall_s"] = round(time.perf_counter() - t0, 1)
    _save_results(results)


def stage_train(results: dict) -> None:
    A = _api()  # noqa: N806

    kept = results.get("cv", {}).get("selection", {}).get("kept_sets", [0, 1, 2])
    sets = [A.CANDIDATE_HYPERPARAMETER_SETS[k] for k in kept]
    data = A.load_label_table(A.default_training_table())
    settings = A.FeatureSettings()
    feats = A.featurize(data.structures, settings)
    t0 = time.perf_counter()
    ens = A.train_ensemble(feats, data.labels, settings, sets, SEEDS, ids=data.ids)
    wall = time.perf_counter() - t0
    cv = results.get("cv", {})
    ens.training.update(
        {
            "label_table": "sseflow/data/obelix/train.csv (OBELiX training split, CC BY 4.0)",
            "wall_time_s": round(wall, 1),
        }
    )
    ens.metrics = {
        "note": "cross-validation on the OBELiX training split (not a held-out test set)",
        "kfold_per_set": {
            str(r["set"]): r["kfold"]["summary"] for r in cv.get("atomsets_kfold_per_set", [])
        },
        "loco_best_set": cv.get("atomsets_loco_best_set", {}).get("summary"),
        "logistic_kfold": cv.get("logistic_kfold", {}).get("summary"),
    }
    out_dir = ROOT / "src" / "sseflow" / "data" / "models" / "atomsets_v1_camns"
    ens.save(out_dir, model_version="atomsets_v1_camns")
    results["train"] = {"members": len(ens.members), "wall_s": round(wall, 1), "dir": str(out_dir)}
    _save_results(results)


_SCORE_SNIPPET = """
import time, json
t0 = time.perf_counter()
from sseflow.ml.labels import load_obelix_labels
from sseflow.ml.atomsets import featurization as F, scoring as S
data = load_obelix_labels()
t1 = time.perf_counter()
ens = S.load_default_ensemble()
feats = F.featurize(data.structures, ens.feature_settings)
pred = ens.predict_features(feats)
t2 = time.perf_counter()
feats = F.featurize(data.structures, ens.feature_settings)
t3 = time.perf_counter()
pred = ens.predict_features(feats)
t4 = time.perf_counter()
print(json.dumps({"read_cifs_s": t1 - t0, "cold_featurize_and_score_s": t2 - t1,
  "warm_featurize_s": t3 - t2, "warm_score_s": t4 - t3, "n": len(feats),
  "n_members": len(ens.members)}))
"""


def stage_timing(results: dict) -> None:
    env = {
        "PYTHONPATH": str(ROOT / "src"),
        "PATH": "/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "SSEFLOW_TF_THREADS": "1",
    }
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _SCORE_SNIPPET],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    total = time.perf_counter() - t0
    timing = json.loads(proc.stdout.strip().splitlines()[-1])
    timing["cold_process_total_s"] = total
    results["timing"] = {k: round(v, 2) if isinstance(v, float) else v for k, v in timing.items()}
    _save_results(results)


def stage_batching(results: dict) -> None:
    """Time MEGNet V1 featurization of the 254 structures for several batch sizes."""
    from sseflow.ml.atomsets import features as mf

    A = _api()  # noqa: N806

    data = A.load_label_table(A.default_training_table())
    mf.load_parent_model()
    t0 = time.perf_counter()
    simplified = [A.simplify_for_features(s, "CAMNS") for s in data.structures]
    out: dict = {"simplify_s": round(time.perf_counter() - t0, 2)}
    mf.atom_features(simplified[:5], level=1)  # warm-up
    for atoms in (300, 1000, 4000):
        t0 = time.perf_counter()
        mf.atom_features(simplified, level=1, max_atoms_per_batch=atoms)
        out[f"batch_{atoms}_atoms_s"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    for s in simplified:
        mf.atom_features([s], level=1)
    out["one_at_a_time_s"] = round(time.perf_counter() - t0, 2)
    results["batching"] = out
    _save_results(results)


def _fmt(summary: dict, key: str) -> str:
    v = summary[key]
    return f"{v['mean']:.2f} ± {v['std']:.2f}"


def _cv_row(name: str, summary: dict) -> str:
    return (
        f"| {name} | {_fmt(summary, 'model_auc_pr')} | {_fmt(summary, 'model_mcc')} | "
        f"{_fmt(summary, 'shuffled_auc_pr')} | {_fmt(summary, 'shuffled_mcc')} | "
        f"{_fmt(summary, 'mean_auc_pr')} | {_fmt(summary, 'mean_mcc')} |"
    )


def stage_docs(results: dict) -> None:
    """Write the measured tables into docs/atomsets.md (between the result markers)."""
    cv = results["cv"]
    head = (
        "| model | AUC-PR | MCC | shuffled AUC-PR | shuffled MCC | mean AUC-PR | mean MCC |\n"
        "|---|---|---|---|---|---|---|"
    )
    lines = [
        f"Data: {cv['n_structures']} OBELiX training structures, {cv['n_positive']} superionic "
        "(sigma >= 1e-4 S/cm). Mean ± standard deviation over folds; controls on the same folds.",
        "",
        "**Stratified 5-fold CV** (one seed per set; CAMNS-V1 features)",
        "",
        head,
    ]
    for r in cv["atomsets_kfold_per_set"]:
        lines.append(_cv_row(f"AtomSets set {r['set']}", r["kfold"]["summary"]))
    lines.append(_cv_row("logistic regression (Sendek features)", cv["logistic_kfold"]["summary"]))
    sel = cv["selection"]
    lines += [
        "",
        f"Selection rule: {sel['rule']} -> kept sets {sel['kept_sets']} (best: {sel['best_set']}).",
        "",
        f"**Leave-one-cluster-out CV** ({len(cv['clusters'])} composition clusters; "
        "clusters without positives have no AUC-PR and are skipped in its mean)",
        "",
        head,
    ]
    loco = cv.get("atomsets_loco_best_set")
    if loco:
        lines.append(_cv_row(f"AtomSets set {loco['set']}", loco["summary"]))
    lines.append(_cv_row("logistic regression (Sendek features)", cv["logistic_loco"]["summary"]))
    lines += ["", "| cluster | structures | superionic |", "|---|---|---|"]
    for c, v in cv["clusters"].items():
        lines.append(f"| {c} | {v['n']} | {v['n_positive']} |")
    if loco:
        lines += [
            "",
            "Per-cluster LOCO results of the AtomSets set:",
            "",
            "| cluster | AUC-PR | MCC | shuffled AUC-PR | mean AUC-PR |",
            "|---|---|---|---|---|",
        ]
        for f in loco["folds"]:
            ctrl = f["controls"]
            lines.append(
                f"| {f['fold']} | {f['model']['auc_pr']:.2f} | {f['model']['mcc']:.2f} | "
                f"{ctrl['shuffled']['auc_pr']:.2f} | {ctrl['mean']['auc_pr']:.2f} |"
            )
    t = results.get("timing")
    if t:
        lines += [
            "",
            f"**Timing** ({t['n']} structures, ensemble of {t['n_members']} members, "
            "TensorFlow limited to 1 thread, shared 2-core machine)",
            "",
            "| step | seconds |",
            "|---|---|",
            f"| read CIFs | {t['read_cifs_s']} |",
            f"| cold: load TF + models, featurize and score | {t['cold_featurize_and_score_s']} |",
            f"| whole cold process (python start to exit) | {t['cold_process_total_s']} |",
            f"| warm: featurize (simplify + MEGNet V1, batched) | {t['warm_featurize_s']} |",
            f"| warm: score with the ensemble | {t['warm_score_s']} |",
        ]
    b = results.get("batching")
    if b:
        lines += [
            "",
            "**MEGNet V1 featurization of the 254 simplified structures** (1 thread; "
            f"CAMNS simplification {b['simplify_s']} s)",
            "",
            "| batching | seconds |",
            "|---|---|",
            f"| one structure at a time | {b['one_at_a_time_s']} |",
            f"| disjoint graphs of <= 300 atoms | {b['batch_300_atoms_s']} |",
            f"| disjoint graphs of <= 1000 atoms (default) | {b['batch_1000_atoms_s']} |",
            f"| disjoint graphs of <= 4000 atoms | {b['batch_4000_atoms_s']} |",
        ]
    tr = results.get("train")
    if tr:
        lines += ["", f"Training the shipped ensemble ({tr['members']} members): {tr['wall_s']} s."]
    doc = ROOT / "docs" / "atomsets.md"
    text = doc.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    before, _, rest = text.partition(start)
    _, _, after = rest.partition(end)
    doc.write_text(before + start + "\n" + "\n".join(lines) + "\n" + end + after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--stage",
        action="append",
        choices=["baseline", "kfold", "loco", "train", "timing", "batching", "docs"],
    )
    parser.add_argument("--sets", default="0,1,2,3,4", help="candidate sets for k-fold")
    args = parser.parse_args()
    stages = args.stage or ["baseline", "kfold", "loco", "train", "timing", "batching", "docs"]
    sets = [int(k) for k in args.sets.split(",")]
    results = _load_results()
    runners = {
        "baseline": stage_baseline,
        "kfold": lambda r: stage_kfold(r, sets),
        "loco": stage_loco,
        "train": stage_train,
        "timing": stage_timing,
        "batching": stage_batching,
        "docs": stage_docs,
    }
    for stage in stages:
        t0 = time.perf_counter()
        runners[stage](results)
        print(f"stage {stage}: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
