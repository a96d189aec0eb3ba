"""A hop whose band finds an intermediate minimum is split into two half-hops.

The energy surface is analytic (a small ASE calculator written for this test): the
moving ion feels three Gaussian wells along its hop, at the two Li sites and, deeper,
at an interstitial half way; every other atom sits in a harmonic well at its start.
"""

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes
from pymatgen.core import Lattice, Structure

from sseflow.neb.hops import LiHop
from sseflow.neb.images import vacancy_hop_endpoints
from sseflow.neb.runner import NEBRunSettings
from sseflow.neb.setup import PreparedHop
from sseflow.neb.workflow import run_hop_neb

A, B = np.array([1.0, 3.0, 3.0]), np.array([4.0, 3.0, 3.0])
WIDTH = 0.45


class ThreeWells(Calculator):
    """E = -sum_w depth_w exp(-|r_m - c_w|^2 / 2 w^2) + k/2 sum_others |r_i - r_i0|^2."""

    implemented_properties = ("energy", "forces")

    def __init__(self, moving, reference, interstitial_depth, **kwargs):
        super().__init__(**kwargs)
        self.moving, self.reference = moving, np.array(reference)
        self.wells = [(A, 1.0), ((A + B) / 2, interstitial_depth), (B, 1.0)]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        positions = self.atoms.positions
        forces = -2.0 * (positions - self.reference)
        energy = float(np.sum((positions - self.reference) ** 2))
        forces[self.moving] = 0.0
        energy -= float(np.sum((positions[self.moving] - self.reference[self.moving]) ** 2))
        r = positions[self.moving]
        for centre, depth in self.wells:
            g = depth * np.exp(-np.sum((r - centre) ** 2) / (2 * WIDTH**2))
            energy -= g
            forces[self.moving] -= g * (r - centre) / WIDTH**2
        self.results = {"energy": energy, "forces": forces}


def prepared_hop() -> PreparedHop:
    cell = Structure(
        Lattice.cubic(6.0),
        ["Li", "Li", "S", "S"],
        [A / 6.0, B / 6.0, [0.5, 0.0, 0.0], [0.5, 0.5, 0.0]],
    )
    hop = LiHop(0, 0, 1, A, B, 3.0)
    endpoints = vacancy_hop_endpoints(cell, hop)
    path = np.linspace(A, B, 31)
    return PreparedHop(hop=hop, endpoints=endpoints, seed_path_cart=path)


def factory_for(prepared, depth):
    reference = prepared.endpoints.initial.cart_coords.copy()
    moving = prepared.endpoints.moving_index

    def for_band(band_dir):
        return lambda label: ThreeWells(moving, reference, depth)

    return for_band


def test_band_through_a_deep_interstitial_is_split_into_half_hops(tmp_path):
    prepared = prepared_hop()
    settings = NEBRunSettings(n_images=5, endpoint_fmax_ev_per_angstrom=1e-3)
    result = run_hop_neb(prepared, factory_for(prepared, 1.4), tmp_path, "bvse", settings)
    assert result.split_reason.startswith("intermediate minimum")
    assert result.converged and len(result.segments) == 2
    assert all(s["converged"] for s in result.segments)
    assert (tmp_path / "half_0" / "neb_state.json").exists()
    energies = np.array(result.energies_ev)
    assert len(energies) == 2 * 7 - 1  # the two halves share the interstitial
    # the interstitial lies below the sites: the barrier is the climb out of it
    deepest = energies.min()
    assert deepest < energies[0] - 0.2
    assert result.barrier_forward_ev == pytest.approx(energies[energies.argmin() :].max() - deepest)
    assert result.barrier_forward_ev > energies.max() - energies[0]


def test_band_through_a_shallow_interstitial_stays_one_band(tmp_path):
    prepared = prepared_hop()
    settings = NEBRunSettings(n_images=5, endpoint_fmax_ev_per_angstrom=1e-3)
    result = run_hop_neb(prepared, factory_for(prepared, 0.5), tmp_path, "bvse", settings)
    assert result.split_reason is None and not result.segments
    assert result.converged
    assert result.barrier_forward_ev == pytest.approx(
        max(result.energies_ev) - result.energies_ev[0]
    )
