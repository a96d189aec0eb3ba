"""The funnel chart: candidates entering each stage, split by outcome (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from sseflow.report.summary import FunnelSummary, stage_label

#: Outcome -> bar colour (colour-blind safe Okabe-Ito colours).
OUTCOME_COLOURS = {
    "passed": "#009E73",
    "rejected": "#E69F00",
    "failed": "#D55E00",
    "pending": "#999999",
}


def plot_funnel(summary: FunnelSummary, path: str | Path, title: str | None = None) -> Path:
    """Draw one horizontal bar per stage (funnel order, top to bottom).

    Each bar's length is the number of candidates that entered the stage (tiers judged
    by one gate, e.g. the two ML tiers, counted once), split into passed, rejected,
    failed and pending (documents with another status are counted as pending).

    Parameters
    ----------
    summary
        Output of :func:`sseflow.report.summary.summarize`.
    path
        Image file; the format follows the suffix (``.png``, ``.svg``, ``.pdf``).
    title
        Title; default ``"sseflow funnel: N candidates"``.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tiers = summary.stages
    height = 1.6 + 0.55 * max(len(tiers), 1)
    widest = max([t.entered for t in tiers] + [1])
    fig, ax = plt.subplots(figsize=(7.5, height), constrained_layout=True)
    labels = [stage_label(t.tiers) for t in tiers]
    positions = list(range(len(tiers)))
    left = [0.0] * len(tiers)
    for outcome, colour in OUTCOME_COLOURS.items():
        counts = [
            float(getattr(t, outcome) + (t.other if outcome == "pending" else 0)) for t in tiers
        ]
        if not any(counts):
            continue
        ax.barh(positions, counts, left=left, color=colour, label=outcome, height=0.65)
        for y, start, n in zip(positions, left, counts, strict=True):
            if n >= 0.08 * widest:  # label segments wide enough to hold a number
                ax.text(start + n / 2, y, f"{n:.0f}", ha="center", va="center", fontsize=8)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    for y, tier in zip(positions, tiers, strict=True):  # total at the end of the bar
        ax.text(tier.entered, y, f" {tier.entered}", va="center", ha="left", fontsize=9)
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_xlabel("candidates entering the stage")
    ax.set_xlim(0, widest * 1.12)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or f"sseflow funnel: {summary.n_candidates} candidates")
    if tiers:
        fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
