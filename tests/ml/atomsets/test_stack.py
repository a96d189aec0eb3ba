import json

import numpy as np
import pytest

from sseflow.ml.atomsets.components import (
    ForestComponent,
    ForestConfig,
    PooledForestConfig,
    pooled_features,
)
from sseflow.ml.atomsets.ensemble import ApplicabilityDomain, ModelArtifactError, train_ensemble
from sseflow.ml.atomsets.network import AtomSetsHyperparameters
from sseflow.ml.atomsets.stack import (
    Combiner,
    PSIModel,
    composition_distance,
    composition_domain,
    far_distance,
)
from sseflow.ml.calibration import Calibrator
from sseflow.ml.composition import composition_features
from sseflow.ml.labels import load_obelix_labels


def test_combiner():
    pc, ps = np.array([0.2, 0.8, 0.6]), np.array([0.4, 0.6, np.nan])
    np.testing.assert_allclose(Combiner("average", 0.25)(pc, ps), [0.35, 0.65, 0.6])
    y = np.array([0, 1, 1, 0, 1, 0, 1, 0])
    pcs, pss = np.array([0.2, 0.7, 0.9, 0.3, 0.6, 0.4, 0.8, 0.1]), np.full(8, 0.5)
    fitted = Combiner.fit_logistic(pcs, pss, y)
    again = Combiner.from_dict(json.loads(json.dumps(fitted.as_dict())))
    assert fitted.kind == "logistic" and fitted.coef[0] > 0
    np.testing.assert_allclose(again(pcs, pss), fitted(pcs, pss))


def test_gated_combiner_switches_weight_beyond_far_distance():
    pc, ps = np.array([0.2, 0.8, 0.6, 0.9]), np.array([0.4, 0.6, 0.5, np.nan])
    gated = Combiner("gated_average", 1.0, weight_composition_far=0.0, far_distance=2.0)
    d = np.array([0.5, 3.0, 2.0, 9.0])  # near, far, at the limit (near), no structure
    np.testing.assert_allclose(gated(pc, ps, d), [0.2, 0.6, 0.6, 0.9])
    members = np.array([[0.4, 0.6, 0.5, np.nan], [0.0, 0.2, 0.1, np.nan]])
    np.testing.assert_allclose(gated(pc[None], members, d)[1], [0.2, 0.2, 0.6, 0.9])
    again = Combiner.from_dict(json.loads(json.dumps(gated.as_dict())))
    assert again == gated
    with pytest.raises(ValueError, match="d_composition"):
        gated(pc, ps)
    with pytest.raises(ValueError, match="unknown combiner"):
        Combiner("median")
    # manifests written before the gated combiner existed still load
    old = {"kind": "average", "weight_composition": 0.7, "coef": [1.0, 1.0, 0.0]}
    assert Combiner.from_dict(old) == Combiner("average", 0.7)
    assert "far_distance" not in Combiner("average", 0.7).as_dict()


def test_far_distance_ignores_repeats_of_the_same_compound():
    x = composition_features(["Li3N", "Li3N", "Li2O", "LiCl", "LiBr", "Li3PS4"])
    domain = composition_domain(x)
    # a training row is at distance 0 from itself
    np.testing.assert_allclose(composition_distance(domain, x), 0.0, atol=1e-9)
    by_row = far_distance(domain, ["a", "b", "c", "d", "e", "f"], quantile=0.0)
    by_compound = far_distance(domain, ["a", "a", "c", "d", "e", "f"], quantile=0.0)
    assert by_row == pytest.approx(0.0, abs=1e-9)  # the two Li3N rows are neighbours
    assert by_compound > 0.1  # not when they are one compound
    assert far_distance(domain, ["a"] * 6) == float("inf")  # one compound: nothing is far
    assert composition_distance(domain, composition_features(["Cs2Te"]))[0] > by_compound


@pytest.fixture(scope="module")
def small_model(obelix_subset):
    feats, y, ids, settings = obelix_subset
    table = load_obelix_labels().subset(ids)
    comps = [table.compositions[table.ids.index(i)] for i in ids]
    comp = ForestComponent.fit(ForestConfig(n_estimators=30), composition_features(comps), y)
    return feats, y, comps, settings, comp


