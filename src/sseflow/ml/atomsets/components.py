"""The parts P_SI is made of: configurations and fitted components.

P_SI combines a **composition component** (a tree ensemble on composition features, so it
scores every labelled row, with or without a structure) and a **structure component**
on MEGNet atom features of the simplified structure: either an AtomSets ensemble
(:mod:`sseflow.ml.atomsets.ensemble`) or a tree ensemble on atom features pooled per
structure (mean, standard deviation, minimum and maximum over sites). Which
configurations are used is chosen by nested cross-validation
(:mod:`sseflow.ml.atomsets.selection`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.network import AtomSetsHyperparameters
from sseflow.ml.forest import ForestArrays

#: Number of tree groups whose spread stands for a forest's member spread (p_si_std).
FOREST_GROUPS = 10


def config_key(config: Any) -> str:
    """Return a short stable hash of a configuration (cache key, manifest id)."""
    text = json.dumps(asdict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ForestConfig:
    """A scikit-learn tree ensemble (``random_forest`` or ``extra_trees``)."""

    kind: str = "random_forest"
    n_estimators: int = 300
    max_features: float | str = "sqrt"
    min_samples_leaf: int = 1
    class_weight: str | None = "balanced"

    def make(self, seed: int = 0) -> Any:
        """Return the unfitted scikit-learn classifier."""
        from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

        classes = {"random_forest": RandomForestClassifier, "extra_trees": ExtraTreesClassifier}
        if self.kind not in classes:
            raise ValueError(f"unknown forest kind {self.kind!r}")
        return classes[self.kind](
            n_estimators=self.n_estimators,
            max_features=self.max_features,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            random_state=seed,
            n_jobs=1,
        )


@dataclass(frozen=True)
class _OnFeatures:
    """A configuration that reads MEGNet atom features of one variant."""

    level: int = 0
    simplification: str = "CAMNS"

    @property
    def feature_settings(self) -> FeatureSettings:
        """Return the MEGNet feature settings it reads."""
        return FeatureSettings(self.level, self.simplification)


@dataclass(frozen=True)
class PooledForestConfig(_OnFeatures):
    """A tree ensemble on per-structure pooled MEGNet atom features."""

    forest: ForestConfig = field(default_factory=ForestConfig)


@dataclass(frozen=True)
class AtomSetsConfig(_OnFeatures):
    """An AtomSets network on MEGNet atom features."""

    simplification: str = "CAN"
    hyper: AtomSetsHyperparameters = field(default_factory=AtomSetsHyperparameters)


def pooled_features(features: Sequence[np.ndarray]) -> np.ndarray:
    """Pool atom feature matrices per structure: ``[mean, std, min, max]`` over sites."""
    return np.stack(
        [
            np.concatenate([f.mean(axis=0), f.std(axis=0), f.min(axis=0), f.max(axis=0)])
            for f in (np.asarray(f, dtype=np.float64) for f in features)
        ]
    )


@dataclass
class ForestComponent:
    """A fitted tree ensemble stored as arrays (:class:`~sseflow.ml.forest.ForestArrays`)."""

    config: ForestConfig
    forest: ForestArrays

    @classmethod
    def fit(cls, config: ForestConfig, x: np.ndarray, y: np.ndarray, seed: int = 0) -> Any:
        """Train on ``x`` (rows) and labels ``y``."""
        model = config.make(seed).fit(np.asarray(x, dtype=float), np.asarray(y, dtype=int))
        return cls(config, ForestArrays.from_sklearn(model))

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the probability and the member probabilities ``(FOREST_GROUPS, n)``.

        Members are equal groups of trees (their spread is the forest's ``p_si_std``).
        """
        trees = self.forest.tree_probabilities(x)
        groups = np.array_split(trees, min(FOREST_GROUPS, len(trees)))
        return trees.mean(axis=0), np.stack([g.mean(axis=0) for g in groups])
