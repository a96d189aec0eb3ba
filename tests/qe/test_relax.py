"""The relaxation science: the BVSE landscape follows a strained cell."""

import numpy as np

from sseflow.bvse.landscape import BVSELandscape
from sseflow.qe.relax import strain_landscape


def test_landscape_of_a_primitive_cell_follows_the_strain_of_a_supercell():
    primitive = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 5.0]])
    energies = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    landscape = BVSELandscape(primitive, energies)
    supercell = np.diag([2.0, 1.0, 1.0]) @ primitive
    strained = supercell * 1.05
    moved = strain_landscape(landscape, supercell, strained)
    assert np.allclose(moved.lattice, primitive * 1.05)
    assert np.array_equal(moved.energies_ev, energies)


def test_landscape_of_another_cell_is_dropped():
    landscape = BVSELandscape(np.eye(3) * 4.0, np.zeros((2, 2, 2)))
    other = np.eye(3) * 4.3
    assert strain_landscape(landscape, other, other * 1.01) is None
