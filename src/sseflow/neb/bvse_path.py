"""The minimum-energy path of the mobile ion between two positions of a BVSE landscape.

Used to give every Li hop a BVSE barrier and a seed path for the NEB images
(:mod:`sseflow.neb.hops`): the bottleneck (minimax) path inside a tube around the hop,
and its barrier as the largest energy rise along it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from sseflow.bvse.landscape import BVSELandscape


class PathError(ValueError):
    """No path between the two positions could be found."""


def bvse_minimum_energy_path(
    landscape: BVSELandscape,
    start_cart: NDArray[np.float64],
    end_cart: NDArray[np.float64],
    tube_radius_angstrom: float = 1.2,
    spacing_angstrom: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Return the minimum-energy path of the mobile ion between two positions.

    The landscape is sampled on a cubic Cartesian grid inside a tube (a capsule) around
    the straight hop segment. The bottleneck (minimax) energy is found by bisection on an
    energy threshold with connected components (26-neighbour connectivity); the path is
    then the geometrically shortest path through grid points below that threshold.

    Parameters
    ----------
    landscape
        BVSE landscape in the Cartesian frame of the positions.
    start_cart, end_cart
        Hop endpoints (Angstrom), ``end_cart`` being the periodic image reached.
    tube_radius_angstrom
        Radius around the segment the path may use (Angstrom).
    spacing_angstrom
        Sampling step; defaults to the landscape's grid spacing (at most 0.25 A).

    Returns
    -------
    path_cart
        Path points from ``start_cart`` to ``end_cart`` inclusive (Angstrom).
    path_energies_ev
        Landscape energies at those points (eV).
    barrier_ev
        Largest energy rise along the path in either direction (eV), see
        :func:`path_barrier`.
    """
    start = np.asarray(start_cart, dtype=float)
    end = np.asarray(end_cart, dtype=float)
    step = spacing_angstrom or min(landscape.spacing_angstrom, 0.25)
    lo = np.minimum(start, end) - tube_radius_angstrom
    hi = np.maximum(start, end) + tube_radius_angstrom
    axes = [np.arange(lo[i], hi[i] + step, step) for i in range(3)]
    shape = tuple(len(a) for a in axes)
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    segment = end - start
    t = np.clip((grid - start) @ segment / (segment @ segment), 0.0, 1.0)
    distance = np.linalg.norm(grid - (start + t[:, None] * segment), axis=1)
    inside = distance <= tube_radius_angstrom
    index_of = -np.ones(len(grid), dtype=int)
    index_of[inside] = np.arange(inside.sum())
    points = grid[inside]
    energies = landscape.energy_at(points)

    # 26-neighbour edges between tube points
    ijk = np.stack(np.unravel_index(np.flatnonzero(inside), shape), axis=1)
    rows, cols, lengths = [], [], []
    for offset in np.array(np.meshgrid([-1, 0, 1], [-1, 0, 1], [-1, 0, 1])).T.reshape(-1, 3):
        if not offset.any() or tuple(offset) < (0, 0, 0):
            continue
        nb = ijk + offset
        ok = np.all((nb >= 0) & (nb < np.array(shape)), axis=1)
        flat = np.ravel_multi_index(nb[ok].T, shape)
        target = index_of[flat]
        source = np.flatnonzero(ok)[target >= 0]
        target = target[target >= 0]
        rows.append(source)
        cols.append(target)
        lengths.append(np.full(len(source), step * np.linalg.norm(offset)))
    row, col, length = np.concatenate(rows), np.concatenate(cols), np.concatenate(lengths)
    n = len(points)
    i_start = int(np.argmin(np.linalg.norm(points - start, axis=1)))
    i_end = int(np.argmin(np.linalg.norm(points - end, axis=1)))

    def connected_below(threshold: float) -> bool:
        keep = (energies[row] <= threshold) & (energies[col] <= threshold)
        adjacency = coo_matrix((np.ones(keep.sum()), (row[keep], col[keep])), shape=(n, n))
        _, labels = connected_components(adjacency, directed=False)
        return bool(labels[i_start] == labels[i_end])

    levels = np.unique(energies[energies >= max(energies[i_start], energies[i_end])])
    low, high = 0, len(levels) - 1
    while low < high:  # smallest level at which start and end are connected
        mid = (low + high) // 2
        if connected_below(levels[mid]):
            high = mid
        else:
            low = mid + 1
    bottleneck = levels[low]
    keep = (energies[row] <= bottleneck) & (energies[col] <= bottleneck)
    adjacency = coo_matrix((length[keep], (row[keep], col[keep])), shape=(n, n)).tocsr()
    _, predecessors = dijkstra(adjacency, directed=False, indices=i_start, return_predecessors=True)
    order = [i_end]
    while order[-1] != i_start:
        order.append(int(predecessors[order[-1]]))
        if order[-1] < 0:
            raise PathError("BVSE path search failed to connect the hop endpoints")
    order.reverse()
    path = points[order].copy()
    path[0], path[-1] = start, end
    path_energies = landscape.energy_at(path)
    return path, path_energies, path_barrier(path_energies)


def path_barrier(path_energies_ev: NDArray[np.float64]) -> float:
    """Return the largest energy rise along a path, in either direction (eV).

    Forward: ``max_j (E_j - min_{i<=j} E_i)``; backward the same on the reversed path.
    Unlike "maximum minus start", this counts the climb out of a well *inside* the path
    (a path through an interstitial site deeper than the Li sites).
    """
    e = np.asarray(path_energies_ev, dtype=float)
    forward = float(np.max(e - np.minimum.accumulate(e)))
    backward = float(np.max(e[::-1] - np.minimum.accumulate(e[::-1])))
    return max(forward, backward)
