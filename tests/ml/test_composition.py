import numpy as np
import pytest

from sseflow.ml.composition import (
    PROPERTIES,
    STATISTICS,
    composition_features,
    element_property_table,
    feature_names,
)


def test_features_of_known_compositions():
    names = feature_names()
    x = composition_features(["Li3N", "LiCl", "Li7La3Zr2O12"])
    assert x.shape == (3, 94 + len(PROPERTIES) * len(STATISTICS) + 2) == (3, len(names))
    col = {n: i for i, n in enumerate(names)}
    assert x[0, col["frac_Li"]] == pytest.approx(0.75) and x[0, col["frac_N"]] == 0.25
    assert x[1, col["n_elements"]] == 2 and x[2, col["n_elements"]] == 4
    # LiCl: mean Z = (3 + 17) / 2, range 14, Li(1 s) and Cl(2 s, 5 p) valence electrons
    assert x[1, col["Z_mean"]] == pytest.approx(10.0) and x[1, col["Z_range"]] == 14
    assert x[1, col["valence_p_max"]] == 5 and x[1, col["valence_s_min"]] == 1
    assert x[1, col["electronegativity_mad"]] == pytest.approx((3.16 - 0.98) / 2)
    assert np.isfinite(x).all()


def test_fractional_and_decorated_compositions_agree():
    from pymatgen.core import Composition, Species

    decorated = Composition({Species("Li", 1): 1, Species("Cl", -1): 1})
    a, b = composition_features(["Li0.5Cl0.5", decorated])
    np.testing.assert_allclose(a, b)


def test_property_table_and_errors():
    table = element_property_table()
    assert table.shape == (95, len(PROPERTIES)) and np.isnan(table[0]).all()
    assert table[3, list(PROPERTIES).index("electronegativity")] == pytest.approx(0.98)
    with pytest.raises(ValueError, match="beyond Pu"):
        composition_features(["LiAm"])
