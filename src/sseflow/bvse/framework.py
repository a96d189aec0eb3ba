"""The Li-free framework the BVSE sum runs over, with our handling of partial occupancies.

bvlain supports ordered structures only: its reader drops occupancies and assigns
valences with BVAnalyzer, which silently goes wrong on disordered cells. So the
framework is prepared here: oxidation states from the composition, Li removed, and
partially occupied sites either weighted by occupancy or reduced to the majority
species (``occupancy_mode``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from pymatgen.core import Element, Structure

from sseflow.bvse.settings import BVSEError, OccupancyMode


@dataclass
class BVSEFramework:
    """Li-free framework ready for bvlain: ASE atoms with ``oxi_states`` and ``weight``."""

    atoms: Atoms
    occupancy_mode: OccupancyMode
    n_partial_sites: int
    n_dropped_sites: int
    mixed_valence: dict[str, float]


def _valence_split(oxidation_state: float) -> list[tuple[int, float]]:
    """Split a (possibly non-integer, element-averaged) state into integer parts."""
    lower = math.floor(oxidation_state)
    frac = oxidation_state - lower
    if frac < 1e-6:
        return [(lower, 1.0)]
    if frac > 1 - 1e-6:
        return [(lower + 1, 1.0)]
    return [(lower, 1.0 - frac), (lower + 1, frac)]


def prepare_bvse_framework(
    structure: Structure, occupancy_mode: OccupancyMode = "weighted"
) -> BVSEFramework:
    """Build the Li-free, oxidation-state-decorated framework bvlain needs.

    Parameters
    ----------
    structure
        Structure whose species carry oxidation states (partial occupancies allowed).
    occupancy_mode
        ``weighted`` or ``majority`` (see :class:`BVSESettings`). Element-averaged
        (mixed) valences are split into the two neighbouring integers with weights in
        ``weighted`` mode and rounded to the nearest integer in ``majority`` mode.

    Returns
    -------
    BVSEFramework

    Raises
    ------
    BVSEError
        If species lack oxidation states or nothing but Li is present.
    """
    if occupancy_mode not in ("weighted", "majority"):
        raise BVSEError(f"unknown occupancy_mode {occupancy_mode!r}")
    numbers: list[int] = []
    positions: list[np.ndarray] = []
    charges: list[int] = []
    weights: list[float] = []
    partial = dropped = 0
    mixed: dict[str, float] = {}
    for site in structure:
        if not site.is_ordered or site.species.num_atoms < 1 - 1e-6:
            partial += 1
        framework = {}
        for species, occ in site.species.items():
            ox = getattr(species, "oxi_state", None)
            if ox is None:
                raise BVSEError(f"species {species} has no oxidation state")
            if species.symbol == "Li":
                continue
            if abs(ox - round(ox)) > 1e-6:
                mixed[species.symbol] = float(ox)
            framework[species] = occ
        if not framework:
            continue
        if occupancy_mode == "majority":
            if sum(framework.values()) < 0.5:
                dropped += 1
                continue
            species = max(framework, key=lambda sp: (framework[sp], sp.symbol))
            framework = {species: 1.0}
        for species, occ in framework.items():
            oxi_state = species.oxi_state
            assert oxi_state is not None  # species without one raised BVSEError above
            parts = _valence_split(float(oxi_state))
            if occupancy_mode == "majority":
                parts = [(round(float(oxi_state)), 1.0)]
            for charge, share in parts:
                if charge == 0:
                    continue  # neutral species do not enter the BVSE sum
                numbers.append(Element(species.symbol).Z)
                positions.append(site.coords)
                charges.append(int(charge))
                weights.append(float(occ) * share)
    if not numbers:
        raise BVSEError("no charged framework atoms left after removing Li")
    atoms = Atoms(
        numbers=numbers, positions=np.array(positions), cell=structure.lattice.matrix, pbc=True
    )
    atoms.set_array("oxi_states", np.array(charges, dtype=int))
    atoms.set_array("weight", np.array(weights, dtype=float))
    return BVSEFramework(atoms, occupancy_mode, partial, dropped, mixed)
