"""Decide whether a structure can be screened: lattice, size, overlaps, Li present."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Lattice, Structure

from sseflow.ingest.reader import DEFAULT_MAX_FILE_MB, InputError

#: A cell whose volume is below this fraction of a*b*c is flat (vectors nearly coplanar).
MIN_CELL_SHAPE = 1e-3


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
    oxidation_tolerance
        Residual charge tolerated by the oxidation-state guess (fraction of positive charge).
    max_pair_occupancy
        Two sites closer than ``min_distance_angstrom`` are accepted as split-site
        disorder while their occupancies sum to at most this (refined occupancies
        overshoot 1 slightly).
    max_volume_per_atom_a3
        Largest volume per site, A^3; above it the cell is mostly vacuum (an isolated
        molecule, a slab, or a wrong unit), which no tier can screen as a crystal.
    max_file_mb
        Files larger than this are refused unread, MB.
    """

    max_atoms: int = 1000
    min_volume_per_atom_a3: float = 1.0
    min_distance_angstrom: float = 0.5
    oxidation_tolerance: float = 0.03
    max_pair_occupancy: float = 1.1
    max_volume_per_atom_a3: float = 500.0
    max_file_mb: float = DEFAULT_MAX_FILE_MB

    def __post_init__(self) -> None:
        checks = {
            "max_atoms": self.max_atoms >= 1,
            "min_volume_per_atom_a3": self.min_volume_per_atom_a3 >= 0,
            "min_distance_angstrom": self.min_distance_angstrom >= 0,
            "oxidation_tolerance": 0 <= self.oxidation_tolerance < 1,
            "max_pair_occupancy": self.max_pair_occupancy > 0,
            "max_volume_per_atom_a3": self.max_volume_per_atom_a3 > self.min_volume_per_atom_a3,
            "max_file_mb": self.max_file_mb > 0,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            values = ", ".join(f"{name}={getattr(self, name)!r}" for name in bad)
            raise ValueError(f"ingest settings out of range: {values}")


def check_geometry(structure: Structure) -> None:
    """Raise :class:`InputError` unless the lattice and coordinates are finite and 3D.

    Runs before anything else looks at the structure (ids, distances), because those
    computations fail or hang on NaN coordinates and flat cells.
    """
    if len(structure) == 0:
        raise InputError("empty structure (no sites)")
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if not np.all(np.isfinite(matrix)):
        raise InputError("lattice is not finite (NaN or infinite values)")
    lengths = np.linalg.norm(matrix, axis=1)
    if np.any(lengths < 1e-6):
        raise InputError("lattice has a vector of zero length")
    shape = abs(float(np.linalg.det(matrix))) / float(np.prod(lengths))
    if shape < MIN_CELL_SHAPE:
        raise InputError("degenerate lattice: its three vectors are (nearly) coplanar")
    frac = np.array([site.frac_coords for site in structure], dtype=float)
    bad = np.flatnonzero(~np.all(np.isfinite(frac), axis=1))
    if bad.size:
        i = int(bad[0])
        raise InputError(
            f"coordinates of site {i} ({structure[i].species_string}) are not finite"
            + (f" (and {bad.size - 1} more sites)" if bad.size > 1 else "")
        )


def right_handed(structure: Structure) -> tuple[Structure, bool]:
    """Return the structure on a right-handed lattice, and whether it was changed.

    A left-handed cell (negative determinant, e.g. two vectors swapped in a POSCAR)
    describes a real crystal; swapping its first two vectors (and fractional
    coordinates) makes it right-handed with every atom where it was, so nothing
    about the crystal changes. Tiers that build supercells or grids assume a
    right-handed cell.
    """
    matrix = np.asarray(structure.lattice.matrix, dtype=float)
    if np.linalg.det(matrix) > 0:
        return structure, False
    order = [1, 0, 2]
    lattice = Lattice(matrix[order])
    frac = np.array([site.frac_coords for site in structure])[:, order]
    swapped = Structure(
        lattice,
        [site.species for site in structure],
        frac,
        site_properties=structure.site_properties or None,
    )
    return swapped, True


def validate_structure(structure: Structure, settings: IngestSettings) -> None:
    """Raise :class:`InputError` if the structure cannot be screened.

    Checks: finite lattice and coordinates, a real 3D cell, a volume per site between
    ``min_volume_per_atom_a3`` and ``max_volume_per_atom_a3``, not more than
    ``max_atoms`` sites, Li present, and no two distinct sites closer than
    ``min_distance_angstrom``.
    """
    check_geometry(structure)
    volume = abs(float(np.linalg.det(structure.lattice.matrix)))
    per_site = volume / len(structure)
    if not math.isfinite(volume) or per_site < settings.min_volume_per_atom_a3:
        raise InputError(f"no valid 3D lattice (cell volume {volume:.3g} A^3)")
    if per_site > settings.max_volume_per_atom_a3:
        raise InputError(
            f"cell volume {per_site:.0f} A^3 per site > max_volume_per_atom_a3="
            f"{settings.max_volume_per_atom_a3:g}: mostly vacuum, not a crystal"
        )
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
