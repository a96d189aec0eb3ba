"""Fixtures shared by the AtomSets tests: a small real OBELiX subset and its features."""

import numpy as np
import pytest

from sseflow.ml.atomsets.featurization import FeatureSettings, featurize
from sseflow.ml.labels import load_obelix_labels


@pytest.fixture(scope="session")
def obelix_subset():
    """32 superionic + 48 other OBELiX training structures (superionic first), CAMNS-V1."""
    table = load_obelix_labels()
    rng = np.random.default_rng(0)
    ids = np.array(table.ids)
    pos = rng.choice(sorted(ids[table.labels == 1]), 32, replace=False)
    neg = rng.choice(sorted(ids[table.labels == 0]), 48, replace=False)
    data = table.subset([*pos, *neg])
    order = np.argsort(-data.labels, kind="stable")
    settings = FeatureSettings()
    feats = featurize([data.structures[i] for i in order], settings)
    return feats, data.labels[order], [data.ids[i] for i in order], settings
