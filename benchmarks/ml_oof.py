"""Out-of-fold ML-stage results for every OBELiX training structure, and the ML gate policy.

For each of the 254 training structures with a CIF, the ML stage's decision as if the
structure were a new candidate: its P_SI from a model trained without its fold, its SOAP
selection with its fold's labels hidden (the clustering tier's default settings), and
the ML gate's verdict with the default gate policy (band gap from the shipped MEGNet
band-gap models). Written to ``results/ml_oof_scores.csv``; the end-to-end funnel
benchmark (benchmarks/funnel.py) reads it.

The same out-of-fold signals choose the gate's default policy
(:mod:`sseflow.ml.policy`): every policy (``p_si_only``, ``any``, ``all``) x P_SI
threshold x band-gap minimum is scored, and the one passing the fewest non-superionic
structures while keeping >= 90 % of the superionic ones is the choice; the choice is
also scored by nested CV (chosen on four folds, applied to the fifth). Written to
``results/ml_gate_policy.json`` and ``docs/atomsets/ml_gate_policy.png``; the script
warns when ``MLPolicyGate()``'s defaults differ from the choice.

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
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data

RESULTS = Path(__file__).resolve().parent / "results"
OUT = RESULTS / "ml_oof_scores.csv"
PSI_OOF = RESULTS / "psi_model_oof.csv"
POLICY_JSON = RESULTS / "ml_gate_policy.json"
FIGURE = Path(__file__).resolve().parent.parent / "docs" / "atomsets" / "ml_gate_policy.png"
MIN_RECALL = 0.9


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
    choose_gate_policy(p_si, selected, gaps, table.labels, fold, model)
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


def choose_gate_policy(p_si, selected, gaps, labels, fold, model: str) -> None:
    """Score every gate policy on the out-of-fold signals and report the choice."""
    from sseflow.funnel.gates.ml_policy import MLPolicyGate
    from sseflow.ml.policy import (
        Policy,
        choose_policy,
        nested_policy_choice,
        policy_grid,
        score_policies,
    )

    grid = policy_grid()
    scores = score_policies(grid, p_si, selected, gaps, labels)
    chosen = choose_policy(scores, MIN_RECALL)
    nested, per_fold = nested_policy_choice(grid, p_si, selected, gaps, labels, fold, MIN_RECALL)
    default = MLPolicyGate()
    current = Policy(default.policy, default.p_si_threshold, default.band_gap_min_ev)
    current_score = score_policies([current], p_si, selected, gaps, labels)[0]
    si = labels == 1
    gap_known = ~np.isnan(gaps)
    result = {
        "p_si_model": model,
        "min_recall": MIN_RECALL,
        "n_superionic": int(si.sum()),
        "n_other": int((~si).sum()),
        "band_gap_below_1_ev": {
            "superionic": int((gap_known & (gaps < 1.0) & si).sum()),
            "other": int((gap_known & (gaps < 1.0) & ~si).sum()),
            "unknown": int((~gap_known).sum()),
        },
        "soap_selection": {
            "recall": float(selected[si].mean()),
            "other_pass_fraction": float(selected[~si].mean()),
        },
        "chosen": chosen.as_dict() if chosen else None,
        "nested": {**nested.as_dict(), "chosen_per_fold": [c and c.label for c in per_fold]},
        "default_gate": current_score.as_dict(),
        "all": [s.as_dict() for s in scores],
    }
    POLICY_JSON.write_text(json.dumps(result, indent=1) + "\n")
    _plot_policies(scores, chosen, current_score)
    print(
        f"chosen gate policy: {chosen.policy.label}: recall {chosen.recall:.2f}, others "
        f"passed {chosen.other_pass_fraction:.2f}"
        if chosen
        else "no policy reaches the recall"
    )
    print(f"nested estimate: recall {nested.recall:.2f}, others {nested.other_pass_fraction:.2f}")
    if chosen and chosen.policy != current:
        print(f"WARNING: MLPolicyGate() defaults are {current.label}, not the choice")


def _plot_policies(scores, chosen, current) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    styles = {"p_si_only": "C0", "any": "C1", "all": "C2"}
    for policy, colour in styles.items():
        for gap, marker in ((None, "o"), (0.5, "^"), (1.0, "s")):
            pts = [
                s for s in scores if s.policy.policy == policy and s.policy.band_gap_min_ev == gap
            ]
            pts.sort(key=lambda s: s.policy.p_si_threshold)
            gap_text = "off" if gap is None else f">= {gap:g} eV"
            ax.plot(
                [s.other_pass_fraction for s in pts],
                [s.recall for s in pts],
                marker=marker,
                ms=3,
                lw=0.8,
                color=colour,
                label=f"{policy}, gap {gap_text}",
            )
    ax.axhline(MIN_RECALL, color="0.5", ls=":", lw=1)
    if chosen:
        ax.scatter(
            [chosen.other_pass_fraction],
            [chosen.recall],
            marker="*",
            s=180,
            color="k",
            zorder=5,
            label="chosen default",
        )
    ax.scatter(
        [current.other_pass_fraction],
        [current.recall],
        marker="X",
        s=80,
        color="0.4",
        zorder=5,
        label="MLPolicyGate() now",
    )
    ax.set_xlabel("fraction of non-superionic structures passed")
    ax.set_ylabel("fraction of superionic structures passed")
    ax.set_title("ML gate policies, out-of-fold (254 structures)")
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=120)
    plt.close(fig)


def _column(path: Path, name: str) -> list[str]:
    with open(path, newline="") as handle:
        return [row[name] for row in csv.DictReader(handle)]


if __name__ == "__main__":
    main()
