"""The Li hops a NEB computes: the direct hops the BVSE percolation path uses.

:func:`search_hops` does it in five steps:

1. How far to look (:func:`hop_search_limit`): twice (:data:`HOP_LIMIT_FACTOR`) the
   Li-Li distance at which the Li sites first form a network that crosses the periodic
   crystal, or ``max_hop_angstrom`` when the user sets one. It is a safety limit on the
   number of pairs examined, not a physical cut-off: hops of any length the structure
   needs are found (the Li-Li distance of the LiMTe2 chalcopyrites is 4.4-4.6 A).
2. Hop families (:func:`distinct_hops`): Li-Li pairs up to the limit grouped into
   symmetry-equivalent families by :func:`~sseflow.neb.hop_graph.pair_families`
   (labels 0, 1, ... by length). pymatgen-analysis-diffusion's ``MigrationGraph``
   gives the same families but is far slower for long cut-offs (see
   :mod:`sseflow.neb.hop_graph`); :func:`migration_graph` builds it only so the tests
   can compare the two.
3. BVSE path and barrier of each family: the minimum-energy path through the BVSE
   landscape (:func:`~sseflow.neb.bvse_path.bvse_minimum_energy_path`); the barrier is
   the largest energy rise along it. The interstitial sites the path runs through
   (wells away from every Li site, :func:`path_interstitials`) are recorded; the path
   seeds the NEB band through them, and the NEB splits the band into half-hops when an
   interstitial turns out to be a minimum below the Li sites
   (:mod:`sseflow.neb.workflow`).
4. Direct hops only: a family whose path runs through another Li site
   (:func:`path_passes_li_site`) is two shorter hops in a row and is dropped.
5. The percolation path (:func:`percolating_hop_labels`): hop families are added in
   order of increasing BVSE barrier (:func:`bvse_order`; barriers within
   :data:`BVSE_TIE_EV` are a tie and the shorter hop goes first) until the Li network
   percolates; those families are the hops the NEB may compute (:func:`select_hops`:
   the family that completed percolation - the bottleneck - first).

When no hop can be built, :class:`HopError` says why in words: the shortest Li-Li
distance, the search limit and how it was set, and the BVSE percolation energy
(:func:`no_hop_reason`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pymatgen.analysis.diffusion.neb.full_path_mapper import MigrationGraph
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.neb.bvse_path import bvse_minimum_energy_path
from sseflow.neb.hop_graph import pair_families
from sseflow.neb.percolation import (
    PeriodicEdge,
    landscape_percolation_energy_ev,
    li_network_distance,
    network_percolates,
)

#: The hop search limit is this multiple of the distance at which the Li network percolates.
HOP_LIMIT_FACTOR = 2.0
#: A hop path passing closer to another Li site than this fraction of the shortest Li-Li
#: distance runs through that site (half the distance: the site's own half of the way).
LI_SITE_RADIUS_FRACTION = 0.5
#: An interstitial is a well of the path farther than this from every Li site (A) ...
INTERSTITIAL_MIN_DISTANCE_ANGSTROM = 1.5
#: ... at least this deep on both sides (eV).
INTERSTITIAL_MIN_DEPTH_EV = 0.05
#: BVSE barriers closer than this are a tie (grid noise at 0.2-0.3 A); shorter hops first.
BVSE_TIE_EV = 0.05


class HopError(ValueError):
    """No usable Li hop could be found (the message says why, in words)."""


@dataclass
class HopSearchLimit:
    """How far the hop search looks, derived from the structure (distances in A).

    Attributes
    ----------
    shortest_angstrom
        Shortest Li-Li distance.
    percolation_angstrom
        Shortest cut-off at which the Li-Li pairs form a percolating network (None: not
        within the search).
    limit_angstrom
        Longest hop considered.
    source
        How the limit was set (e.g. "2 x the Li network percolation distance 4.42 A").
    """

    shortest_angstrom: float
    percolation_angstrom: float | None
    limit_angstrom: float
    source: str


def hop_search_limit(
    structure: Structure,
    mobile_element: str = "Li",
    max_hop_angstrom: float | None = None,
    factor: float = HOP_LIMIT_FACTOR,
    max_search_angstrom: float = 15.0,
) -> HopSearchLimit:
    """Return the longest hop to consider for ``structure``.

    ``max_hop_angstrom`` (a user's explicit limit) wins; otherwise the limit is
    ``factor`` times the distance at which the Li sites first form a percolating
    network: the hops a Li ion needs to cross the crystal are all shorter, and the
    margin lets a longer but lower-barrier hop compete. It is a safety limit on the
    number of pairs examined, not a physical cut: which hops are computed is decided
    by the BVSE landscape.
    """
    shortest, percolation = li_network_distance(structure, mobile_element, max_search_angstrom)
    if max_hop_angstrom is not None:
        source = f"max_hop_angstrom = {max_hop_angstrom:g} A (set by the user)"
        return HopSearchLimit(shortest, percolation, float(max_hop_angstrom), source)
    if percolation is None:
        limit = max_search_angstrom
        source = f"the search limit {max_search_angstrom:g} A (the Li network never percolates)"
    else:
        limit = factor * percolation
        source = f"{factor:g} x the Li network percolation distance {percolation:.2f} A"
    return HopSearchLimit(shortest, percolation, float(limit), source)


def no_hop_reason(why: str, limit: HopSearchLimit, landscape: BVSELandscape | None = None) -> str:
    """Return a failure reason in words: what failed, distances and percolation energy."""
    parts = [
        f"shortest Li-Li distance {limit.shortest_angstrom:.2f} A",
        f"hop search limit {limit.limit_angstrom:.2f} A ({limit.source})",
    ]
    if landscape is not None:
        energy = landscape_percolation_energy_ev(landscape)
        parts.append(
            "BVSE percolation energy "
            + (f"{energy:.2f} eV" if np.isfinite(energy) else "none (no percolation)")
        )
    return f"{why}: " + ", ".join(parts)


@dataclass
class LiHop:
    """One symmetry-distinct hop of the mobile ion in the unit cell.

    Attributes
    ----------
    label
        Hop family label (:func:`distinct_hops`; symmetry-equivalent hops share it).
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
        Largest energy rise along the BVSE path (eV), see
        :func:`~sseflow.neb.bvse_path.path_barrier`.
    bvse_path_cart
        Points of the BVSE minimum-energy path from start to end (Angstrom).
    interstitial_indices
        Indices into ``bvse_path_cart`` of the interstitial sites the path runs through
        (empty for a direct hop).
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
    interstitial_indices: list[int] = field(default_factory=list)

    @property
    def interstitials_cart(self) -> list[NDArray[np.float64]]:
        """Cartesian positions of the interstitial sites the hop runs through (A)."""
        if self.bvse_path_cart is None:
            return []
        return [self.bvse_path_cart[i] for i in self.interstitial_indices]

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
            "interstitials_cart": [np.round(x, 6).tolist() for x in self.interstitials_cart],
        }


