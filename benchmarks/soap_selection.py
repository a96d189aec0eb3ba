"""SOAP selection as a classifier: leave-labels-out CV on the 254 OBELiX training structures.

For each depth (number of clusters) and selection rule - the cluster holds a fast label
(``high``), is the nearest cluster of one (``adjacent``), either (``high_or_adjacent``,
the paper's rule), or at least a fraction of its labels are fast (``density``) - and
each threshold of a "fast" label (1e-5 S/cm as in the paper, 1e-4 S/cm), the labels of
one fold at a time are hidden, all 254 structures are Ward-clustered on SOAP-CAN 3/5/3
together, and we count how many hidden superionic structures (sigma >= 1e-4 S/cm) are
selected (recall) and how many hidden structures are selected at all (pass fraction).
Folds: the 5 folds of every ML benchmark (stratified by class, grouped by formula).

The default of the clustering tier is the setting with the lowest pass fraction among
those keeping >= 90 % of the hidden superionic structures. Choosing the best of many
settings on the same folds flatters it, so the procedure (choose on four folds, apply
to the fifth) is also scored by nested CV.

Writes ``benchmarks/results/soap_selection.json`` and
``docs/soap_clustering/soap_selection_tradeoff.png``.

Usage::

    PYTHONPATH=src:. python benchmarks/soap_selection.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data
from ml_oof import folds_of_structures

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "soap_selection.json"
FIGURE = ROOT / "docs" / "soap_clustering" / "soap_selection_tradeoff.png"
DEPTHS = (*range(2, 30, 2), *range(30, 130, 10))
MIN_RECALL = 0.9


def settings_grid() -> list:
    """Every depth x rule x high-label threshold (x density fraction) scored."""
    from sseflow.ml.soap.validation import SelectionSetting

    grid = []
    for depth in DEPTHS:
        for high in (1e-5, 1e-4):
            for rule in ("high_or_adjacent", "high", "adjacent"):
                grid.append(SelectionSetting(depth, rule, high))
            for fraction in (0.25, 0.5, 0.75):
                grid.append(SelectionSetting(depth, "density", high, fraction))
    return grid


def plot(scores, chosen, current, path: Path) -> None:
    """Recall against pass fraction: every setting, the Pareto front, the defaults."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sseflow.ml.soap.validation import pareto_front

    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    colours = {"high_or_adjacent": "C0", "high": "C1", "adjacent": "C2", "density": "C3"}
    for rule, colour in colours.items():
        pts = [s for s in scores if s.setting.rule == rule]
        ax.scatter(
            [s.pass_fraction for s in pts],
            [s.recall for s in pts],
            s=10,
            color=colour,
            alpha=0.5,
            label=rule,
        )
    front = pareto_front(scores)
    ax.plot([s.pass_fraction for s in front], [s.recall for s in front], color="k", lw=1)
    ax.axhline(MIN_RECALL, color="0.5", ls=":", lw=1)
    ax.plot([0, 1], [0, 1], color="0.7", lw=1, ls="--", label="random selection")
    ax.scatter(
        [chosen.pass_fraction], [chosen.recall], marker="*", s=160, color="k", label="new default"
    )
    ax.scatter(
        [current.pass_fraction],
        [current.recall],
        marker="X",
        s=90,
        color="0.4",
        label="old default (depth 50, paper rule)",
    )
    ax.set_xlabel("fraction of hidden structures selected")
    ax.set_ylabel("recall of hidden superionic structures")
    ax.set_title("SOAP-CAN selection, leave-labels-out CV (254 structures)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Score every setting, choose the default, score the choice by nested CV."""
    from sseflow.ml.soap.validation import (
        SelectionSetting,
        choose_selection,
        leave_labels_out,
        nested_selection,
        pareto_front,
    )

    table = ml_data.structures()
    matrix = ml_data.soap_matrix()
    _, folds = folds_of_structures()
    grid = settings_grid()
    t0 = time.perf_counter()
    scores, _ = leave_labels_out(matrix, table.sigma_s_per_cm, folds, grid)
    wall = time.perf_counter() - t0
    chosen = choose_selection(scores, MIN_RECALL)
    current = next(s for s in scores if s.setting == SelectionSetting(50, "high_or_adjacent", 1e-5))
    nested, per_fold, _ = nested_selection(matrix, table.sigma_s_per_cm, folds, grid, MIN_RECALL)
    result = {
        "n_structures": len(table),
        "n_superionic": int(table.labels.sum()),
        "descriptor": "SOAP-CAN r3 n5 l3",
        "min_recall": MIN_RECALL,
        "wall_s": round(wall, 1),
        "chosen": chosen.as_dict(),
        "old_default": current.as_dict(),
        "nested": {
            "recall": nested.recall,
            "pass_fraction": nested.pass_fraction,
            "other_pass_fraction": nested.other_pass_fraction,
            "chosen_per_fold": [None if c is None else c.__dict__ for c in per_fold],
        },
        "pareto_front": [s.as_dict() for s in pareto_front(scores)],
        "all": [s.as_dict() for s in scores],
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    plot(scores, chosen, current, FIGURE)
    print(f"{len(grid)} settings x 5 folds in {wall:.0f} s")
    print(
        f"chosen: depth {chosen.setting.depth}, {chosen.setting.label}: recall "
        f"{chosen.recall:.2f}, pass {chosen.pass_fraction:.2f} "
        f"(others {chosen.other_pass_fraction:.2f})"
    )
    print(
        f"old default: recall {current.recall:.2f}, pass {current.pass_fraction:.2f}; "
        f"nested estimate of the choice: recall {nested.recall:.2f}, "
        f"pass {nested.pass_fraction:.2f}"
    )


if __name__ == "__main__":
    main()
