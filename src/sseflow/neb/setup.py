"""Everything a NEB calculation needs before any calculator runs.

:func:`prepare_neb_hops` orders the structure if needed, computes (or takes) the BVSE
landscape, ranks the symmetry-distinct Li hops by BVSE barrier, keeps those of the
percolation path, builds the supercell and the two vacancy endpoints of each chosen hop
together with the BVSE seed path of the moving Li.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape, BVSELandscapeError
from sseflow.neb.hops import HopSearch, LiHop, search_hops, select_hops
from sseflow.neb.images import VacancyHopEndpoints, vacancy_hop_endpoints
from sseflow.neb.ordering import OrderingResult, OrderingSettings, order_structure
from sseflow.neb.supercell import (
    make_neb_supercell,
    perpendicular_widths,
    shortest_vector_length,
)


@dataclass
class PreparedHop:
    """One hop ready for NEB: the hop, its endpoints and the seed path."""

    hop: LiHop
    endpoints: VacancyHopEndpoints
    seed_path_cart: NDArray[np.float64]


@dataclass
class NEBPreparation:
    """Result of the preparation of one candidate."""

    unit_cell: Structure
    was_ordered: bool
    ordering_ewald_energy_ev: float | None
    supercell: Structure
    supercell_matrix: NDArray[np.int64]
    hops: list[PreparedHop]
    all_hops: list[LiHop]
    percolating_labels: list[int]
    search: HopSearch | None = None
    ordering: OrderingResult | None = None

    def hop_search_summary(self) -> dict[str, object]:
        """Return how far the hop search looked and which hops it dropped (JSON-friendly)."""
        if self.search is None:
            return {}
        limit = self.search.limit
        percolation = limit.percolation_angstrom
        return {
            "shortest_li_li_angstrom": round(limit.shortest_angstrom, 4),
            "li_network_percolation_angstrom": None
            if percolation is None
            else round(percolation, 4),
            "limit_angstrom": round(limit.limit_angstrom, 4),
            "limit_source": limit.source,
            "labels_through_li_sites": self.search.through_li_sites,
        }

    def supercell_summary(self) -> dict[str, object]:
        """Return supercell size information (JSON-friendly)."""
        matrix = self.supercell.lattice.matrix
        return {
            "scaling_matrix": self.supercell_matrix.tolist(),
            "n_sites_perfect": len(self.supercell),
            "abc_angstrom": [round(x, 4) for x in self.supercell.lattice.abc],
            "perpendicular_widths_angstrom": np.round(perpendicular_widths(matrix), 4).tolist(),
            "min_image_distance_angstrom": round(shortest_vector_length(matrix), 4),
        }


def prepare_neb_hops(
    structure: Structure,
    landscape: BVSELandscape | None = None,
    min_length_angstrom: float = 10.0,
    n_hops: int = 1,
    mobile_element: str = "Li",
    max_hop_angstrom: float | None = None,
    bvse_resolution_angstrom: float = 0.2,
    tube_radius_angstrom: float = 1.2,
    ordering: OrderingSettings | None = None,
    hop_order: str = "bottleneck",
) -> NEBPreparation:
    """Prepare the vacancy-hop NEB of the percolation hops of a structure.

    Parameters
    ----------
    structure
        Oxidation-state decorated structure (may be disordered; then ordered by lowest
        Ewald energy).
    landscape
        BVSE landscape in the structure's Cartesian frame, of the structure's cell or a
        cell the (ordered) structure is a supercell of; computed with bvlain at
        ``bvse_resolution_angstrom`` when None. A landscape of another cell raises
        :class:`~sseflow.bvse.landscape.BVSELandscapeError`.
    min_length_angstrom
        Minimum periodic-image distance of the supercell (Angstrom).
    n_hops
        Number of percolation-path hops to prepare, lowest BVSE barrier first.
    mobile_element
        Mobile element symbol.
    max_hop_angstrom
        Longest Li-Li distance considered a hop (Angstrom); None derives a safety limit
        from the structure (:func:`~sseflow.neb.hops.hop_search_limit`).
    bvse_resolution_angstrom
        Grid spacing when the landscape is computed here (Angstrom).
    tube_radius_angstrom
        Radius around each hop segment searched for the BVSE path (Angstrom).
    ordering
        How a disordered structure is ordered (:mod:`sseflow.neb.ordering`); None uses
        the defaults. An approximately ordered cell is already the NEB supercell.
    """
    ordered = order_structure(
        structure,
        settings=ordering,
        min_length_angstrom=min_length_angstrom,
        mobile_element=mobile_element,
    )
    unit_cell = ordered.structure
    if landscape is not None and not landscape.fits_lattice(unit_cell.lattice.matrix):
        raise BVSELandscapeError(
            "the BVSE landscape is for another cell than the structure "
            f"(landscape lattice {np.round(landscape.lattice, 3).tolist()}, structure "
            f"lattice {np.round(unit_cell.lattice.matrix, 3).tolist()}); pass the "
            "landscape of this structure or none"
        )
    if landscape is None:
        landscape = _bvse_landscape(unit_cell, mobile_element, bvse_resolution_angstrom)
    search = search_hops(
        unit_cell,
        landscape,
        mobile_element=mobile_element,
        max_hop_angstrom=max_hop_angstrom,
        tube_radius_angstrom=tube_radius_angstrom,
    )
    all_hops, labels = search.hops, search.percolating_labels
    chosen = select_hops(all_hops, labels, n_hops=n_hops, order=hop_order)
    supercell, matrix = make_neb_supercell(unit_cell, min_length_angstrom)
    prepared = []
    for hop in chosen:
        endpoints = vacancy_hop_endpoints(supercell, hop, mobile_element)
        seed = hop.bvse_path_cart if hop.bvse_path_cart is not None else None
        if seed is None:
            seed = np.stack([hop.start_cart, hop.end_cart])
        prepared.append(PreparedHop(hop=hop, endpoints=endpoints, seed_path_cart=seed))
    return NEBPreparation(
        unit_cell=unit_cell,
        was_ordered=ordered.was_ordered,
        ordering_ewald_energy_ev=ordered.ewald_energy_ev,
        supercell=supercell,
        supercell_matrix=matrix,
        hops=prepared,
        all_hops=all_hops,
        percolating_labels=labels,
        search=search,
        ordering=ordered,
    )


def _bvse_landscape(
    structure: Structure, mobile_element: str, resolution_angstrom: float
) -> BVSELandscape:
    """Compute the landscape with bvlain; a missing bond-valence pair is a clear error."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from sseflow.bvse.engine import missing_bvse_parameters

    atoms = AseAtomsAdaptor.get_atoms(structure)
    missing = missing_bvse_parameters(atoms) if "oxi_states" in atoms.arrays else []
    if missing:
        raise BVSELandscapeError(
            f"no BVSE landscape: bvlain has no softBV parameters for {mobile_element}+ with "
            f"the anion(s) {', '.join(missing)}, so the hops cannot be chosen or seeded "
            "(pass a landscape to make())"
        )
    return BVSELandscape.from_structure(
        structure, mobile_ion=f"{mobile_element}1+", resolution_angstrom=resolution_angstrom
    )
