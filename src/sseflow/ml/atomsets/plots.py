"""Plots of AtomSets screening results (as in McHaffie et al., Fig. 4.7)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _axes(ax: Any) -> tuple[Any, Any]:
    if ax is not None:
        return ax.figure, ax
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    return fig, ax


def plot_p_si_histogram(
    p_si: Sequence[float], is_ordered: Sequence[bool], bins: int = 20, ax: Any = None
) -> Any:
    """Histogram of P_SI, stacked by ordered / disordered structures.

    Parameters
    ----------
    p_si
        Ensemble-mean probabilities (0-1).
    is_ordered
        Whether each structure is fully ordered.
    bins
        Number of equal bins on [0, 1].
    ax
        Matplotlib axes to draw on (a new figure when omitted).

    Returns
    -------
    matplotlib.figure.Figure
    """
    p = np.asarray(p_si, dtype=float)
    ordered = np.asarray(is_ordered, dtype=bool)
    if p.shape != ordered.shape:
        raise ValueError("p_si and is_ordered must have the same length")
    fig, ax = _axes(ax)
    ax.hist(
        [p[ordered], p[~ordered]],
        bins=np.linspace(0, 1, bins + 1),
        stacked=True,
        label=[f"ordered ({ordered.sum()})", f"disordered ({(~ordered).sum()})"],
    )
    ax.axvline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xlabel(r"$P_\mathrm{SI}$")
    ax.set_ylabel("structures")
    ax.legend(frameon=False)
    return fig


def plot_p_si_vs_d_training(
    p_si: Sequence[float],
    d_training: Sequence[float],
    p_si_std: Sequence[float] | None = None,
    ax: Any = None,
) -> Any:
    """Scatter of P_SI against the distance to the nearest training structure.

    Points are coloured by the ensemble standard deviation when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    p = np.asarray(p_si, dtype=float)
    d = np.asarray(d_training, dtype=float)
    if p.shape != d.shape:
        raise ValueError("p_si and d_training must have the same length")
    fig, ax = _axes(ax)
    if p_si_std is not None:
        points = ax.scatter(d, p, c=np.asarray(p_si_std, dtype=float), s=12, cmap="viridis")
        fig.colorbar(points, ax=ax, label=r"std of $P_\mathrm{SI}$")
    else:
        ax.scatter(d, p, s=12)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set_xlabel(r"$d_\mathrm{training}$ (whitened PCA units)")
    ax.set_ylabel(r"$P_\mathrm{SI}$")
    ax.set_ylim(-0.02, 1.02)
    return fig
