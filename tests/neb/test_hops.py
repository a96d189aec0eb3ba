"""Hop search: families, the structure-derived limit, hops through Li sites, failures."""

from collections import Counter

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.neb.hop_graph import pair_families
from sseflow.neb.hops import (
    BVSE_TIE_EV,
    HopError,
    LiHop,
    bvse_order,
    hop_search_limit,
    migration_graph,
    percolating_hop_labels,
    search_hops,
    select_hops,
)
from sseflow.neb.percolation import (
    landscape_percolation_energy_ev,
    li_network_distance,
    network_percolates,
)
from tests.neb.test_setup import li2s_conventional as li2s
from tests.neb.test_setup import li3n


def li_al_te2() -> Structure:
    """Chalcopyrite LiAlTe2 (I-42d): shortest Li-Li distance sqrt(a^2/4 + c^2/16) ~ 4.4 A."""
    return Structure.from_spacegroup(
        "I-42d",
        Lattice.tetragonal(6.30, 12.20),
        ["Li+", "Al3+", "Te2-"],
        [[0, 0, 0], [0, 0, 0.5], [0.25, 0.25, 0.125]],
    )


@pytest.mark.parametrize("build, cutoff", [(li2s, 5.0), (li3n, 4.5)])
def test_pair_families_match_pymatgen_migration_graph(build, cutoff):
    structure = build()
    mobile = [i for i, s in enumerate(structure) if s.specie.symbol == "Li"]
    ours = sorted(
        (round(f.length_angstrom, 3), len(f.pairs))
        for f in pair_families(structure, mobile, cutoff)
    )
    graph = migration_graph(structure, max_hop_angstrom=cutoff)
    sizes = Counter(d["hop_label"] for _, _, d in graph.m_graph.graph.edges(data=True))
    theirs = sorted(
        (round(d["hop_distance"], 3), sizes[label]) for label, d in graph.unique_hops.items()
    )
    assert ours == theirs


def test_hop_search_limit_is_derived_from_the_structure():
    shortest, percolation = li_network_distance(li2s())
    assert shortest == pytest.approx(2.855, abs=1e-3) and percolation == pytest.approx(2.855)
    limit = hop_search_limit(li2s())
    assert limit.limit_angstrom == pytest.approx(2 * 2.855, abs=1e-3)
    assert "percolation distance" in limit.source
    assert hop_search_limit(li2s(), max_hop_angstrom=3.0).limit_angstrom == 3.0


def test_chalcopyrite_hops_longer_than_four_angstrom_are_found():
    structure = li_al_te2()
    landscape = BVSELandscape.from_structure(structure, resolution_angstrom=0.3)
    found = search_hops(structure, landscape)
    shortest = np.sqrt(6.30**2 / 4 + 12.20**2 / 16)
    assert found.limit.shortest_angstrom == pytest.approx(shortest, abs=1e-3)
    chosen = [h for h in found.hops if h.label in found.percolating_labels]
    assert chosen and chosen[0].length_angstrom == pytest.approx(shortest, abs=1e-3)
    # the old fixed 4 A cap, given explicitly: a reason in words, no source path
    with pytest.raises(HopError) as failure:
        search_hops(structure, landscape, max_hop_angstrom=4.0)
    reason = str(failure.value)
    assert "shortest Li-Li distance 4.38 A" in reason
    assert "hop search limit 4.00 A" in reason and "BVSE percolation energy" in reason
    assert ".py" not in reason and " at " not in reason


def test_bvse_order_prefers_the_shorter_hop_within_the_tie_tolerance():
    def hop(label, length, barrier):
        return LiHop(label, 0, 0, np.zeros(3), np.zeros(3), length, bvse_barrier_ev=barrier)

    hops = [hop(0, 4.0, 0.18), hop(1, 2.9, 0.19), hop(2, 2.0, 0.30)]
    assert [h.label for h in bvse_order(hops)] == [1, 0, 2]
    assert [h.label for h in bvse_order(hops, tie_ev=0.0)] == [0, 1, 2]
    assert BVSE_TIE_EV == 0.05


def test_network_percolation():
    assert network_percolates(1, [(0, 0, (0, 0, 1), 0)])
    assert not network_percolates(2, [(0, 1, (0, 0, 0), 0)])
    assert network_percolates(2, [(0, 1, (0, 0, 0), 0), (1, 0, (1, 0, 0), 0)])


def test_landscape_percolation_energy_on_an_analytic_landscape():
    # E = sum over axes of (1 - cos 2 pi x_i): crossing the cell along any axis costs 2 eV
    n = 24
    x = np.arange(n) / n
    wave = 1 - np.cos(2 * np.pi * x)
    energies = wave[:, None, None] + wave[None, :, None] + wave[None, None, :]
    landscape = BVSELandscape(lattice=np.eye(3) * 4.0, energies_ev=energies)
    assert landscape_percolation_energy_ev(landscape) == pytest.approx(2.0, abs=0.05)


def test_the_bottleneck_hop_family_is_computed_first():
    """Two Li sites per cell: family 0 joins them inside the cell (an easy jump that
    does not cross the crystal), family 1 joins neighbouring cells (the jump long-range
    transport needs), family 2 is longer and never needed."""

    def hop(label, length, barrier):
        return LiHop(label, 0, 1, np.zeros(3), np.zeros(3), length, bvse_barrier_ev=barrier)

    hops = [hop(0, 2.0, 0.05), hop(1, 3.5, 0.30), hop(2, 4.5, 0.60)]
    edges = [(0, 1, (0, 0, 0), 0), (1, 0, (1, 0, 0), 1), (0, 0, (0, 1, 0), 2)]
    labels = percolating_hop_labels(2, edges, [h.label for h in bvse_order(hops)])
    assert labels == [0, 1]  # family 0 alone does not percolate
    assert [h.label for h in select_hops(hops, labels)] == [1]
    assert [h.label for h in select_hops(hops, labels, n_hops=3)] == [1, 0]
    assert [h.label for h in select_hops(hops, labels, order="lowest")] == [0]
    with pytest.raises(HopError, match="unknown hop order"):
        select_hops(hops, labels, order="highest")


def test_hop_order_setting_and_the_makers_serialised_before_it():
    from sseflow.neb import MLIPNEBMaker

    with pytest.raises(ValueError, match="hop_order 'easiest'"):
        MLIPNEBMaker(hop_order="easiest")
    lowest = MLIPNEBMaker(hop_order="lowest")
    assert "hop_order" not in lowest.tier_settings()  # the old hash, results reused
    assert MLIPNEBMaker().tier_settings()["hop_order"] == "bottleneck"
    assert MLIPNEBMaker().tier_settings_hash() != lowest.tier_settings_hash()
    old = MLIPNEBMaker().as_dict()
    del old["hop_order"]  # a Maker stored before the setting existed
    assert MLIPNEBMaker.from_dict(old).hop_order == "lowest"
