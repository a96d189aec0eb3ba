"""Percolation through a periodic crystal: of a hop network and of a BVSE landscape.

A network of sites with periodic connections percolates when some cycle of connections
has a non-zero net lattice translation: an ion can then cross the whole crystal.
:func:`network_percolates` tests a list of periodic edges; :func:`li_network_distance`
is the shortest cut-off at which the Li-Li pairs of a structure percolate (used to
derive the hop search limit from the structure); :func:`landscape_percolation_energy_ev`
is the lowest energy at which the region of a BVSE landscape below it percolates (the
BVSE migration barrier in the sense of bvlain's ``percolation_barriers``, here on the
grid the NEB tier uses, for messages and checks).
"""

from __future__ import annotations

from collections import deque

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Structure
from scipy import ndimage

from sseflow.bvse.landscape import BVSELandscape

#: ``(u, v, to_jimage, label)``: site ``u`` connects to site ``v`` in cell ``to_jimage``.
PeriodicEdge = tuple[int, int, tuple[int, int, int], int]


def network_percolates(n_sites: int, edges: list[PeriodicEdge]) -> bool:
    """Return True when the periodic network has a cycle with a net lattice translation."""
    neighbours: dict[int, list[tuple[int, NDArray[np.int64]]]] = {i: [] for i in range(n_sites)}
    for u, v, image, _ in edges:
        shift = np.array(image, dtype=int)
        neighbours[u].append((v, shift))
        neighbours[v].append((u, -shift))
    offset: dict[int, NDArray[np.int64]] = {}
    for root in range(n_sites):
        if root in offset:
            continue
        offset[root] = np.zeros(3, dtype=int)
        queue = deque([root])
        while queue:
            u = queue.popleft()
            for v, shift in neighbours[u]:
                if v not in offset:
                    offset[v] = offset[u] + shift
                    queue.append(v)
                elif np.any(offset[v] != offset[u] + shift):
                    return True
    return False


def li_network_distance(
    structure: Structure, mobile_element: str = "Li", max_search_angstrom: float = 15.0
) -> tuple[float, float | None]:
    """Return the shortest mobile-ion distance and the cut-off at which they percolate (A).

    Pairs of mobile-ion sites are joined in order of increasing distance; the second
    value is the first distance at which the network percolates (None when it does not
    within ``max_search_angstrom``).
    """
    mobile = [i for i, site in enumerate(structure) if site.specie.symbol == mobile_element]
    if not mobile:
        raise ValueError(f"structure contains no {mobile_element}")
    sub = Structure.from_sites([structure[i] for i in mobile])
    centers, points, images, distances = sub.get_neighbor_list(max_search_angstrom)
    if len(distances) == 0:
        return float("inf"), None
    order = np.argsort(distances, kind="stable")
    shortest = float(distances[order[0]])
    edges: list[PeriodicEdge] = []
    rounded = np.round(distances[order], 3)
    for k, idx in enumerate(order):
        u, v = int(centers[idx]), int(points[idx])
        image = images[idx]
        edges.append((u, v, (int(image[0]), int(image[1]), int(image[2])), 0))
        last_of_shell = k + 1 == len(order) or rounded[k + 1] != rounded[k]
        if last_of_shell and network_percolates(len(mobile), edges):
            return shortest, float(distances[idx])
    return shortest, None


def _components(below: NDArray[np.bool_]) -> tuple[NDArray[np.int64], int]:
    structure = ndimage.generate_binary_structure(3, 1)  # face neighbours
    labels, n = ndimage.label(below, structure=structure)
    return labels, n


def landscape_percolates(below: NDArray[np.bool_]) -> bool:
    """Return True when the ``True`` voxels of a periodic grid percolate (face contact)."""
    labels, n = _components(below)
    if n == 0:
        return False
    edges: list[PeriodicEdge] = []
    for axis in range(3):
        first = np.take(labels, 0, axis=axis)
        last = np.take(labels, -1, axis=axis)
        touching = (first > 0) & (last > 0)
        pairs = {(int(a), int(b)) for a, b in zip(last[touching], first[touching], strict=True)}
        shift = [0, 0, 0]
        shift[axis] = 1
        edges.extend((a - 1, b - 1, (shift[0], shift[1], shift[2]), 0) for a, b in pairs)
    return network_percolates(n, edges)


def landscape_percolation_energy_ev(landscape: BVSELandscape, tolerance_ev: float = 0.005) -> float:
    """Return the lowest energy above the landscape minimum at which it percolates (eV).

    Bisection on the energy threshold; the region below the threshold is connected
    through voxel faces across the periodic boundaries.
    """
    energies = landscape.energies_ev
    low, high = float(energies.min()), float(energies.max())
    if not landscape_percolates(energies <= high):
        return float("inf")
    while high - low > tolerance_ev:
        mid = 0.5 * (low + high)
        if landscape_percolates(energies <= mid):
            high = mid
        else:
            low = mid
    return high - float(energies.min())
