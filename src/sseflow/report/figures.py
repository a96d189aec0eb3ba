"""Report figures: P_SI histogram, BVSE E_a distribution, NEB energy profiles (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from sseflow.report.chart import OUTCOME_COLOURS

#: Line colour per NEB tier (Okabe-Ito).
NEB_COLOURS = {"neb_mlip": "#0072B2", "neb_dft": "#CC79A7"}


def _stacked_histogram(
    values: Mapping[str, Sequence[float]],
    path: Path,
    bins: np.ndarray,
    xlabel: str,
    title: str,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 3.6), constrained_layout=True)
    bottom = np.zeros(len(bins) - 1)
    for outcome, colour in OUTCOME_COLOURS.items():
        data = values.get(outcome) or []
        if not data:
            continue
        counts, _ = np.histogram(np.clip(data, bins[0], bins[-1]), bins=bins)
        ax.bar(
            bins[:-1],
            counts,
            width=np.diff(bins),
            bottom=bottom,
            align="edge",
            color=colour,
            edgecolor="white",
            linewidth=0.5,
            label=f"{outcome} ({len(data)})",
        )
        bottom += counts
    ax.set_xlabel(xlabel)
    ax.set_ylabel("candidates")
    ax.set_title(title)
    if bottom.any():
        ax.legend(fontsize=8, frameon=False)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def plot_p_si_histogram(values: Mapping[str, Sequence[float]], path: str | Path) -> Path:
    """Histogram of P_SI (0-1), stacked by the ML stage's outcome.

    Parameters
    ----------
    values
        Outcome (passed, rejected, failed, pending) -> P_SI values.
    path
        Image file (format from the suffix).
    """
    return _stacked_histogram(
        values,
        Path(path),
        np.linspace(0.0, 1.0, 21),
        "P_SI (probability of sigma_RT >= 1e-4 S/cm)",
        "AtomSets P_SI by ML-stage outcome",
    )


def plot_bvse_distribution(values: Mapping[str, Sequence[float]], path: str | Path) -> Path:
    """Histogram of the gated BVSE barrier E_a (eV), stacked by the BVSE stage's outcome.

    Barriers above 2 eV are drawn in the last bin.
    """
    data = [v for vs in values.values() for v in vs]
    top = min(max(data, default=1.0), 2.0)
    bins = np.arange(0.0, max(top, 1.0) + 0.05, 0.05)
    return _stacked_histogram(
        values, Path(path), bins, "BVSE E_a (eV)", "BVSE percolation barrier by outcome"
    )


def plot_neb_profiles(
    profiles: Sequence[Mapping[str, object]], path: str | Path, columns: int = 3
) -> Path:
    """One panel per candidate: the CI-NEB energy profile of its rate-limiting hop.

    Parameters
    ----------
    profiles
        One entry per candidate, best first: ``{"title": "1. Li2S sse-...",
        "curves": {tier: relative image energies (eV)}}``.
    path
        Image file.
    columns
        Panels per row.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(len(profiles), 1)
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, constrained_layout=True
    )
    for ax, profile in zip(axes.flat, profiles, strict=False):
        curves: Mapping[str, Sequence[float]] = profile.get("curves") or {}  # type: ignore[assignment]
        for tier, energies in curves.items():
            energies = list(energies)
            x = np.linspace(0.0, 1.0, len(energies))
            barrier = max(energies) - energies[0]
            ax.plot(
                x,
                energies,
                "o-",
                color=NEB_COLOURS.get(tier, "#000000"),
                markersize=3,
                label=f"{tier}: {barrier:.3f} eV",
            )
        ax.set_title(str(profile.get("title", "")), fontsize=8)
        ax.set_xlabel("reaction coordinate", fontsize=8)
        ax.set_ylabel("E - E_initial (eV)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    for ax in list(axes.flat)[len(profiles) :]:
        ax.axis("off")
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
