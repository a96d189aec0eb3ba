import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.atomsets.features import FeaturizationError
from sseflow.ml.atomsets.scoring import (
    StructureScore,
    default_model_dir,
    load_default_model,
    load_model,
    score_structures,
)
from sseflow.ml.labels import load_obelix_labels


def test_shipped_default_model():
    model_dir = default_model_dir()
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert size < 20e6
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model_version"] == model_dir.name
    model = load_default_model()
    assert load_model(None) is model  # loaded once per process
    assert model.training["n_samples"] >= 254
    # five superionic vs five poor conductors of its own training set (in-sample check)
    fast, slow = ["1kq", "13q", "11b", "cy2", "s3h"], ["47i", "4kt", "3rx", "b4c", "883"]
    data = load_obelix_labels().subset(fast + slow)
    scores = dict(zip(data.ids, score_structures(data.structures, model), strict=True))
    assert np.mean([scores[i].p_si for i in fast]) > np.mean([scores[i].p_si for i in slow]) + 0.2
    assert all(s.d_training < 1e-3 for s in scores.values())  # training structures
    assert all(0 <= s.p_si <= 1 and s.p_si_std >= 0 for s in scores.values())


def test_failures_are_per_structure_and_chunks_agree():
    li2o = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.61), ["O", "Li"], [[0, 0, 0], [0.25] * 3]
    )
    isolated = Structure(Lattice.cubic(15.0), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    data = load_obelix_labels().subset(["1kq", "47i", "11b"])
    batch = [li2o, *data.structures, li2o.copy()]
    model = load_default_model()
    whole = score_structures(batch, model)
    chunked = score_structures(batch, model, chunk_size=2)
    np.testing.assert_allclose([s.p_si for s in whole], [s.p_si for s in chunked], atol=1e-6)
    level = model.feature_settings.level
    out = score_structures([li2o, isolated], model)
    assert out[0].p_si >= 0
    if level == 1:  # no bonds within 5 A: no graph for V1 features
        assert isinstance(out[1], FeaturizationError)
    with pytest.raises(ValueError, match="feature rows"):
        model.predict(["Li2O"], [])


def test_rounded_scores_keep_missing_components_missing():
    score = StructureScore(
        p_si=0.123456789,
        p_si_std=0.0111111,
        d_training=1.234567,
        n_sites_featurized=8,
        is_ordered=True,
        p_si_composition=0.98765432,
        p_si_structure=None,
        d_composition=12.3456789,
    )
    assert score.rounded() == {
        "p_si": 0.123457,
        "p_si_std": 0.011111,
        "p_si_composition": 0.987654,
        "p_si_structure": None,
        "d_training": 1.2346,
        "d_composition": 12.3457,
    }
