import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.bandgap import bandgap_model_dir, predict_band_gaps


def test_models_and_licence_are_shipped():
    assert len(list(bandgap_model_dir().glob("*/best_model.hdf5"))) == 6
    licence = (bandgap_model_dir().parent / "LICENSE.md").read_text()
    assert "Redistribution and use in source and binary forms" in licence


@pytest.mark.slow
def test_insulator_metal_and_disorder():
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O2-", "Li+"], [[0, 0, 0], [0.25] * 3]
    )
    li2o_vac = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", {"Li": 0.9}], [[0, 0, 0], [0.25] * 3]
    )
    li_metal = Structure(Lattice.cubic(3.51), ["Li", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    pred = predict_band_gaps([li2o, li2o_vac, li_metal], n_models=2)  # 2 of 6: test time
    assert pred.band_gap_ev.shape == (3,) and np.all(pred.band_gap_std_ev >= 0)
    assert pred.band_gap_ev[0] > 3.0  # Li2O: experimental gap ~8 eV
    assert pred.band_gap_ev[1] > 1.0
    assert pred.band_gap_ev[2] < 1.0  # Li metal
