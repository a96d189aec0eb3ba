import numpy as np
import pytest

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.selection import (
    FEATURE_VARIANTS,
    PredictionCache,
    SelectionSettings,
    TrainingSet,
    _choose_combiner,
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


def test_gated_combiner_chosen_when_far_rows_need_the_structure():
    # near rows: the composition ranks them and the structure is noise; far rows
    # (an unseen chemistry): the composition is wrong and the structure right
    rng = np.random.default_rng(0)
    n = 80
    y = np.tile([0, 1], n // 2)
    far = np.arange(n) >= 60
    pc = np.where(far, 1 - y, y) * 0.6 + rng.uniform(0, 0.4, n)
    ps = np.where(far, y * 0.6 + rng.uniform(0, 0.4, n), rng.uniform(0, 1, n))
    folds = [np.arange(k, n, 4) for k in range(4)]
    parts = {"kfold": (pc, ps, y, folds, far)}
    grid = tuple(round(0.1 * k, 1) for k in range(11))
    plain, _, _ = _choose_combiner(parts, grid, gated=False)
    gated, _, scores = _choose_combiner(parts, grid, gated=True)
    assert plain.kind != "gated_average"
    assert gated.kind == "gated_average"
    assert gated.weight_composition >= 0.7 and gated.weight_composition_far <= 0.3
    assert "gated w_near=1 w_far=0" in scores
    best_plain = max(v["kfold"] for k, v in scores.items() if not k.startswith("gated"))
    assert (
        scores[f"gated w_near={gated.weight_composition:g} w_far={gated.weight_composition_far:g}"][
            "kfold"
        ]
        > best_plain
    )
    # without far rows the gate has nothing to switch: a plain combiner wins the tie
    same, _, _ = _choose_combiner({"kfold": (pc, ps, y, folds, np.zeros(n, bool))}, grid, True)
    assert same.kind != "gated_average"


def test_fit_psi_model_sets_the_far_distance(small_set):
    model, _ = fit_psi_model(small_set, None, _tiny(n_atomsets=0))
    record = model.selection["combiner"]
    assert record["far_quantile"] == 0.95
    assert set(record["far_fraction"]) == {"kfold", "clusters"}
    assert record["far_fraction"]["clusters"] >= record["far_fraction"]["kfold"]
    assert any(name.startswith("gated") for name in record["inner_auc_pr"])
    assert model.composition_domain is not None
    if model.combiner.kind == "gated_average":
        assert np.isfinite(model.combiner.far_distance)
    pred = model.predict(small_set.compositions[:5], small_set.atom_features(V0_CAN)[:5])
    assert pred.d_composition is not None and np.all(pred.d_composition >= 0)
    off, _ = fit_psi_model(small_set, None, _tiny(n_atomsets=0, gated_combiner=False))
    assert not any(n.startswith("gated") for n in off.selection["combiner"]["inner_auc_pr"])