def migration_graph(
    structure: Structure,
    mobile_element: str = "Li",
    max_hop_angstrom: float = 4.0,
    symprec: float = 0.1,
) -> MigrationGraph:
    """Return the pymatgen-analysis-diffusion migration graph of an ordered structure.

    Not used to find hops (:func:`distinct_hops` does that); kept as the reference the
    hop families are checked against in the tests.
    """
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
            f"no {mobile_element}-{mobile_element} hop shorter than {max_hop_angstrom:.2f} A"
        )
    return graph


def _mobile_indices(structure: Structure, mobile_element: str) -> list[int]:
    return [i for i, site in enumerate(structure) if site.specie.symbol == mobile_element]


def distinct_hops(
    structure: Structure,
    mobile_element: str = "Li",
    max_hop_angstrom: float = 4.0,
    symprec: float = 0.1,
) -> tuple[list[LiHop], list[PeriodicEdge]]:
    """Return the symmetry-distinct hops and all hop edges of the unit cell.

    Families of symmetry-equivalent Li-Li pairs up to ``max_hop_angstrom`` come from
    :func:`~sseflow.neb.hop_graph.pair_families` (labels 0, 1, ... by length).

    Returns
    -------
    hops
        One :class:`LiHop` per hop family (no BVSE data yet).
    edges
        ``(u, v, to_jimage, label)`` for every hop in the cell, ``u``/``v`` indexing the
        mobile sites in structure order; used for the percolation analysis.

    Raises
    ------
    HopError
        The structure is disordered, has no mobile ion or no pair within the distance.
    """
    if not structure.is_ordered:
        raise HopError("hops need an ordered structure; order it first")
    mobile = _mobile_indices(structure, mobile_element)
    if not mobile:
        raise HopError(f"structure contains no {mobile_element}")
    families = pair_families(structure, mobile, max_hop_angstrom, symprec)
    if not families:
        raise HopError(
            f"no {mobile_element}-{mobile_element} hop shorter than {max_hop_angstrom:.2f} A"
        )
    frac = structure.frac_coords[mobile]
    lattice = structure.lattice.matrix
    hops: list[LiHop] = []
    edges: list[PeriodicEdge] = []
    for label, family in enumerate(families):
        u, v, image = family.pairs[0]
        hops.append(
            LiHop(
                label=label,
                start_index=mobile[u],
                end_index=mobile[v],
                start_cart=frac[u] @ lattice,
                end_cart=(frac[v] + np.array(image)) @ lattice,
                length_angstrom=family.length_angstrom,
                n_equivalent=len(family.pairs),
            )
        )
        edges.extend((a, b, jimage, label) for a, b, jimage in family.pairs)
    return hops, edges


