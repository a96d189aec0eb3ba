"""Structure preparation for NEB: choosing the supercell (ordering: :mod:`sseflow.neb.ordering`).

Supercell criterion
-------------------
The reference work (thesis A.4) asks for supercells "a minimum of 10 A in each lattice
direction". We implement exactly that: every *lattice vector length* of the supercell is
>= ``min_length_angstrom``. The perpendicular widths (distance between opposite faces,
the quantity that bounds the vacancy-vacancy distance in skewed cells) are recorded too
(:func:`perpendicular_widths`) so a user can judge skewed cells; they are not the
criterion.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Lattice, Structure


class StructurePreparationError(ValueError):
    """The structure cannot be prepared for a NEB calculation."""


def __getattr__(name: str) -> Any:
    # ordering moved to sseflow.neb.ordering; the old import path keeps working
    if name in ("order_structure", "OrderingResult"):
        import sseflow.neb.ordering

        return getattr(sseflow.neb.ordering, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _scaling_for_multiple(lattice: Lattice, multiple: int) -> list[int]:
    """Return a diagonal scaling with product ``multiple`` that grows the shortest vectors."""
    scaling = [1, 1, 1]
    remaining = multiple
    for factor in (2, 3, 5, 7):
        while remaining % factor == 0:
            lengths = np.array(lattice.abc) * np.array(scaling)
            scaling[int(np.argmin(lengths))] *= factor
            remaining //= factor
    if remaining != 1:
        scaling[int(np.argmin(np.array(lattice.abc) * np.array(scaling)))] *= remaining
    return scaling


def perpendicular_widths(matrix: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the three distances between opposite cell faces (Angstrom)."""
    volume = abs(np.linalg.det(matrix))
    cross = [np.cross(matrix[1], matrix[2]), np.cross(matrix[2], matrix[0])]
    cross.append(np.cross(matrix[0], matrix[1]))
    return np.array([volume / np.linalg.norm(c) for c in cross])


def _lll_reduce(basis: NDArray[np.float64], delta: float = 0.75) -> NDArray[np.float64]:
    """Return an LLL-reduced copy of a 3x3 basis (rows).

    A 3x3 LLL is a few lines; pymatgen's ``Lattice.get_lll_reduced_lattice`` does the
    same but costs ~0.7 ms per call, too slow for the thousands of candidate cells
    searched here.
    """
    b = np.array(basis, dtype=float)
    k = 1
    while k < 3:
        ortho = b.copy()
        for i in range(1, 3):
            for j in range(i):
                ortho[i] -= (b[i] @ ortho[j]) / (ortho[j] @ ortho[j]) * ortho[j]
        for j in range(k - 1, -1, -1):
            mu = (b[k] @ ortho[j]) / (ortho[j] @ ortho[j])
            if abs(mu) > 0.5:
                b[k] -= round(mu) * b[j]
                ortho = b.copy()
                for i in range(1, 3):
                    for jj in range(i):
                        ortho[i] -= (b[i] @ ortho[jj]) / (ortho[jj] @ ortho[jj]) * ortho[jj]
        mu = (b[k] @ ortho[k - 1]) / (ortho[k - 1] @ ortho[k - 1])
        if ortho[k] @ ortho[k] >= (delta - mu**2) * (ortho[k - 1] @ ortho[k - 1]):
            k += 1
        else:
            b[[k - 1, k]] = b[[k, k - 1]]
            k = max(k - 1, 1)
    return b


_SMALL_COMBOS = np.array(
    [c for c in itertools.product((-1, 0, 1), repeat=3) if any(c)], dtype=float
)


def shortest_vector_length(matrix: NDArray[np.float64]) -> float:
    """Return the length of the shortest non-zero lattice vector (Angstrom).

    This is the minimum distance between a site and its own periodic images.
    """
    reduced = _lll_reduce(matrix)
    return float(np.linalg.norm(_SMALL_COMBOS @ reduced, axis=1).min())


