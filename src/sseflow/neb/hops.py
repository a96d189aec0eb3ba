"""Symmetry-distinct Li hops, their BVSE barriers and the hops the percolation path uses.

Hops come from pymatgen-analysis-diffusion's :class:`MigrationGraph` (all Li-Li
connections up to a distance, grouped by symmetry). Each distinct hop gets a BVSE
barrier from the minimum-energy path through the BVSE landscape
(:func:`bvse_minimum_energy_path`). The hops "used by the BVSE percolation path" are the
lowest-barrier hop families that, added in order of increasing barrier, first make the
Li network percolate through the periodic crystal (:func:`percolating_hop_labels`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pymatgen.analysis.diffusion.neb.full_path_mapper import MigrationGraph
from pymatgen.core import Structure
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from sseflow.bvse.landscape import BVSELandscape


class HopError(ValueError):
    """No usable Li hop could be found."""


@dataclass
class LiHop:
    """One symmetry-distinct hop of the mobile ion in the unit cell.

    Attributes
    ----------
    label
        Hop family label from :class:`MigrationGraph` (symmetry-equivalent hops share it).
    start_index, end_index
        Indices of the start and end Li sites in the (ordered) unit-cell structure.
    start_cart, end_cart
        Cartesian positions (Angstrom); ``end_cart`` is the periodic image actually
        reached, so ``end_cart - start_cart`` is the hop vector.
    length_angstrom
        Hop distance.
    n_equivalent
        Number of graph edges (hops in the unit cell) in this family.
    bvse_barrier_ev
        Largest energy rise along the BVSE path (eV), see :func:`path_barrier`.
    bvse_path_cart
        Points of the BVSE minimum-energy path from start to end (Angstrom).
    """

    label: int
    start_index: int
    end_index: int
    start_cart: NDArray[np.float64]
    end_cart: NDArray[np.float64]
    length_angstrom: float
    n_equivalent: int = 1
    bvse_barrier_ev: float | None = None
    bvse_path_cart: NDArray[np.float64] | None = field(default=None, repr=False)

    def summary(self) -> dict[str, object]:
        """Return a JSON-friendly description (no path points)."""
        return {
            "label": self.label,
            "start_index": self.start_index,
            "end_index": self.end_index,
            "start_cart": np.round(self.start_cart, 6).tolist(),
            "end_cart": np.round(self.end_cart, 6).tolist(),
            "length_angstrom": round(self.length_angstrom, 6),
            "n_equivalent": self.n_equivalent,
            "bvse_barrier_ev": self.bvse_barrier_ev,
        }


def migration_graph(
    structure: Structure,
    mobile_element: str = "Li",
    max_hop_angstrom: float = 4.0,
    symprec: float = 0.1,
) -> MigrationGraph:
    """Return the pymatgen-analysis-diffusion migration graph of an ordered structure."""
    if not structure.is_ordered:
        raise HopError("hops need an ordered structure; order it first")
    plain = structure.copy()
    plain.remove_oxidation_states()
    if mobile_element not in plain.composition:
        raise HopError(f"structure contains no {mobile_element}")
    graph = MigrationGraph.with_distance(
        plain, mobile_element, max_distance=max_hop_angstrom, symprec=symprec
    )
    if graph.m_graph.graph.number_of_edges() == 0:
        raise HopError(
            f"no {mobile_element}-{mobile_element} hop shorter than {max_hop_angstrom} A"
        )
    return graph


def _mobile_indices(structure: Structure, mobile_element: str) -> list[int]:
    return [i for i, site in enumerate(structure) if site.specie.symbol == mobile_element]


def distinct_hops(
    structure: Structure,
    mobile_element: str = "Li",
    max_hop_angstrom: float = 4.0,
    symprec: float = 0.1,
) -> tuple[list[LiHop], list[tuple[int, int, tuple[int, int, int], int]]]:
    """Return the symmetry-distinct hops and all hop edges of the unit cell.

    Returns
    -------
    hops
        One :class:`LiHop` per hop family (no BVSE data yet).
    edges
        ``(u, v, to_jimage, label)`` for every hop in the cell, ``u``/``v`` indexing the
        mobile sites in structure order; used for the percolation analysis.
    """
    graph = migration_graph(structure, mobile_element, max_hop_angstrom, symprec)
    mobile = _mobile_indices(structure, mobile_element)
    lattice = structure.lattice.matrix
    edges = []
    for u, v, data in graph.m_graph.graph.edges(data=True):
        a, b, c = (int(x) for x in data["to_jimage"])
        edges.append((int(u), int(v), (a, b, c), int(data["hop_label"])))
    counts: dict[int, int] = {}
    for *_, label in edges:
        counts[label] = counts.get(label, 0) + 1
    hops = []
    for label, data in sorted(graph.unique_hops.items()):
        start_frac = np.asarray(data["ipos"], dtype=float)
        end_frac = np.asarray(data["epos"], dtype=float)
        hops.append(
            LiHop(
                label=int(label),
                start_index=mobile[int(data["iindex"])],
                end_index=mobile[int(data["eindex"])],
                start_cart=start_frac @ lattice,
                end_cart=end_frac @ lattice,
                length_angstrom=float(data["hop_distance"]),
                n_equivalent=counts.get(int(label), 1),
            )
        )
    return hops, edges


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
            raise HopError("BVSE path search failed to connect the hop endpoints")
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


def percolating_hop_labels(
    n_sites: int,
    edges: list[tuple[int, int, tuple[int, int, int], int]],
    label_order: list[int],
) -> list[int]:
    """Return the hop labels, in ``label_order``, needed for the Li network to percolate.

    Hop families are added one at a time (lowest BVSE barrier first); the network
    percolates once some cycle of hops has a non-zero net lattice translation, i.e. a
    Li ion can cross the periodic crystal. Returns all labels if it never percolates.
    """
    used: list[int] = []
    for label in label_order:
        used.append(label)
        if _percolates(n_sites, [e for e in edges if e[3] in used]):
            return used
    return used


def _percolates(n_sites: int, edges: list[tuple[int, int, tuple[int, int, int], int]]) -> bool:
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


def rank_hops_by_bvse(
    structure: Structure,
    landscape: BVSELandscape,
    mobile_element: str = "Li",
    max_hop_angstrom: float = 4.0,
    tube_radius_angstrom: float = 1.2,
    symprec: float = 0.1,
) -> tuple[list[LiHop], list[int]]:
    """Return all distinct hops with BVSE barriers (ascending) and the percolating labels.

    Returns
    -------
    hops
        Distinct hops sorted by BVSE barrier, lowest first.
    percolating_labels
        Labels of the hop families the BVSE percolation path uses.
    """
    hops, edges = distinct_hops(structure, mobile_element, max_hop_angstrom, symprec)
    for hop in hops:
        path, _, barrier = bvse_minimum_energy_path(
            landscape, hop.start_cart, hop.end_cart, tube_radius_angstrom
        )
        hop.bvse_path_cart = path
        hop.bvse_barrier_ev = barrier
    hops.sort(key=lambda h: (h.bvse_barrier_ev, h.length_angstrom))
    n_sites = len(_mobile_indices(structure, mobile_element))
    labels = percolating_hop_labels(n_sites, edges, [h.label for h in hops])
    return hops, labels


def select_hops(hops: list[LiHop], percolating_labels: list[int], n_hops: int = 1) -> list[LiHop]:
    """Return up to ``n_hops`` hops of the percolation path, lowest BVSE barrier first."""
    if n_hops < 1:
        raise HopError("n_hops must be >= 1")
    chosen = [h for h in hops if h.label in percolating_labels]
    if not chosen:
        raise HopError("no hop lies on the BVSE percolation path")
    return sorted(chosen, key=lambda h: (h.bvse_barrier_ev or 0.0, h.length_angstrom))[:n_hops]
