"""Out-of-fold ML-stage results for every OBELiX training structure -> results/ml_oof_scores.csv.

For each of the 254 training structures with a CIF, the ML stage's decision as if the
structure were a new candidate: its P_SI from a model trained without its fold, its SOAP
selection with its fold's labels hidden, and the ML gate's verdict with the default
gate policy (band gap from the shipped MEGNet band-gap models). The end-to-end funnel
benchmark (benchmarks/funnel.py) reads this file.

Folds: the stratified 5-fold by reduced formula over all 478 rows used by every ML
benchmark (:func:`sseflow.ml.evaluation.grouped_stratified_kfold_splits`, seed 0).

P_SI source (``--psi``):

- ``model`` (default): the out-of-fold P_SI of the shipped model's recipe, as written by
  ``benchmarks/psi_model.py`` into ``results/psi_model_oof.csv``;
- ``current``: retrain the AtomSets recipe of the ``atomsets_v1_camns`` model (3 seeds of
  hyperparameter set 3 on CAMNS-V1 features) in every fold (the first version of this
  file, before the new model).

Usage::

    PYTHONPATH=src:. nice -n 5 python benchmarks/ml_oof.py [--psi model|current]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "ml_oof_scores.csv"
PSI_OOF = RESULTS / "psi_model_oof.csv"


def folds_of_structures() -> tuple[np.ndarray, list[np.ndarray]]:
    """Fold of each of the 254 structures, and each fold's rows (in structure order)."""
    from sseflow.ml.evaluation import grouped_stratified_kfold_splits

    table = ml_data.everything()
    splits = grouped_stratified_kfold_splits(table.labels, table.formulas, 5, seed=0)
    fold_all = np.empty(len(table), dtype=int)
    for k, (_, val) in enumerate(splits):
        fold_all[val] = k
    position = {i: k for k, i in enumerate(table.ids)}
    fold = np.array([fold_all[position[i]] for i in ml_data.structures().ids])
    return fold, [np.flatnonzero(fold == k) for k in range(len(splits))]


def psi_current(fold: np.ndarray) -> tuple[np.ndarray, str]:
    """Out-of-fold P_SI of the atomsets_v1_camns recipe (retrained per fold)."""
    from sseflow.ml.atomsets.network import (
        CANDIDATE_HYPERPARAMETER_SETS,
        predict_probabilities,
        train_member,
    )

    table = ml_data.structures()
    feats = ml_data.megnet_features(1, "CAMNS")
    y = table.labels
    out = np.empty(len(y))
    for k in np.unique(fold):
        train, val = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
        members = [
            train_member(
                [feats[i] for i in train], y[train], CANDIDATE_HYPERPARAMETER_SETS[3], seed, 32
            )
            for seed in (0, 1, 2)
        ]
        val_x = [feats[i].astype(np.float32) for i in val]
        out[val] = np.mean([predict_probabilities(m, val_x) for m in members], axis=0)
        print(f"  fold {k}: {len(val)} structures scored", flush=True)
    return out, "atomsets_v1_camns recipe (set 3, CAMNS-V1, 3 seeds)"


def psi_model() -> tuple[np.ndarray, str]:
    """Out-of-fold P_SI of the shipped model's recipe (from benchmarks/psi_model.py)."""
    with open(PSI_OOF, newline="") as handle:
        rows = {r["id"]: r for r in csv.DictReader(handle)}
    ids = ml_data.structures().ids
    return np.array([float(rows[i]["p_si_kfold"]) for i in ids]), rows[ids[0]]["model"]


def soap_selection(folds: list[np.ndarray], gate_defaults: dict) -> np.ndarray:
    """Out-of-fold SOAP selection with the clustering tier's default settings."""
    from sseflow.ml.soap.validation import SelectionSetting, leave_labels_out

    table = ml_data.structures()
    setting = SelectionSetting(
        depth=gate_defaults["depth"],
        rule=gate_defaults["rule"],
        high_sigma_s_per_cm=gate_defaults["high_sigma_s_per_cm"],
        min_high_fraction=gate_defaults["min_high_fraction"],
    )
    _, selected = leave_labels_out(ml_data.soap_matrix(), table.sigma_s_per_cm, folds, [setting])
    return selected[setting]


def main() -> None:
    """Write results/ml_oof_scores.csv."""
    from sseflow.funnel.gates.ml_policy import MLPolicyGate
    from sseflow.ml.soap.jobs import SOAPClusteringMaker

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--psi", choices=("model", "current"), default="model")
    args = parser.parse_args()
    table = ml_data.structures()
    fold, folds = folds_of_structures()
    p_si, model = psi_model() if args.psi == "model" else psi_current(fold)
    maker = SOAPClusteringMaker()
    selected = soap_selection(
        folds,
        {
            "depth": maker.depth,
            "rule": maker.rule,
            "high_sigma_s_per_cm": maker.high_sigma_s_per_cm,
            "min_high_fraction": maker.min_high_fraction,
        },
    )
    gaps = ml_data.band_gaps_ev()
    gate = MLPolicyGate()
    RESULTS.mkdir(exist_ok=True)
    with open(OUT, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "id",
                "formula",
                "fold",
                "p_si_oof",
                "soap_selected_oof",
                "band_gap_ev",
                "ml_gate_pass_oof",
                "sigma_s_per_cm",
                "is_upper_bound",
                "superionic",
                "p_si_model",
                "gate_policy",
            ]
        )
        policy = f"{gate.policy}, p_si >= {gate.p_si_threshold}, band gap >= {gate.band_gap_min_ev}"
        for i, label_id in enumerate(table.ids):
            gap = None if np.isnan(gaps[i]) else float(gaps[i])
            docs = {
                "atomsets": {"p_si": float(p_si[i]), "band_gap_ev": gap},
                "soap_clustering": {"selected": bool(selected[i])},
            }
            writer.writerow(
                [
                    label_id,
                    table.formulas[i],
                    int(fold[i]),
                    f"{p_si[i]:.6f}",
                    int(selected[i]),
                    "" if gap is None else f"{gap:.4f}",
                    int(gate.evaluate(docs).passed),
                    f"{table.sigma_s_per_cm[i]:.6g}",
                    int(table.is_upper_bound[i]),
                    int(table.labels[i]),
                    model,
                    policy,
                ]
            )
    si = table.labels == 1
    passed = np.array([r for r in _column(OUT, "ml_gate_pass_oof")], dtype=int) == 1
    print(
        f"wrote {OUT}: gate keeps {passed[si].mean():.0%} of {si.sum()} superionic and "
        f"{passed[~si].mean():.0%} of {(~si).sum()} others"
    )


def _column(path: Path, name: str) -> list[str]:
    with open(path, newline="") as handle:
        return [row[name] for row in csv.DictReader(handle)]


if __name__ == "__main__":
    main()