def _hermite_normal_forms(det: int) -> list[NDArray[np.int64]]:
    """Return all lower-triangular Hermite normal forms with determinant ``det``."""
    forms = []
    for a in range(1, det + 1):
        if det % a:
            continue
        for c in range(1, det // a + 1):
            if (det // a) % c:
                continue
            f = det // (a * c)
            for b in range(a):
                for d in range(a):
                    for e in range(c):
                        forms.append(np.array([[a, 0, 0], [b, c, 0], [d, e, f]]))
    return forms


def minimum_length_supercell_matrix(
    lattice: Lattice, min_length_angstrom: float = 10.0
) -> NDArray[np.int64]:
    """Return the integer matrix of the smallest supercell with all vectors >= a length.

    "Every lattice vector >= L" is taken for the reduced (LLL) basis of the supercell,
    i.e. the shortest lattice vector, the minimum distance between the vacancy and its
    periodic images, is >= ``min_length_angstrom``. (Read literally for any basis the
    criterion is meaningless: a skewed basis of the unit cell itself can have long
    vectors.) All superlattices are enumerated as Hermite normal forms of increasing
    determinant, starting at the lattice-packing bound ``L^3 / (sqrt(2) V)``; among the
    valid ones of the smallest determinant the most orthogonal reduced cell (largest
    smallest perpendicular width) is returned. pymatgen's
    ``CubicSupercellTransformation`` solves a different problem (near-cubic cells).

    Parameters
    ----------
    lattice
        The unit cell.
    min_length_angstrom
        Minimum periodic-image distance of the supercell (Angstrom).

    Returns
    -------
    numpy.ndarray
        3x3 integer matrix ``M`` (rows); the supercell lattice is ``M @ lattice.matrix``.
    """
    matrix = lattice.matrix
    if shortest_vector_length(matrix) >= min_length_angstrom:
        return np.eye(3, dtype=int)
    reduced = _lll_reduce(matrix)
    to_reduced = np.round(reduced @ np.linalg.inv(matrix)).astype(int)
    diagonal = np.diag([int(np.ceil(min_length_angstrom / np.linalg.norm(v))) for v in reduced])
    det_max = round(np.linalg.det(diagonal))
    det_min = int(np.floor(min_length_angstrom**3 / (np.sqrt(2) * lattice.volume)))
    for det in range(max(det_min, 2), det_max):
        best = _best_superlattice(matrix, det, min_length_angstrom)
        if best is not None:
            return np.round(best @ np.linalg.inv(matrix)).astype(int)
    return diagonal @ to_reduced


def _best_superlattice(
    matrix: NDArray[np.float64], det: int, min_length_angstrom: float
) -> NDArray[np.float64] | None:
    """Return the most orthogonal reduced superlattice of size ``det`` with all vectors long.

    None when no superlattice of that size has its shortest vector >= the length.
    """
    best, best_width = None, -1.0
    for hnf in _hermite_normal_forms(det):
        super_matrix = hnf @ matrix
        reduced_super = _lll_reduce(super_matrix)
        if np.linalg.norm(_SMALL_COMBOS @ reduced_super, axis=1).min() < min_length_angstrom:
            continue
        width = perpendicular_widths(reduced_super).min()
        if width > best_width:
            if np.linalg.det(reduced_super) < 0:
                reduced_super = reduced_super[[1, 0, 2]]
            best, best_width = reduced_super, width
    return best


def superlattice_matrix(
    lattice: Lattice, multiple: int, min_length_angstrom: float
) -> NDArray[np.int64] | None:
    """Return the integer matrix of a ``multiple``-fold supercell with all vectors long.

    The most orthogonal superlattice of exactly ``multiple`` times the volume whose
    shortest vector is >= ``min_length_angstrom`` (as in
    :func:`minimum_length_supercell_matrix`); None when there is none.
    """
    matrix = lattice.matrix
    if multiple == 1:
        ok = shortest_vector_length(matrix) >= min_length_angstrom
        return np.eye(3, dtype=int) if ok else None
    best = _best_superlattice(matrix, multiple, min_length_angstrom)
    return None if best is None else np.round(best @ np.linalg.inv(matrix)).astype(int)


def make_neb_supercell(
    structure: Structure, min_length_angstrom: float = 10.0
) -> tuple[Structure, NDArray[np.int64]]:
    """Return the supercell used for NEB and its integer scaling matrix.

    Superlattices of the primitive cell are searched as well (they include every
    superlattice of the given cell), so a conventional input does not force a larger
    supercell than needed. Both pymatgen's ``get_primitive_structure`` and
    ``make_supercell`` keep the Cartesian frame, so a BVSE landscape of the input cell
    can be read at supercell positions. The returned matrix is relative to the cell the
    supercell was built from (primitive or input; see the lattice of the supercell).
    """
    options = [structure]
    primitive = structure.get_primitive_structure()
    if len(primitive) < len(structure):
        options.append(primitive)
    best: tuple[Structure, NDArray[np.int64]] | None = None
    for cell in options:
        scaling = minimum_length_supercell_matrix(cell.lattice, min_length_angstrom)
        supercell = cell.copy()
        supercell.make_supercell(scaling, to_unit_cell=True)
        if best is None or len(supercell) < len(best[0]):
            best = (supercell, scaling)
    assert best is not None
    return best
