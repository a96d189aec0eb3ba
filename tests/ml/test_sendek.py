import math

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.sendek import (
    SENDEK_FEATURES,
    SendekFeatureError,
    sendek_feature_matrix,
    sendek_features,
)


def li2o(a: float = 4.61) -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), ["O", "Li"], [[0, 0, 0], [0.25] * 3]
    )


def test_li2o_by_hand():
    a = 4.61
    f = sendek_features(li2o(a))
    assert f["li_li_separation_angstrom"] == pytest.approx(a / 2)
    assert f["li_anion_separation_angstrom"] == pytest.approx(a * math.sqrt(3) / 4)
    # Li-Li distance a/2 = 2.305 A < 3 A: six Li neighbours per Li
    assert f["li_li_bonds_per_li"] == pytest.approx(6.0)
    # O-O distance a/sqrt(2) = 3.26 A < 4 A: twelve O neighbours per O (fcc)
    assert f["anion_framework_coordination"] == pytest.approx(12.0)
    # the Li-free framework (O only) has only O-O contacts beyond 3 A: no bonds
    assert f["sublattice_bond_ionicity"] == 0.0


def test_half_occupied_li_halves_li_li_bonds():
    s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", {"Li": 0.5}], [[0, 0, 0], [0.25] * 3]
    )
    assert sendek_features(s)["li_li_bonds_per_li"] == pytest.approx(3.0)


def test_no_li():
    s = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["Mg", "O"], [[0, 0, 0], [0.5] * 3])
    with pytest.raises(SendekFeatureError):
        sendek_features(s)
    row = sendek_feature_matrix([s, li2o()])
    assert row.shape == (2, len(SENDEK_FEATURES))
    assert np.isnan(row[0]).all() and np.isfinite(row[1]).all()
