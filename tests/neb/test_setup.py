"""NEB preparation on clean structures, without any calculator."""

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.bvse.landscape import BVSELandscape, BVSELandscapeError
from sseflow.neb.hops import (
    distinct_hops,
    percolating_hop_labels,
    rank_hops_by_bvse,
)
from sseflow.neb.images import images_along_path, moving_ion_path_deviation
from sseflow.neb.setup import prepare_neb_hops
from sseflow.neb.supercell import make_neb_supercell, order_structure, shortest_vector_length


def li2s_conventional() -> Structure:
    """Antifluorite Li2S, Fm-3m, a = 5.71 A."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", "Li+"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    )


def li3n() -> Structure:
    """Li3N, P6/mmm, a = 3.648, c = 3.875 A."""
    return Structure.from_spacegroup(
        "P6/mmm",
        Lattice.hexagonal(3.648, 3.875),
        ["N3-", "Li+", "Li+"],
        [[0, 0, 0], [1 / 3, 2 / 3, 0], [0, 0, 0.5]],
    )


@pytest.fixture(scope="module")
def li2s_landscape() -> BVSELandscape:
    return BVSELandscape.from_structure(li2s_conventional(), resolution_angstrom=0.25)


@pytest.mark.parametrize("min_length", [5.5, 8.0, 10.0])
def test_supercell_min_image_distance(min_length):
    primitive = li2s_conventional().get_primitive_structure()
    supercell, matrix = make_neb_supercell(primitive, min_length)
    assert shortest_vector_length(supercell.lattice.matrix) >= min_length
    assert min(supercell.lattice.abc) >= min_length - 1e-6
    assert len(supercell) == len(primitive) * round(abs(np.linalg.det(matrix)))
    # never worse than the plain 2x2x2 conventional cell (96 atoms) used in the literature
    assert len(supercell) <= 96


def test_supercell_hexagonal():
    supercell, _ = make_neb_supercell(li3n(), 10.0)
    assert shortest_vector_length(supercell.lattice.matrix) >= 10.0
    assert supercell.composition.reduced_formula == "Li3N"


def test_order_disordered_structure():
    disordered = Structure.from_spacegroup(
        "Fm-3m",
        Lattice.cubic(5.71),
        ["S2-", {"Li+": 0.5, "Na+": 0.5}],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    )
    result = order_structure(disordered)
    assert result.was_ordered
    assert result.structure.is_ordered
    assert result.structure.composition.reduced_composition == (
        disordered.composition.reduced_composition
    )
    clean = order_structure(li2s_conventional())
    assert not clean.was_ordered


def test_landscape_grid_convention():
    data = np.random.default_rng(0).random((6, 5, 4))
    full = np.pad(data, ((0, 1), (0, 1), (0, 1)), mode="wrap")  # bvlain repeats plane 0
    landscape = BVSELandscape.from_bvlain_grid(np.diag([3.0, 2.5, 2.0]), full)
    assert landscape.shape == (6, 5, 4)
    cart = np.array([[2 * 0.5, 3 * 0.5, 1 * 0.5], [0.0, 0.0, 0.0]])
    assert np.allclose(landscape.energy_at(cart), [data[2, 3, 1], data[0, 0, 0]])
    # periodic: one lattice vector away gives the same energy
    assert np.allclose(landscape.energy_at(cart + np.array([3.0, 0, 0])), landscape.energy_at(cart))
    with pytest.raises(BVSELandscapeError):
        BVSELandscape(lattice=np.eye(3), energies_ev=np.zeros((4, 4)))


def test_percolation_detection():
    # two sites; label 0 joins them inside the cell, label 1 crosses the cell boundary
    edges = [(0, 1, (0, 0, 0), 0), (1, 0, (1, 0, 0), 1)]
    assert percolating_hop_labels(2, edges, [0, 1]) == [0, 1]
    assert percolating_hop_labels(2, edges, [1, 0]) == [1, 0]
    assert percolating_hop_labels(1, [(0, 0, (0, 0, 1), 5)], [5]) == [5]


def test_hops_ranked_by_bvse(li2s_landscape):
    hops, labels = rank_hops_by_bvse(li2s_conventional(), li2s_landscape)
    # hops are searched up to 2 x 2.855 A (the Li cube edge at which the Li sites
    # percolate); the edge hop comes first: the 4.04 A face diagonal is lower in BVSE
    # by less than the tie tolerance, so the shorter hop wins
    assert hops[0].length_angstrom == pytest.approx(5.71 / 2, abs=1e-3)
    assert 0.0 < hops[0].bvse_barrier_ev < 1.0
    assert labels == [hops[0].label]
    assert {round(h.length_angstrom, 2) for h in hops} >= {2.85, 4.04}
    # the 5.71 A hop along the edge runs through the Li site in between: not a hop
    assert all(h.length_angstrom < 5.7 for h in hops)
    only_short, _ = rank_hops_by_bvse(li2s_conventional(), li2s_landscape, max_hop_angstrom=4.0)
    assert len(only_short) == 1
    with_longer, _ = distinct_hops(li2s_conventional(), max_hop_angstrom=4.5)
    assert len(with_longer) == 2


def test_endpoints_and_images_follow_bvse_path(li2s_landscape):
    prep = prepare_neb_hops(li2s_conventional(), li2s_landscape, min_length_angstrom=8.0)
    assert shortest_vector_length(prep.supercell.lattice.matrix) >= 8.0
    prepared = prep.hops[0]
    ends = prepared.endpoints
    n_li = prep.supercell.composition["Li"]
    for endpoint in (ends.initial, ends.final):
        assert endpoint.composition["Li"] == n_li - 1  # exactly one vacancy
        assert endpoint.composition["S"] == prep.supercell.composition["S"]
    assert ends.initial[ends.moving_index].specie.symbol == "Li"
    assert np.allclose(ends.initial[ends.moving_index].coords, ends.start_cart)
    assert np.allclose(ends.final[ends.moving_index].coords, ends.end_cart)
    others = [i for i in range(len(ends.initial)) if i != ends.moving_index]
    assert np.allclose(ends.initial.cart_coords[others], ends.final.cart_coords[others])

    images = images_along_path(
        ends.initial, ends.final, ends.moving_index, prepared.seed_path_cart, n_images=5
    )
    assert len(images) == 7
    assert np.allclose(images[0].cart_coords, ends.initial.cart_coords)
    assert np.allclose(images[-1].cart_coords, ends.final.cart_coords)
    assert moving_ion_path_deviation(images, ends.moving_index, prepared.seed_path_cart) < 0.05
    # the BVSE path bends away from the straight segment (through the empty octahedral
    # side), so the seeded middle image is off the straight line
    middle = images[3][ends.moving_index].coords
    straight = 0.5 * (ends.start_cart + ends.end_cart)
    assert np.linalg.norm(middle - straight) > 0.2


def test_images_from_relaxed_endpoints_start_and_end_there(li2s_landscape):
    prep = prepare_neb_hops(li2s_conventional(), li2s_landscape, min_length_angstrom=5.5)
    ends = prep.hops[0].endpoints
    initial, final = ends.initial.copy(), ends.final.copy()
    rng = np.random.default_rng(1)
    for i in range(len(initial)):
        initial.translate_sites([i], rng.normal(0, 0.03, 3), frac_coords=False, to_unit_cell=False)
        final.translate_sites([i], rng.normal(0, 0.03, 3), frac_coords=False, to_unit_cell=False)
    images = images_along_path(initial, final, ends.moving_index, prep.hops[0].seed_path_cart, 3)
    assert np.allclose(images[0].cart_coords, initial.cart_coords, atol=1e-8)
    assert np.allclose(images[-1].cart_coords, final.cart_coords, atol=1e-8)


def test_landscape_from_bvse_tier_grid():
    from sseflow.bvse.schemas import BVSEGrid

    data = np.random.default_rng(2).random((5, 6, 7)).astype(np.float32)
    full = np.pad(data, ((0, 1), (0, 1), (0, 1)), mode="wrap")
    grid = BVSEGrid.from_array(full, np.diag([4.0, 5.0, 6.0]), resolution=0.8)
    for source in (grid, grid.model_dump()):
        landscape = BVSELandscape.from_bvse_grid(source)
        assert landscape.shape == (5, 6, 7)
        assert np.allclose(landscape.energies_ev, data)


def test_no_bvse_parameters_is_a_clear_error():
    li3p = Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(4.273, 7.594),
        ["P3-", "Li+", "Li+"],
        [[1 / 3, 2 / 3, 0.25], [0, 0, 0.25], [1 / 3, 2 / 3, 0.586]],
    )
    with pytest.raises(BVSELandscapeError, match="no softBV parameters for Li\\+ with the anion"):
        prepare_neb_hops(li3p, min_length_angstrom=5.5)
