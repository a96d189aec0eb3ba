"""Settings of a BVSE calculation, and the error every BVSE step raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monty.json import MSONable

OccupancyMode = Literal["weighted", "majority"]
Dimension = Literal["1D", "2D", "3D"]
Engine = Literal["native", "bvlain"]


class BVSEError(RuntimeError):
    """A BVSE calculation could not be done; the message says why."""


@dataclass(frozen=True)
class BVSESettings(MSONable):
    """Settings of a BVSE calculation.

    Parameters
    ----------
    resolution_angstrom
        Grid spacing, A (bvlain default 0.2; never below 0.05).
    r_cut_angstrom
        Cut-off of the Li-framework interaction, A.
    k_neighbors
        Largest number of framework neighbours per grid point (bvlain's ``k``).
    screening_factor
        Coulomb screening factor ``f`` (bvlain default 0.74).
    encut_ev
        Percolation search window above the landscape minimum, eV; barriers above it
        are reported as "no percolation".
    occupancy_mode
        ``weighted``: every species of a partial site contributes with its occupancy;
        ``majority``: each site becomes its majority framework species (dropped when
        the framework occupancy is below 0.5).
    time_limit_s
        Wall-time limit of one calculation, s.
    memory_limit_gb
        Largest resident memory of the calculation process, GB (it is killed beyond);
        also used to refuse grids whose estimated memory is larger before starting.
    engine
        ``native`` (default): sseflow's own energy grid and one-pass percolation search
        (:mod:`sseflow.bvse.energy`, :mod:`sseflow.bvse.percolation`); ``bvlain``:
        bvlain's ``bvse_distribution`` and bisection, kept as a cross-check. Both use
        the same energy; the native barriers are the exact thresholds, bvlain's lie up
        to 0.01 eV (its bisection step) above them.
    """

    resolution_angstrom: float = 0.2
    r_cut_angstrom: float = 10.0
    k_neighbors: int = 100
    screening_factor: float = 0.74
    encut_ev: float = 5.0
    occupancy_mode: OccupancyMode = "weighted"
    time_limit_s: float = 600.0
    memory_limit_gb: float = 8.0
    engine: Engine = "native"