def percolating_hop_labels(
    n_sites: int, edges: list[PeriodicEdge], label_order: list[int]
) -> list[int]:
    """Return the hop labels, in ``label_order``, needed for the Li network to percolate.

    Hop families are added one at a time (lowest BVSE barrier first); the network
    percolates once some cycle of hops has a non-zero net lattice translation, i.e. a
    Li ion can cross the periodic crystal. Returns all labels if it never percolates.
    """
    used: list[int] = []
    for label in label_order:
        used.append(label)
        if network_percolates(n_sites, [e for e in edges if e[3] in used]):
            return used
    return used


def _min_distance_to_sites(
    structure: Structure, points_cart: NDArray[np.float64], site_indices: list[int]
) -> NDArray[np.float64]:
    """Return each point's periodic distance to the nearest of ``site_indices`` (A)."""
    frac = structure.lattice.get_fractional_coords(points_cart)
    sites = structure.frac_coords[site_indices]
    return structure.lattice.get_all_distances(frac, sites).min(axis=1)


def path_passes_li_site(
    structure: Structure, hop: LiHop, radius_angstrom: float, mobile_element: str = "Li"
) -> bool:
    """Return True when the hop's BVSE path runs through a Li site other than its ends.

    "Through" means closer than ``radius_angstrom`` (by default half the shortest Li-Li
    distance, :data:`LI_SITE_RADIUS_FRACTION`). Such a "hop" is two shorter hops in a
    row (both in the hop set), not a hop of its own.
    """
    if hop.bvse_path_cart is None:
        return False
    path = hop.bvse_path_cart
    away = (np.linalg.norm(path - hop.start_cart, axis=1) > radius_angstrom) & (
        np.linalg.norm(path - hop.end_cart, axis=1) > radius_angstrom
    )
    if not away.any():
        return False
    mobile = _mobile_indices(structure, mobile_element)
    return bool((_min_distance_to_sites(structure, path[away], mobile) < radius_angstrom).any())


