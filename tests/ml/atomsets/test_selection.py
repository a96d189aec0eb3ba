import numpy as np
import pytest

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.selection import (
    FEATURE_VARIANTS,
    PredictionCache,
    SelectionSettings,
    TrainingSet,
    atomsets_space,
    fit_psi_model,
    fit_structure_component,
    pooled_forest_space,
)
from sseflow.ml.labels import load_obelix_table

V0_CAN = FeatureSettings(0, "CAN")


@pytest.fixture(scope="module")
def small_set() -> TrainingSet:
    """60 OBELiX rows: 20 superionic + 20 not with a CIF, 10 + 10 composition only."""
    table = load_obelix_table()
    rng = np.random.default_rng(1)
    ids = np.array(table.ids)
    pick = []
    for has in (True, False):
        for label, n in ((1, 20 if has else 10), (0, 20 if has else 10)):
            pool = ids[(table.labels == label) & (table.has_structure == has)]
            pick += list(rng.choice(sorted(pool), n, replace=False))
    return TrainingSet.from_label_table(table.subset(pick))


def _tiny(**kw) -> SelectionSettings:
    values = dict(
        inner_folds=2, n_pooled=2, n_atomsets=2, keep_after_first_fold=1, top_k=1,
        seeds=(0,), max_epochs=1, variants=(V0_CAN,), n_composition=2, max_trees=20,
    )  # fmt: skip
    return SelectionSettings(**(values | kw))


def test_search_spaces_cover_every_feature_variant():
    assert {c.feature_settings for c in atomsets_space(20)} == set(FEATURE_VARIANTS)
    assert {c.feature_settings for c in pooled_forest_space(12)} == set(FEATURE_VARIANTS)
    assert atomsets_space(5, seed=3) == atomsets_space(5, seed=3)
    assert all(c.hyper.epochs in (40, 60, 100) for c in atomsets_space(20))


@pytest.mark.slow
def test_fit_psi_model_records_every_choice(small_set, tmp_path):
    cache = PredictionCache(tmp_path / "cache")
    model, selection = fit_psi_model(small_set, None, _tiny(), cache)
    record = model.selection
    assert set(record) >= {"composition", "pooled_forest", "atomsets", "combiner", "calibration"}
    assert selection.family in ("pooled_forest", "atomsets")
    assert record["calibration"]["chosen"] in ("none", "platt", "isotonic")
    assert model.training["n_samples"] == 60 and model.training["n_with_structure"] == 40
    assert len(list((tmp_path / "cache").glob("*.npy"))) >= 2  # AtomSets predictions kept
    # a second run reuses the cached AtomSets predictions and chooses the same
    again, selection2 = fit_psi_model(small_set, None, _tiny(), cache)
    assert selection2.family == selection.family
    assert again.selection["atomsets"] == record["atomsets"]
    feats = small_set.atom_features(V0_CAN)
    pred = model.predict(small_set.compositions[:5], feats[:5])
    assert np.all((pred.p_si >= 0) & (pred.p_si <= 1))
    # the family not chosen can be trained alone (a baseline)
    other = selection.atomsets if selection.family == "pooled_forest" else selection.pooled_forest
    component = fit_structure_component(small_set, other, np.arange(60))
    assert component is not None


def test_outer_rows_only_and_too_few_rows(small_set):
    rows = np.arange(0, 60, 2)
    model, _ = fit_psi_model(small_set, rows, _tiny(n_atomsets=0))
    assert model.training["n_samples"] == 30
    with pytest.raises(ValueError, match="at least"):
        fit_psi_model(small_set, np.arange(8), _tiny(n_atomsets=0))
