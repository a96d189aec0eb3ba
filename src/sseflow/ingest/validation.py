"""Decide whether a structure can be screened: lattice, size, overlaps, Li present."""

from __future__ import annotations

import math
from dataclasses import dataclass

from pymatgen.core import Structure

from sseflow.ingest.reader import InputError


@dataclass(frozen=True)
class IngestSettings:
    """Rules that decide which inputs become candidates.

    Parameters
    ----------
    max_atoms
        Largest number of sites accepted (absurd inputs beyond this are rejected).
    min_volume_per_atom_a3
        Smallest volume per site, A^3; below it the lattice is degenerate.
    min_distance_angstrom
        Smallest allowed distance between two sites that are not the same site shared
        by partial occupancies, A.
    max_pair_occupancy
        Two sites closer than ``min_distance_angstrom`` are accepted as split-site
        disorder while their occupancies sum to at most this (refined occupancies
        overshoot 1 slightly).
    oxidation_tolerance
        Residual charge tolerated by the oxidation-state guess (fraction of positive charge).
    """

    max_atoms: int = 1000
    min_volume_per_atom_a3: float = 1.0
    min_distance_angstrom: float = 0.5
    oxidation_tolerance: float = 0.03
    max_pair_occupancy: float = 1.1


def validate_structure(structure: Structure, settings: IngestSettings) -> None:
    """Raise :class:`InputError` if the structure cannot be screened.

    Checks: not empty, a real 3D lattice, not more than ``max_atoms`` sites, no two
    distinct sites closer than ``min_distance_angstrom``, and Li present.
    """
    if len(structure) == 0:
        raise InputError("empty structure (no sites)")
    volume = structure.lattice.volume
    if not math.isfinite(volume) or volume < settings.min_volume_per_atom_a3 * len(structure):
        raise InputError(f"no valid 3D lattice (cell volume {volume:.3g} A^3)")
    if len(structure) > settings.max_atoms:
        raise InputError(f"{len(structure)} sites exceed max_atoms={settings.max_atoms}")
    if structure.composition["Li"] <= 0:
        raise InputError("no Li in the structure")
    if len(structure) > 1:
        # Split sites of disordered crystals sit closer than any bond; they are fine as
        # long as their occupancies cannot coexist (sum <= ~1). Two sites that would both
        # be occupied at once closer than min_distance_angstrom are overlapping atoms.
        dmat = structure.distance_matrix
        occupancy = [site.species.num_atoms for site in structure]
        close = zip(*((dmat < settings.min_distance_angstrom).nonzero()), strict=True)
        for i, j in close:
            if i < j and occupancy[i] + occupancy[j] > settings.max_pair_occupancy:
                raise InputError(
                    f"sites {i} and {j} are only {dmat[i, j]:.3f} A apart with total "
                    f"occupancy {occupancy[i] + occupancy[j]:.2f} > "
                    f"{settings.max_pair_occupancy}: overlapping atoms"
                )