def path_interstitials(
    structure: Structure,
    path_cart: NDArray[np.float64],
    path_energies_ev: NDArray[np.float64],
    mobile_element: str = "Li",
    min_distance_angstrom: float = INTERSTITIAL_MIN_DISTANCE_ANGSTROM,
    min_depth_ev: float = INTERSTITIAL_MIN_DEPTH_EV,
) -> list[int]:
    """Return the path indices of interstitial sites a BVSE path runs through.

    An interstitial is an interior local minimum of the path energy that lies at least
    ``min_distance_angstrom`` from every Li site (a well next to a Li site belongs to
    that site) and is at least ``min_depth_ev`` below the highest point of the path on
    each side (a shallow dip is part of one band). Wells closer than
    ``min_distance_angstrom`` to each other along the path count once (the deepest).
    """
    e = np.asarray(path_energies_ev, dtype=float)
    if len(e) < 3:
        return []
    mobile = _mobile_indices(structure, mobile_element)
    distance = _min_distance_to_sites(structure, np.asarray(path_cart), mobile)
    found: list[int] = []
    for i in range(1, len(e) - 1):
        if not (e[i] <= e[i - 1] and e[i] < e[i + 1]):
            continue
        depth = min(e[: i + 1].max() - e[i], e[i:].max() - e[i])
        if distance[i] >= min_distance_angstrom and depth >= min_depth_ev:
            found.append(i)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(path_cart, axis=0), axis=1))])
    kept: list[int] = []
    for i in found:
        if kept and arc[i] - arc[kept[-1]] < min_distance_angstrom:
            if e[i] < e[kept[-1]]:
                kept[-1] = i
            continue
        kept.append(i)
    return kept


@dataclass
class HopSearch:
    """The hops of a structure and which of them the BVSE percolation path uses.

    Attributes
    ----------
    hops
        Distinct direct hops with BVSE barriers, lowest first (:func:`bvse_order`).
    percolating_labels
        Labels of the hop families the BVSE percolation path uses.
    limit
        The hop search limit and how it was set.
    through_li_sites
        Labels of hop families dropped because their BVSE path runs through another
        Li site (they are two shorter hops).
    """

    hops: list[LiHop]
    percolating_labels: list[int]
    limit: HopSearchLimit
    through_li_sites: list[int] = field(default_factory=list)


def search_hops(
    structure: Structure,
    landscape: BVSELandscape,
    mobile_element: str = "Li",
    max_hop_angstrom: float | None = None,
    tube_radius_angstrom: float = 1.2,
    symprec: float = 0.1,
) -> HopSearch:
    """Find the distinct Li hops, their BVSE paths and the hops the percolation path uses.

    Parameters
    ----------
    structure
        Ordered structure in the landscape's Cartesian frame.
    landscape
        BVSE landscape.
    mobile_element
        Mobile element symbol.
    max_hop_angstrom
        Explicit limit on the hop length (A); None derives it from the structure
        (:func:`hop_search_limit`).
    tube_radius_angstrom
        Smallest radius around a hop searched for its path (A); a hop of length ``L``
        uses at least ``0.3 L``, so long hops may bend.
    symprec
        Symmetry tolerance of the hop grouping.

    Raises
    ------
    HopError
        No hop can be built; the message gives the shortest Li-Li distance, the limit
        and the BVSE percolation energy.
    """
    if not structure.is_ordered:
        raise HopError("hops need an ordered structure; order it first")
    if mobile_element not in {el.symbol for el in structure.composition.elements}:
        raise HopError(f"structure contains no {mobile_element}")
    limit = hop_search_limit(structure, mobile_element, max_hop_angstrom)
    if limit.shortest_angstrom > limit.limit_angstrom:
        raise HopError(no_hop_reason("no Li-Li hop within the hop search limit", limit, landscape))
    hops, edges = distinct_hops(structure, mobile_element, limit.limit_angstrom, symprec)
    through: list[int] = []
    site_radius = LI_SITE_RADIUS_FRACTION * limit.shortest_angstrom
    for hop in hops:
        tube = max(tube_radius_angstrom, 0.3 * hop.length_angstrom)
        path, energies, barrier = bvse_minimum_energy_path(
            landscape, hop.start_cart, hop.end_cart, tube
        )
        hop.bvse_path_cart = path
        hop.bvse_barrier_ev = barrier
        hop.interstitial_indices = path_interstitials(structure, path, energies, mobile_element)
        if path_passes_li_site(structure, hop, site_radius, mobile_element):
            through.append(hop.label)
    direct = [h for h in hops if h.label not in through]
    if not direct:
        raise HopError(
            no_hop_reason(
                "every Li-Li hop's BVSE path runs through another Li site", limit, landscape
            )
        )
    direct = bvse_order(direct)
    n_sites = len(_mobile_indices(structure, mobile_element))
    kept_edges = [e for e in edges if e[3] not in through]
    labels = percolating_hop_labels(n_sites, kept_edges, [h.label for h in direct])
    return HopSearch(direct, labels, limit, through)


