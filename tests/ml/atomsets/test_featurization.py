import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.atomsets.featurization import FeatureSettings, featurize, simplify_for_features


def test_featurize_camns(obelix_subset):
    feats, _, _, settings = obelix_subset
    assert all(f.shape[1] == settings.input_dim == 32 for f in feats)


def test_feature_settings_and_simplification():
    assert FeatureSettings(level=0, simplification="CAN").input_dim == 16
    li2s = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.7), ["S", "Li"], [[0, 0, 0], [0.25] * 3]
    )
    assert {e.symbol for e in simplify_for_features(li2s, "CAMNS").composition} == {"Li", "S"}
    assert len(simplify_for_features(li2s, "CAN")) == 4  # Li removed
    (v0,) = featurize([li2s], FeatureSettings(level=0, simplification="CAMN"))
    assert v0.shape == (12, 16)
    with pytest.raises(ValueError, match="unknown simplification"):
        simplify_for_features(li2s, "XYZ")
