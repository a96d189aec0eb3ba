"""Bond-valence site-energy (BVSE) Li+ migration barriers of a prepared framework.

Two engines compute the same landscape (:mod:`sseflow.bvse.parameters` gives both the
same softBV parameters and energy expression):

- ``native`` (default): the energy grid in blocks with a compiled kernel
  (:mod:`sseflow.bvse.energy`) and the exact 1D/2D/3D percolation energies from one
  union-find pass (:mod:`sseflow.bvse.percolation`);
- ``bvlain``: bvlain's ``bvse_distribution`` with occupancy weights and its bisection
  (:mod:`sseflow.bvse.lain`), kept as a cross-check.

Each calculation runs in a child process (:mod:`sseflow.bvse.isolation`) with a
wall-time limit and a resident-memory watch, so one pathological structure is recorded
as failed and never hangs the batch; the child dies with its parent.
"""

from __future__ import annotations

import math
import resource
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from ase import Atoms

from sseflow.bvse.framework import BVSEFramework
from sseflow.bvse.isolation import run_isolated
from sseflow.bvse.parameters import missing_bvse_parameters
from sseflow.bvse.settings import BVSEError, BVSESettings

__all__ = [
    "BVSEResult",
    "bvse_barriers",
    "estimated_memory_gb",
    "grid_shape",
    "missing_bvse_parameters",
]

#: Decimals of the reported barriers (0.1 meV, as bvlain rounds them).
BARRIER_DECIMALS = 4


@dataclass
class BVSEResult:
    """Percolation barriers (eV; None when no percolation within ``encut_ev``) and grid."""

    ea_1d_ev: float | None
    ea_2d_ev: float | None
    ea_3d_ev: float | None
    energies_ev: np.ndarray  # (na, nb, nc) float32, minimum shifted to 0, end planes included
    lattice_matrix: np.ndarray  # (3, 3) A
    n_framework_atoms: int
    peak_memory_mb: float
    engine: str = "native"


