"""Plots of the semi-supervised clustering, written to files (matplotlib, Agg backend)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from scipy.cluster.hierarchy import dendrogram, to_tree

from sseflow.ml.soap.clustering import HIGH_SIGMA_S_PER_CM, WSigmaCurve


def plot_w_sigma_curves(
    curves: Sequence[WSigmaCurve], path: str | Path, title: str | None = None
) -> Path:
    """Plot W_sigma against depth for each descriptor with the random control.

    Parameters
    ----------
    curves
        One curve per descriptor (same depth range).
    path
        Image file to write (format from the suffix, e.g. ``.png``).
    title
        Optional title.

    Returns
    -------
    Path
        The written file. Each descriptor's own random control (same tree, random
        label placement, mean of the draws) is drawn dashed in the same colour.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, curve in enumerate(curves):
        color = f"C{i % 10}"
        ax.plot(
            curve.depths,
            curve.w_sigma,
            color=color,
            label=f"{curve.label} (mean {curve.mean_w_sigma:.0f})",
        )
        ax.plot(curve.depths, curve.control, color=color, ls="--", lw=0.8, alpha=0.7)
    ax.plot([], [], color="gray", ls="--", lw=0.8, label="random control (dashed, per descriptor)")
    ax.set_xlabel("clustering depth (number of clusters)")
    ax.set_ylabel(r"$W_\sigma$ ((log$_{10}$ S cm$^{-1}$)$^2$)")
    n_labels = curves[0].n_labels if curves else 0
    ax.set_title(title or f"Label variance vs depth ({n_labels} labels, frozen-state rule)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_dendrogram(
    linkage: np.ndarray,
    label_rows: np.ndarray,
    log10_sigma: np.ndarray,
    path: str | Path,
    depth: int = 50,
    high_sigma_s_per_cm: float = HIGH_SIGMA_S_PER_CM,
    candidate_rows: Sequence[int] = (),
) -> Path:
    """Plot the Ward dendrogram truncated at ``depth`` leaves, marking fast labels.

    Each leaf is one cluster at ``depth``; its tick reads ``size | labels | fast`` (number
    of structures, of labels and of labels with sigma > ``high_sigma_s_per_cm``), in red
    when the cluster holds a fast label; leaves holding a candidate get a ``*``.

    Parameters
    ----------
    linkage
        scipy Ward linkage matrix.
    label_rows, log10_sigma
        Rows of the labelled structures and their log10 conductivity (S/cm).
    path
        Image file to write.
    depth
        Number of leaves (clusters) shown.
    high_sigma_s_per_cm
        Threshold of a fast label, S/cm.
    candidate_rows
        Rows of candidates to flag.

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = linkage.shape[0] + 1
    _, nodes = to_tree(linkage, rd=True)
    is_label = np.zeros(n, dtype=bool)
    is_fast = np.zeros(n, dtype=bool)
    is_label[np.asarray(label_rows, dtype=int)] = True
    fast = np.asarray(log10_sigma) > np.log10(high_sigma_s_per_cm)
    is_fast[np.asarray(label_rows, dtype=int)[fast]] = True
    is_candidate = np.zeros(n, dtype=bool)
    is_candidate[np.asarray(candidate_rows, dtype=int)] = True

    leaf_info: dict[int, tuple[str, bool]] = {}

    def leaf_label(node_id: int) -> str:
        members = np.asarray(nodes[node_id].pre_order())
        n_fast = int(is_fast[members].sum())
        text = f"{len(members)}|{int(is_label[members].sum())}|{n_fast}"
        if is_candidate[members].any():
            text += "*"
        leaf_info[node_id] = (text, n_fast > 0)
        return text

    width = min(max(8.0, 0.18 * depth), 40.0)
    fig, ax = plt.subplots(figsize=(width, 5))
    tree = dendrogram(
        linkage,
        truncate_mode="lastp",
        p=min(depth, n),
        leaf_label_func=leaf_label,
        leaf_rotation=90,
        leaf_font_size=7,
        color_threshold=0,
        above_threshold_color="0.4",
        ax=ax,
    )
    fast_texts = {text for text, has_fast in leaf_info.values() if has_fast}
    for tick in ax.get_xticklabels():
        if tick.get_text() in fast_texts:
            tick.set_color("red")
    ax.set_ylabel("Ward distance (descriptor units)")
    ax.set_title(
        f"Ward dendrogram cut at {len(tree['leaves'])} clusters; "
        f"ticks: size|labels|fast (sigma > {high_sigma_s_per_cm:g} S/cm), red = fast label, "
        f"* = candidate",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
