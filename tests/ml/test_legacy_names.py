"""Every name the old ``sseflow.analysis`` ML modules exported still resolves."""

import importlib
import sys
import warnings

import pytest

#: Names of ``sseflow.analysis.atomsets`` before it was split (sseflow 0.1).
OLD_ATOMSETS_NAMES = [
    "ARTIFACT_FORMAT_VERSION",
    "ApplicabilityDomain",
    "AtomSetsEnsemble",
    "AtomSetsHyperparameters",
    "CANDIDATE_HYPERPARAMETER_SETS",
    "DEFAULT_MODEL_NAME",
    "EnsemblePrediction",
    "FEATURE_DIMENSIONS",
    "FeatureSettings",
    "LabelledStructures",
    "ModelArtifactError",
    "PARENT_MODEL_NAME",
    "SUPERIONIC_THRESHOLD_S_PER_CM",
    "StructureScore",
    "_DEFAULT_ENSEMBLE",
    "_atom_sets_base",
    "_learning_rate_schedule_class",
    "_predict_probabilities",
    "build_regularized_atom_sets",
    "default_model_dir",
    "default_training_table",
    "featurize",
    "import_tensorflow",
    "load_default_ensemble",
    "load_label_table",
    "make_regularized_atom_sets",
    "parent_model_sha256",
    "parse_conductivity_s_per_cm",
    "score_structures",
    "simplify_for_features",
    "superionic_label",
    "train_ensemble",
    "train_member",
    "training_data_hash",
]


def _legacy(name: str):
    sys.modules.pop(name, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(name)


@pytest.mark.parametrize("name", OLD_ATOMSETS_NAMES)
def test_old_atomsets_names_resolve(name):
    assert getattr(_legacy("sseflow.analysis.atomsets"), name) is not None


def test_renamed_names_point_at_their_new_homes():
    from sseflow.ml.atomsets.features import apply_megnet_shims
    from sseflow.ml.atomsets.network import predict_probabilities
    from sseflow.ml.labels import LabelTable, parse_conductivity

    old = _legacy("sseflow.analysis.atomsets")
    assert old._predict_probabilities is predict_probabilities
    assert old.parse_conductivity_s_per_cm is parse_conductivity
    assert old.LabelledStructures is LabelTable
    assert _legacy("sseflow.analysis.megnet_features")._apply_megnet_shims is apply_megnet_shims