def grid_shape(lattice_abc: tuple[float, float, float], resolution: float) -> tuple[int, int, int]:
    """Return bvlain's grid shape for lattice lengths (A) and a spacing (A)."""
    a, b, c = lattice_abc
    return int(a // resolution), int(b // resolution), int(c // resolution)


def estimated_memory_gb(lattice_abc: tuple[float, float, float], settings: BVSESettings) -> float:
    """Rough peak memory of one calculation, GB.

    bvlain holds about ten (grid points x k) float64 arrays at once; the native engine
    the grid and about 60 bytes per grid point of percolation bookkeeping.
    """
    n_points = math.prod(grid_shape(lattice_abc, settings.resolution_angstrom))
    if settings.engine == "bvlain":
        return n_points * settings.k_neighbors * 8 * 10 / 1e9
    from sseflow.bvse.energy import native_grid_memory_gb

    return native_grid_memory_gb(n_points)


def _native_landscape(framework_atoms: Atoms, settings: BVSESettings) -> dict[str, Any]:
    from sseflow.bvse.energy import bvse_energy_grid
    from sseflow.bvse.percolation import percolation_energies

    energies = bvse_energy_grid(
        framework_atoms,
        resolution=settings.resolution_angstrom,
        r_cut=settings.r_cut_angstrom,
        k=settings.k_neighbors,
        screening_factor=settings.screening_factor,
    )
    barriers = percolation_energies(energies[:-1, :-1, :-1], settings.encut_ev)
    return {"barriers": list(barriers), "energies_ev": energies}


def _landscape(framework_atoms: Atoms, settings: BVSESettings) -> dict[str, Any]:
    """Return barriers (eV, rounded) and the float32 grid shifted to its minimum."""
    if settings.engine == "native":
        out = _native_landscape(framework_atoms, settings)
    elif settings.engine == "bvlain":
        from sseflow.bvse.lain import bvlain_landscape

        out = bvlain_landscape(framework_atoms, settings)
    else:
        raise BVSEError(f"unknown BVSE engine {settings.engine!r} (native or bvlain)")
    data = out["energies_ev"]
    # a grid point on a cation's centre has an infinite (bvlain: 1.8e308) energy, which
    # float32 cannot hold; store the largest float32 instead, so the grid stays finite
    shifted = np.minimum(data - data.min(), np.finfo(np.float32).max)
    return {
        "barriers": [None if b is None else round(b, BARRIER_DECIMALS) for b in out["barriers"]],
        "energies_ev": shifted.astype(np.float32),
    }


_WARM_UP_LOCK = threading.Lock()


def warm_up(engine: str) -> None:
    """Load an engine's code in this process, once, before calculations are forked.

    Forked calculation processes then inherit it instead of each importing bvlain or
    loading the native kernels from numba's cache (or compiling them, the very first
    time: about 30 s). Thread-safe (numba's fork-safe workqueue layer must not be
    entered by two threads at once).
    """
    with _WARM_UP_LOCK:
        _warm_up(engine)


@cache
def _warm_up(engine: str) -> None:
    if engine == "bvlain":
        import sseflow.bvse.lain  # noqa: F401

        return
    from sseflow.bvse.energy import bvse_energy_grid
    from sseflow.bvse.percolation import percolation_energies

    atoms = Atoms("O", positions=[[0.0, 0.0, 0.0]], cell=np.eye(3) * 4.0, pbc=True)
    atoms.set_array("oxi_states", np.array([-2]))
    atoms.set_array("weight", np.array([1.0]))
    percolation_energies(bvse_energy_grid(atoms, resolution=1.0, r_cut=4.0, k=4)[:-1, :-1, :-1])


def bvse_barriers(
    framework: BVSEFramework, settings: BVSESettings | None = None, isolate: bool = True
) -> BVSEResult:
    """Compute the Li+ BVSE landscape and its 1D/2D/3D percolation barriers.

    Parameters
    ----------
    framework
        Output of :func:`prepare_bvse_framework`.
    settings
        Grid, cut-off, engine and guards.
    isolate
        Run in a child process with the time and memory guards (default). ``False``
        runs in this process without guards (for debugging; the native engine's
        parallel kernel must then not be entered from two threads at once).

    Returns
    -------
    BVSEResult

    Raises
    ------
    BVSEError
        On time-out, memory exhaustion, a refused grid or an engine error (e.g. no
        bond-valence parameters for an oxidation state).
    """
    settings = settings or BVSESettings()
    if settings.engine not in ("native", "bvlain"):
        raise BVSEError(f"unknown BVSE engine {settings.engine!r} (native or bvlain)")
    missing = missing_bvse_parameters(framework.atoms)
    if missing:
        raise BVSEError(
            f"bvlain has no softBV parameters for Li+ with the anion(s) {', '.join(missing)} "
            "(e.g. phosphides, hydrides): BVSE cannot rank this framework"
        )
    abc = tuple(framework.atoms.cell.cellpar()[:3])
    shape = grid_shape(abc, settings.resolution_angstrom)  # type: ignore[arg-type]
    if min(shape) < 3:
        raise BVSEError(
            f"cell too small for a {settings.resolution_angstrom} A grid ({shape} points)"
        )
    estimate = estimated_memory_gb(abc, settings)  # type: ignore[arg-type]
    if estimate > settings.memory_limit_gb:
        raise BVSEError(
            f"grid needs ~{estimate:.1f} GB (> memory_limit_gb={settings.memory_limit_gb}); "
            "use a coarser resolution_angstrom or raise the limit"
        )
    if isolate:
        warm_up(settings.engine)
        out, peak_mb = run_isolated(
            _landscape,
            (framework.atoms, settings),
            time_limit_s=settings.time_limit_s,
            memory_limit_gb=settings.memory_limit_gb,
        )
    else:
        out = _landscape(framework.atoms, settings)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    e1, e2, e3 = out["barriers"]
    return BVSEResult(
        ea_1d_ev=e1,
        ea_2d_ev=e2,
        ea_3d_ev=e3,
        energies_ev=out["energies_ev"],
        lattice_matrix=np.array(framework.atoms.cell[:]),
        n_framework_atoms=len(framework.atoms),
        peak_memory_mb=peak_mb,
        engine=settings.engine,
    )