def bvse_order(hops: list[LiHop], tie_ev: float = BVSE_TIE_EV) -> list[LiHop]:
    """Return hops by increasing BVSE barrier; within ``tie_ev`` of each other, shortest first.

    BVSE barriers on a 0.2-0.3 A grid are uncertain by a few 10 meV: a longer hop that
    is lower by less than that (Li2S: the 4.04 A face diagonal at 0.184 eV against the
    2.86 A cube edge at 0.192 eV) does not displace the shorter one.
    """
    remaining = sorted(hops, key=lambda h: (h.bvse_barrier_ev or 0.0, h.length_angstrom))
    ordered: list[LiHop] = []
    while remaining:
        lowest = remaining[0].bvse_barrier_ev or 0.0
        tied = [h for h in remaining if (h.bvse_barrier_ev or 0.0) <= lowest + tie_ev]
        pick = min(tied, key=lambda h: (h.length_angstrom, h.bvse_barrier_ev or 0.0))
        ordered.append(pick)
        remaining.remove(pick)
    return ordered


def rank_hops_by_bvse(
    structure: Structure,
    landscape: BVSELandscape,
    mobile_element: str = "Li",
    max_hop_angstrom: float | None = None,
    tube_radius_angstrom: float = 1.2,
    symprec: float = 0.1,
) -> tuple[list[LiHop], list[int]]:
    """Return all distinct direct hops (lowest BVSE barrier first) and the percolating labels.

    See :func:`search_hops`, which also returns the hop search limit.
    """
    found = search_hops(
        structure, landscape, mobile_element, max_hop_angstrom, tube_radius_angstrom, symprec
    )
    return found.hops, found.percolating_labels


#: Orders in which :func:`select_hops` takes the hops of the percolation path.
HOP_ORDERS = ("bottleneck", "lowest")


def select_hops(
    hops: list[LiHop], percolating_labels: list[int], n_hops: int = 1, order: str = "bottleneck"
) -> list[LiHop]:
    """Return up to ``n_hops`` hops of the percolation path.

    Parameters
    ----------
    hops, percolating_labels
        The distinct hops and the labels of the families the Li network needs to
        percolate, in the order they were added (:func:`percolating_hop_labels`).
    n_hops
        How many hops to return.
    order
        ``"bottleneck"`` (default): the family whose addition made the network percolate
        first - the highest BVSE barrier long-range transport must cross, which sets
        the activation energy BVSE reports - then the other families, latest added
        first. ``"lowest"``: lowest BVSE barrier first (the choice before 2026-11-29;
        where one family percolates alone, as in Li2S or Li3N, both give that family;
        where the path needs several, e.g. the intra- and inter-cage jumps of an
        argyrodite, ``"lowest"`` computes the easy jump and misses the limiting one).
    """
    if n_hops < 1:
        raise HopError("n_hops must be >= 1")
    if order not in HOP_ORDERS:
        raise HopError(f"unknown hop order {order!r}; choose from {HOP_ORDERS}")
    chosen = [h for h in hops if h.label in percolating_labels]
    if not chosen:
        raise HopError("no hop lies on the BVSE percolation path")
    if order == "lowest":
        return bvse_order(chosen)[:n_hops]
    added = {label: k for k, label in enumerate(percolating_labels)}
    return sorted(chosen, key=lambda hop: -added[hop.label])[:n_hops]
