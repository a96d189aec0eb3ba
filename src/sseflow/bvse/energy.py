"""The Li+ BVSE energy grid of a framework, computed in blocks (the native engine).

It reproduces bvlain's ``Lain.bvse_distribution`` (bvlain 0.25.1, ``core.py``) term by
term, with the occupancy weights of :class:`sseflow.bvse.engine.WeightedLain`:

- **Grid**: ``n = int(length // resolution)`` points per lattice vector at fractional
  coordinates ``i / (n - 1)``, ``i = 0 .. n - 1`` (``numpy.linspace(0, 1, n)``: the plane
  at 1 repeats the plane at 0). We compute the ``n - 1`` distinct planes and copy the
  first plane to the end, so the array has bvlain's shape and layout. (bvlain computes
  the end planes; in oblique cells they can differ from the first planes by ~1e-5 eV
  where its supercell misses a far neighbour. The percolation search and the NEB tiers
  use the distinct planes only.)
- **Neighbours**: bvlain places the grid in the central cell of an
  ``s_a x s_b x s_c`` supercell built with ``ase.build.make_supercell`` (wrapped,
  ``tol=1e-5``), with ``s = 2 * ceil(r_cut / h) + 1`` and bvlain's ``h`` per axis
  (``min(a sin(gamma), a sin(beta))``, ``min(b sin(gamma), b sin(beta))`` and
  ``c sin(beta)``), and sums over the ``k`` nearest supercell atoms closer than
  ``r_cut`` (``cKDTree.query(k=k, distance_upper_bound=r_cut)``). We build the same
  supercell, so the same atoms are in reach, and keep the same ``k`` nearest.
- **Energy**: per framework atom one term, weighted by occupancy: Morse for anions,
  screened Coulomb for cations (:mod:`sseflow.bvse.parameters`).

Why our own: bvlain queries a KD-tree for every grid point and then holds about ten
(grid points x k) float64 arrays at once (1-2 GB for a 20 A cell at 0.2 A). Here the
grid is cut into blocks of about 1 A; for each block a KD-tree query gives the atoms that
can be among the ``k`` nearest of any of its points (within ``d_k(centre) + 2 h`` of the
block centre, ``h`` the block's half-diagonal: a point's ``k`` nearest lie within
``d_k(point) <= d_k(centre) + h`` of it), and a compiled kernel (numba, blocks in
parallel) selects the ``k`` nearest of each point among those and sums the terms.
Memory is the grid itself plus one chunk of blocks' candidate lists.
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np
from ase import Atoms
from ase.build import make_supercell
from scipy.spatial import cKDTree

from sseflow.bvse.parameters import pair_parameters

# The calculation runs in forked children (sseflow.bvse.isolation) after the parent ran
# the kernels once (engine.warm_up); numba documents GNU OpenMP, its default layer on
# Linux, as not fork-safe, so ask for a fork-safe layer (TBB if installed, else numba's
# workqueue) unless the user chose one.
if "NUMBA_THREADING_LAYER" not in os.environ:
    # numba.config sets its attributes at import time (from the environment): no stub
    numba.config.THREADING_LAYER = "forksafe"  # type: ignore[attr-defined]

#: Block edge in grid points (about 1 A at the default 0.2 A spacing).
BLOCK_EDGE_ANGSTROM = 1.0
#: Blocks whose candidate lists are held at once (bounds the memory of a chunk).
BLOCKS_PER_CHUNK = 512
#: The eight corners of a block: False = first index, True = last index, per axis.
_CORNERS = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=bool)


def bvlain_grid_shape(cellpar: np.ndarray, resolution: float) -> tuple[int, int, int]:
    """Return bvlain's grid shape ``int(length // resolution)`` per lattice vector."""
    a, b, c = (float(x) for x in cellpar[:3])
    return int(a // resolution), int(b // resolution), int(c // resolution)


def bvlain_supercell_scale(cellpar: np.ndarray, r_cut: float) -> tuple[int, int, int]:
    """Return bvlain's supercell multiples (``Lain._scale_cell``, formulae kept as written)."""
    a, b, c = cellpar[:3]
    beta, gamma = np.radians(cellpar[4]), np.radians(cellpar[5])
    s_a = 2 * math.ceil(r_cut / min(a * np.sin(gamma), a * np.sin(beta))) + 1
    s_b = 2 * math.ceil(r_cut / min(b * np.sin(gamma), b * np.sin(beta))) + 1
    s_c = 2 * math.ceil(r_cut / (c * np.sin(beta))) + 1  # bvlain uses sin(beta) twice here
    return int(s_a), int(s_b), int(s_c)


def native_grid_memory_gb(n_points: int) -> float:
    """Rough peak memory of the native engine for a grid of ``n_points``, GB.

    Two float64 copies of the grid and its float32 copy, the percolation search's
    arrays (order, parent, three offsets, size, flags: about 60 bytes per point), plus
    ~0.1 GB for one chunk of candidate lists and the interpreter's share.
    """
    return n_points * 90 / 1e9 + 0.1


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _kth_smallest(values: np.ndarray, n: int, kth: int) -> float:  # pragma: no cover
    """Return the ``kth`` smallest (0-based) of ``values[:n]`` (reorders them)."""
    lo, hi = 0, n - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i, j = lo, hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if kth <= j:
            hi = j
        elif kth >= i:
            lo = i
        else:
            return values[kth]
    return values[kth]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _banded_energy(  # pragma: no cover - compiled
    x: float,
    y: float,
    z: float,
    bound: float,
    delta: float,
    cand: np.ndarray,
    k: int,
    r_cut: float,
    index: np.ndarray,
    dist2: np.ndarray,
) -> tuple[float, float, bool]:
    """Return (energy, reach, ok) of the mobile ion at ``(x, y, z)``.

    ``cand`` holds one row per candidate atom: x, y, z (A), 1 for an anion (0 for a
    cation), and the three term parameters (see :func:`_block_energies`). ``index``
    (2, m) and ``dist2`` (3, m) are work space.

    ``reach`` is ``min(d_k, r_cut)``: the distance within which the point's atoms are
    summed (``d_k`` the distance of its k-th nearest atom). ``reach`` is 1-Lipschitz
    in the position, so a neighbour's ``bound`` and the distance ``delta`` to it give a
    band ``[bound - delta, bound + delta]`` that must contain this point's reach: only
    atoms in that band need to be ranked. A negative ``bound`` ranks all candidates;
    ``ok`` is False if the band turned out not to contain the reach (then call again
    with a negative bound).
    """
    taken, band = index[0], index[1]
    taken_d2, band_d2, scratch = dist2[0], dist2[1], dist2[2]
    r_cut2 = r_cut * r_cut
    if bound < 0.0:
        lo2, hi2 = 0.0, r_cut2
    else:
        lo = bound - delta - 1e-9
        hi = bound + delta + 1e-9
        lo2 = lo * lo if lo > 0.0 else 0.0
        hi2 = min(hi * hi, r_cut2)
    n_taken = 0
    n_band = 0
    for c in range(cand.shape[0]):
        dx = x - cand[c, 0]
        dy = y - cand[c, 1]
        dz = z - cand[c, 2]
        dd = dx * dx + dy * dy + dz * dz
        if dd < lo2:  # nearer than any possible reach: summed
            taken[n_taken] = c
            taken_d2[n_taken] = dd
            n_taken += 1
        elif dd < hi2 or (dd == hi2 and hi2 < r_cut2):  # to be ranked
            band[n_band] = c
            band_d2[n_band] = dd
            n_band += 1
    if n_taken + n_band > k:
        need = k - n_taken
        if need <= 0:  # the band was wrong (cannot happen for a true bound)
            return 0.0, 0.0, False
        scratch[:n_band] = band_d2[:n_band]
        limit = _kth_smallest(scratch, n_band, need - 1)
        n_ties = need  # atoms at exactly the k-th distance: take them in order until k
        for c in range(n_band):
            if band_d2[c] < limit:
                n_ties -= 1
        for c in range(n_band):
            dd = band_d2[c]
            if dd < limit or (dd == limit and n_ties > 0):
                if dd == limit:
                    n_ties -= 1
                taken[n_taken] = band[c]
                taken_d2[n_taken] = dd
                n_taken += 1
        reach = math.sqrt(limit)
    else:
        if n_taken + n_band < k and hi2 < r_cut2:  # atoms beyond the band may count
            return 0.0, 0.0, False
        for c in range(n_band):
            taken[n_taken] = band[c]
            taken_d2[n_taken] = band_d2[c]
            n_taken += 1
        largest = 0.0
        for c in range(n_taken):
            largest = max(largest, taken_d2[c])
        reach = math.sqrt(largest) if n_taken == k else r_cut
    energy = 0.0
    for t in range(n_taken):
        c = taken[t]
        r = math.sqrt(taken_d2[t])
        if cand[c, 3] > 0.5:  # anion: Morse
            e = math.exp(cand[c, 5] * (cand[c, 4] - r)) - 1.0
            energy += cand[c, 6] * (e * e - 1.0)
        else:  # cation: screened Coulomb
            energy += cand[c, 4] / r * math.erfc(r / cand[c, 5])
    return energy, reach, True


@numba.njit(cache=True, nogil=True, parallel=True, error_model="numpy")
def _block_energies(  # pragma: no cover - compiled
    lattice: np.ndarray,
    shift: np.ndarray,
    spacing: np.ndarray,
    blocks: np.ndarray,
    cand_ptr: np.ndarray,
    cand_idx: np.ndarray,
    atoms: np.ndarray,
    k: int,
    r_cut: float,
    out: np.ndarray,
) -> None:
    """Fill ``out[i, j, l]`` for every point of every block (see the module docstring).

    ``atoms`` has one row per supercell atom: x, y, z (A), 1 for an anion (0 for a
    cation), then (r_min, alpha, weight * d0 / 2) for an anion or (weight * 14.4 q_Li
    q_j / sqrt(n_Li n_j), screening length, 0) for a cation. The candidates of block
    ``b`` are ``cand_idx[cand_ptr[b]:cand_ptr[b + 1]]``.
    """
    for b in numba.prange(blocks.shape[0]):
        cand = atoms[cand_idx[cand_ptr[b] : cand_ptr[b + 1]]]
        m = cand.shape[0]
        index = np.empty((2, m), dtype=np.int64)
        dist2 = np.empty((3, m))
        bound = -1.0
        qx = qy = qz = 0.0
        for i in range(blocks[b, 0], blocks[b, 1]):
            fa = i * spacing[0] + shift[0]
            for j in range(blocks[b, 2], blocks[b, 3]):
                fb = j * spacing[1] + shift[1]
                for l in range(blocks[b, 4], blocks[b, 5]):  # noqa: E741
                    fc = l * spacing[2] + shift[2]
                    x = fa * lattice[0, 0] + fb * lattice[1, 0] + fc * lattice[2, 0]
                    y = fa * lattice[0, 1] + fb * lattice[1, 1] + fc * lattice[2, 1]
                    z = fa * lattice[0, 2] + fb * lattice[1, 2] + fc * lattice[2, 2]
                    delta = math.sqrt((x - qx) ** 2 + (y - qy) ** 2 + (z - qz) ** 2)
                    energy, bound, ok = _banded_energy(
                        x, y, z, bound, delta, cand, k, r_cut, index, dist2
                    )
                    if not ok:
                        energy, bound, ok = _banded_energy(
                            x, y, z, -1.0, 0.0, cand, k, r_cut, index, dist2
                        )
                    out[i, j, l] = energy
                    qx, qy, qz = x, y, z


def _blocks(shape: tuple[int, int, int], edge: tuple[int, int, int]) -> np.ndarray:
    """Return blocks ``[i0, i1, j0, j1, l0, l1]`` (half-open index ranges) tiling ``shape``."""
    starts = [np.arange(0, n, e) for n, e in zip(shape, edge, strict=True)]
    grids = np.meshgrid(*starts, indexing="ij")
    lo = np.stack([g.ravel() for g in grids], axis=1)
    hi = np.minimum(lo + np.array(edge), np.array(shape))
    return np.stack([lo[:, 0], hi[:, 0], lo[:, 1], hi[:, 1], lo[:, 2], hi[:, 2]], axis=1)


def _atom_table(
    framework_atoms: Atoms, scale: tuple[int, int, int], screening_factor: float
) -> np.ndarray:
    """Return bvlain's supercell as the kernel's table (see :func:`_block_energies`)."""
    params = pair_parameters(framework_atoms, screening_factor)
    base = Atoms(
        numbers=framework_atoms.numbers,
        positions=framework_atoms.positions,
        cell=framework_atoms.cell,
        pbc=True,
    )
    base.set_array("atom_index", np.arange(len(base)))
    supercell = make_supercell(base, np.diag(scale).astype(float))  # as bvlain builds it
    index = supercell.get_array("atom_index")
    anion = params.is_anion[index]
    weight = params.weight[index]
    return np.column_stack(
        [
            np.asarray(supercell.positions, dtype=np.float64),
            anion.astype(np.float64),
            np.where(
                anion, params.r_min_angstrom[index], weight * params.coulomb_ev_angstrom[index]
            ),
            np.where(anion, params.alpha_per_angstrom[index], params.screening_angstrom[index]),
            np.where(anion, weight * params.d0_ev[index] / 2.0, 0.0),
        ]
    )


def _candidates(
    tree: cKDTree, centres: np.ndarray, half: np.ndarray, k: int, r_cut: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return (pointers, atom indices) of the atoms that can be among the ``k`` nearest.

    For a block with centre ``c`` and half-diagonal ``h``: every point ``p`` of it has
    its ``k`` nearest atoms within ``d_k(p) <= d_k(c) + h`` of itself, so within
    ``d_k(c) + 2 h`` of ``c`` (and within ``r_cut + h`` in any case).
    """
    n_query = min(k, tree.n)
    d_k = tree.query(centres, k=n_query)[0]
    d_k = d_k[:, -1] if d_k.ndim == 2 else d_k
    if n_query < k:  # fewer atoms than k in the whole supercell
        d_k = np.full(len(centres), np.inf)
    radius = np.minimum(r_cut + half, d_k + 2.0 * half) + 1e-9
    lists = tree.query_ball_point(centres, radius, return_sorted=False)
    counts = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    pointers = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(counts, out=pointers[1:])
    if not pointers[-1]:
        return pointers, np.zeros(0, dtype=np.int64)
    return pointers, np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])


def bvse_energy_grid(
    framework_atoms: Atoms,
    resolution: float = 0.2,
    r_cut: float = 10.0,
    k: int = 100,
    screening_factor: float = 0.74,
) -> np.ndarray:
    """Return the Li+ BVSE energy (eV) on bvlain's grid, end planes included.

    Parameters
    ----------
    framework_atoms
        Li-free framework with ``oxi_states`` and ``weight`` arrays.
    resolution
        Grid spacing, A.
    r_cut
        Interaction cut-off, A.
    k
        Largest number of framework atoms summed per grid point (the nearest).
    screening_factor
        Coulomb screening factor ``f``.

    Returns
    -------
    numpy.ndarray
        ``(na, nb, nc)`` float64 energies, eV (not shifted), as ``Lain.data``.
    """
    cellpar = framework_atoms.cell.cellpar()
    shape = bvlain_grid_shape(cellpar, resolution)
    if min(shape) < 3:
        raise ValueError(f"cell too small for a {resolution} A grid: {shape} points")
    scale = bvlain_supercell_scale(cellpar, r_cut)
    atoms = _atom_table(framework_atoms, scale, screening_factor)
    lattice = np.asarray(framework_atoms.cell[:], dtype=np.float64)
    distinct = tuple(n - 1 for n in shape)  # the plane at 1 repeats the plane at 0
    spacing = 1.0 / np.array(distinct, dtype=np.float64)
    shift = (np.array(scale, dtype=np.float64) - 1.0) / 2.0  # central cell of the supercell
    lengths = np.linalg.norm(lattice, axis=1) / np.array(distinct)
    edge = tuple(max(1, round(BLOCK_EDGE_ANGSTROM / d)) for d in lengths)
    blocks = _blocks(distinct, edge)  # type: ignore[arg-type]

    tree = cKDTree(atoms[:, :3])
    work = np.full(distinct, np.nan)
    for first in range(0, len(blocks), BLOCKS_PER_CHUNK):
        chunk = np.ascontiguousarray(blocks[first : first + BLOCKS_PER_CHUNK])
        first_point, last_point = chunk[:, 0::2], chunk[:, 1::2] - 1
        corner_index = np.where(_CORNERS[None], last_point[:, None], first_point[:, None])
        corners = (corner_index * spacing + shift) @ lattice  # (blocks, 8, 3), A
        centres = corners.mean(axis=1)
        half = np.linalg.norm(corners - centres[:, None, :], axis=2).max(axis=1)
        pointers, indices = _candidates(tree, centres, half, k, r_cut)
        _block_energies(
            lattice, shift, spacing, chunk, pointers, indices, atoms, int(k), float(r_cut), work
        )
    if np.isnan(work).any():  # a parallel iteration that failed leaves its block unset
        raise RuntimeError("the energy kernel left grid points unset")
    return np.pad(work, ((0, 1), (0, 1), (0, 1)), mode="wrap")
