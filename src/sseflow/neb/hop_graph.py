"""The periodic graph of mobile-ion pairs and its symmetry-distinct families.

pymatgen-analysis-diffusion's ``MigrationGraph`` does the same job but recomputes the
space group of the whole structure for every edge and compares hops pairwise through
the space group's site equivalence: 19 s for the 128 Li-Li pairs of antifluorite Li2S
up to 5.7 A, and it grows with the number of pairs, while the NEB tier now searches
hops up to a limit derived from the structure (often 5-9 A). Here the symmetry
operations are computed once, each operation is turned into a permutation of the
mobile sites (with the lattice translation it adds), and pairs are grouped with a
union-find over those permutations (milliseconds). ``tests/neb/test_hops.py`` checks
that the families and their sizes are those of ``MigrationGraph``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

#: ``(u, v, (a, b, c))``: mobile site ``u`` to mobile site ``v`` in cell ``(a, b, c)``.
Pair = tuple[int, int, tuple[int, int, int]]


@dataclass
class PairFamily:
    """Symmetry-equivalent pairs of mobile sites (indices into the mobile sites).

    Attributes
    ----------
    pairs
        Every pair of the family in the cell, the representative first.
    length_angstrom
        Distance between the two sites (A).
    """

    pairs: list[Pair]
    length_angstrom: float


def _canonical(u: int, v: int, image: NDArray[np.int64]) -> Pair:
    """Return the pair in the orientation ``u < v`` (or ``image > 0`` when ``u == v``)."""
    key = (int(image[0]), int(image[1]), int(image[2]))
    if u < v or (u == v and key > (0, 0, 0)):
        return (u, v, key)
    return (v, u, (-key[0], -key[1], -key[2]))


def mobile_pairs(
    structure: Structure, mobile_indices: list[int], max_distance_angstrom: float
) -> dict[Pair, float]:
    """Return every pair of mobile sites closer than ``max_distance_angstrom`` (A).

    Each pair appears once (:func:`_canonical` orientation), with its length.
    """
    sub = Structure.from_sites([structure[i] for i in mobile_indices])
    centers, points, images, distances = sub.get_neighbor_list(max_distance_angstrom)
    pairs: dict[Pair, float] = {}
    for u, v, image, distance in zip(centers, points, images, distances, strict=True):
        if distance < 1e-3:
            continue
        pairs.setdefault(_canonical(int(u), int(v), np.round(image).astype(int)), float(distance))
    return pairs


def site_permutations(
    structure: Structure, mobile_indices: list[int], symprec: float = 0.1
) -> list[tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]]:
    """Return, per space-group operation, where it sends each mobile site.

    Returns
    -------
    list of (rotation, permutation, shift)
        The operation's fractional rotation matrix, and
        ``op(frac[i]) = frac[permutation[i]] + shift[i]`` with integer ``shift``.
        Operations that do not map the mobile sites onto themselves (within
        ``symprec``, A) are left out.
    """
    plain = structure.copy()
    plain.remove_oxidation_states()
    operations = SpacegroupAnalyzer(plain, symprec=symprec).get_symmetry_operations()
    frac = plain.frac_coords[mobile_indices]
    lattice = plain.lattice.matrix
    out = []
    for op in operations:
        moved = frac @ op.rotation_matrix.T + op.translation_vector
        delta = moved[:, None, :] - frac[None, :, :]
        wrapped = delta - np.round(delta)
        distance = np.linalg.norm(wrapped @ lattice, axis=2)
        permutation = distance.argmin(axis=1)
        if distance[np.arange(len(frac)), permutation].max() > symprec:
            continue
        shift = np.round(delta[np.arange(len(frac)), permutation]).astype(int)
        out.append((op.rotation_matrix, permutation, shift))
    return out


def pair_families(
    structure: Structure,
    mobile_indices: list[int],
    max_distance_angstrom: float,
    symprec: float = 0.1,
) -> list[PairFamily]:
    """Group the mobile-site pairs up to a distance into symmetry-equivalent families.

    Families are sorted by length, then by their representative pair.
    """
    pairs = mobile_pairs(structure, mobile_indices, max_distance_angstrom)
    keys = sorted(pairs, key=lambda k: (round(pairs[k], 4), k))
    index = {key: i for i, key in enumerate(keys)}
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for rotation, permutation, shift in site_permutations(structure, mobile_indices, symprec):
        for key in keys:
            u, v, image = key
            # op(frac[v] + image) - op(frac[u]) = frac[perm v] - frac[perm u] + moved_image
            moved_image = np.round(rotation @ np.array(image)).astype(int) + shift[v] - shift[u]
            other = index.get(_canonical(int(permutation[u]), int(permutation[v]), moved_image))
            if other is not None:
                a, b = find(index[key]), find(other)
                if a != b:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[Pair]] = {}
    for key in keys:
        groups.setdefault(find(index[key]), []).append(key)
    families = [PairFamily(members, pairs[members[0]]) for members in groups.values()]
    return sorted(families, key=lambda f: (round(f.length_angstrom, 4), f.pairs[0]))
