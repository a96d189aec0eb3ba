"""The BVSE minimum-energy path and its barrier on analytic landscapes."""

import numpy as np
import pytest

from sseflow.bvse.landscape import BVSELandscape
from sseflow.neb.bvse_path import bvse_minimum_energy_path, path_barrier


def test_bvse_path_barrier_on_analytic_landscape():
    # E depends only on the a-coordinate: 1 - cos(2 pi x); crossing x = 0.5 costs 2 eV
    n = 40
    x = np.arange(n) / n
    energies = np.broadcast_to((1 - np.cos(2 * np.pi * x))[:, None, None], (n, n, n))
    landscape = BVSELandscape(lattice=np.diag([4.0, 4.0, 4.0]), energies_ev=energies)
    path, path_e, barrier = bvse_minimum_energy_path(
        landscape, np.array([0.0, 2.0, 2.0]), np.array([4.0, 2.0, 2.0])
    )
    assert barrier == pytest.approx(2.0, abs=0.02)
    assert np.allclose(path[0], [0, 2, 2]) and np.allclose(path[-1], [4, 2, 2])
    assert path_e.max() == pytest.approx(2.0, abs=0.02)


def test_path_barrier_counts_wells_inside_the_path():
    assert path_barrier(np.array([0.0, 0.3, 0.0])) == pytest.approx(0.3)
    # a path that dips 1 eV below its ends must climb 1 eV out of the well
    assert path_barrier(np.array([0.0, -1.0, -0.2, 0.0])) == pytest.approx(1.0)
    assert path_barrier(np.array([0.0, 0.5, 0.2])) == pytest.approx(0.5)