@pytest.mark.parametrize(
    "family", ["pooled_forest", pytest.param("atomsets", marks=pytest.mark.slow)]
)
def test_save_load_predict(small_model, tmp_path, family):
    feats, y, comps, settings, comp = small_model
    if family == "atomsets":
        hyper = AtomSetsHyperparameters(n_neurons=8, epochs=1, batch_size=32)
        structure = train_ensemble(feats[:60], y[:60], settings, [hyper], [0, 1])
        config = None
    else:
        config = PooledForestConfig(1, "CAMNS", ForestConfig(n_estimators=20))
        structure = ForestComponent.fit(config.forest, pooled_features(feats[:60]), y[:60])
    model = PSIModel(
        feature_settings=settings,
        composition=comp,
        structure=structure,
        combiner=Combiner("average", 0.5),
        calibrator=Calibrator("platt", {"a": 1.2, "b": -0.1}),
        domain=ApplicabilityDomain.fit(feats[:60]),
        structure_config=config,
        model_version="stack-test",
    )
    rows = [*feats[60:70], None]
    comps_in = [*comps[60:70], "Li3N"]
    before = model.predict(comps_in, rows)
    model.save(tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / "manifest.json").read_text())
    assert manifest["format_version"] == 2 and manifest["structure"]["kind"] == family
    assert manifest["composition_domain"] is None
    loaded = PSIModel.load(tmp_path / "m")
    after = loaded.predict(comps_in, rows)
    assert after.d_composition is None
    for name in ("p_si", "p_si_std", "p_composition", "p_structure", "d_training"):
        np.testing.assert_allclose(getattr(after, name), getattr(before, name), atol=1e-6)
    assert np.isnan(after.p_structure[-1]) and np.isnan(after.d_training[-1])
    assert np.all((after.p_si >= 0) & (after.p_si <= 1)) and np.all(after.p_si_std >= 0)
    with pytest.raises(ValueError, match="shape"):
        loaded.predict(["Li3N"], [np.zeros((2, 3))])


def test_gated_model_saves_its_composition_domain(small_model, tmp_path):
    feats, y, comps, settings, comp = small_model
    config = PooledForestConfig(1, "CAMNS", ForestConfig(n_estimators=20))
    structure = ForestComponent.fit(config.forest, pooled_features(feats[:60]), y[:60])
    x_train = composition_features(comps[:60])
    domain = composition_domain(x_train)
    limit = far_distance(domain, [str(c.reduced_formula) for c in comps[:60]])
    model = PSIModel(
        feature_settings=settings,
        composition=comp,
        structure=structure,
        combiner=Combiner("gated_average", 1.0, weight_composition_far=0.0, far_distance=limit),
        calibrator=Calibrator("none"),
        domain=ApplicabilityDomain.fit(feats[:60]),
        structure_config=config,
        composition_domain=domain,
    )
    comps_in = [*comps[60:70], "Cs2Te"]
    rows = [*feats[60:70], feats[0]]
    before = model.predict(comps_in, rows)
    assert before.d_composition is not None and before.d_composition[-1] > limit
    far = before.d_composition > limit
    # far rows score as the structure component, near rows as the composition component
    np.testing.assert_allclose(before.p_si[far], before.p_structure[far])
    np.testing.assert_allclose(before.p_si[~far], before.p_composition[~far])
    model.save(tmp_path / "g")
    manifest = json.loads((tmp_path / "g" / "manifest.json").read_text())
    assert manifest["composition_domain"]["file"] == "composition_domain.npz"
    assert manifest["combiner"]["far_distance"] == pytest.approx(limit)
    after = PSIModel.load(tmp_path / "g").predict(comps_in, rows)
    for name in ("p_si", "p_si_std", "d_composition"):
        np.testing.assert_allclose(getattr(after, name), getattr(before, name), atol=1e-9)


@pytest.mark.slow
def test_version_1_artifact_loads_as_a_structure_only_model(small_model, tmp_path):
    feats, y, _, settings, _ = small_model
    hyper = AtomSetsHyperparameters(n_neurons=8, epochs=1, batch_size=32)
    ensemble = train_ensemble(feats[:40], y[:40], settings, [hyper], [0])
    ensemble.save(tmp_path / "v1", model_version="v1")
    model = PSIModel.load(tmp_path / "v1")
    assert model.composition is None and model.model_version == "v1"
    pred = model.predict(["Li3N"] * 3, feats[40:43])
    np.testing.assert_allclose(pred.p_si, ensemble.predict_features(feats[40:43]).p_si)
    (tmp_path / "v1" / "manifest.json").write_text(json.dumps({"format_version": 7}))
    with pytest.raises(ModelArtifactError, match="format"):
        PSIModel.load(tmp_path / "v1")
