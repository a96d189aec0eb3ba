"""Energy profile plot of a NEB calculation (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")

import itertools

import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Structure
from scipy.interpolate import CubicSpline


def reaction_coordinate(images: list[Structure]) -> NDArray[np.float64]:
    """Return the cumulative distance along the images (Angstrom, all atoms, mic)."""
    steps = [0.0]
    for a, b in itertools.pairwise(images):
        delta = b.frac_coords - a.frac_coords
        delta -= np.round(delta)
        steps.append(float(np.linalg.norm(a.lattice.get_cartesian_coords(delta))))
    return np.cumsum(steps)


def plot_energy_profile(
    hop_result: dict[str, Any] | Any,
    path: str | Path,
    title: str | None = None,
) -> Path:
    """Plot image energies relative to the initial endpoint and save the figure.

    Parameters
    ----------
    hop_result
        A :class:`~sseflow.neb.schemas.NEBHopResult` or its dict.
    path
        Output file (PNG, PDF or SVG by suffix).
    title
        Figure title; defaults to the barrier.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    data = hop_result if isinstance(hop_result, dict) else hop_result.model_dump()
    energies = np.asarray(data["relative_energies_ev"], dtype=float)
    images = [s if isinstance(s, Structure) else Structure.from_dict(s) for s in data["images"]]
    x = reaction_coordinate(images)
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=150)
    fine = np.linspace(x[0], x[-1], 200)
    ax.plot(fine, CubicSpline(x, energies, bc_type="clamped")(fine), color="0.6", lw=1)
    ax.plot(x, energies, "o", color="tab:blue", label="images")
    climbing = data.get("climbing_image_index")
    if climbing is not None:
        ax.plot(x[climbing], energies[climbing], "o", color="tab:red", label="climbing image")
    ax.set_xlabel("reaction coordinate (Å)")
    ax.set_ylabel("E - E(initial) (eV)")
    forward = data.get("barrier_forward_ev", float(energies.max()))
    ax.set_title(title or f"Li vacancy hop: Ea = {forward:.3f} eV", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
