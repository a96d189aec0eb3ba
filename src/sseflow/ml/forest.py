"""Tree ensembles stored as plain arrays: scikit-learn forests without pickles.

The shipped P_SI model contains random forests (composition and pooled structure
features). scikit-learn persists them with pickle/joblib, which is unsafe to load from
an untrusted file and not supported across scikit-learn versions. We train with
scikit-learn and store each fitted tree as its node arrays (children, split feature,
threshold, leaf class fractions) in an ``.npz`` file; :class:`ForestArrays` predicts from
them with numpy and gives exactly scikit-learn's ``predict_proba`` (tested), whatever
scikit-learn version is installed when the model is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass
class ForestArrays:
    """A fitted binary tree-ensemble classifier as concatenated node arrays.

    Attributes
    ----------
    left, right
        Child node indices (global, into the concatenated arrays); -1 at leaves.
    feature, threshold
        Split feature and threshold (go left when ``x[feature] <= threshold``).
    positive
        Fraction of the positive class at each node (used at leaves).
    roots
        Index of each tree's root node.
    missing_left
        Where a NaN feature value goes (scikit-learn >= 1.4 learns it per split).
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    positive: np.ndarray
    roots: np.ndarray
    missing_left: np.ndarray

    @classmethod
    def from_sklearn(cls, forest: Any) -> ForestArrays:
        """Convert a fitted ``RandomForestClassifier``/``ExtraTreesClassifier`` (classes 0, 1)."""
        if list(forest.classes_) != [0, 1]:
            raise ValueError(f"expected classes [0, 1], got {list(forest.classes_)}")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("l", "r", "f", "t", "p", "m")}
        roots, offset = [], 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            n = tree.node_count
            leaf = tree.children_left < 0
            parts["l"].append(np.where(leaf, -1, tree.children_left + offset))
            parts["r"].append(np.where(leaf, -1, tree.children_right + offset))
            parts["f"].append(np.where(leaf, 0, tree.feature))
            parts["t"].append(tree.threshold.astype(np.float64))
            value = tree.value[:, 0, :].astype(np.float64)
            parts["p"].append(value[:, 1] / value.sum(axis=1))
            missing = getattr(tree, "missing_go_to_left", None)
            parts["m"].append(
                np.ones(n, dtype=bool) if missing is None else np.asarray(missing, dtype=bool)
            )
            roots.append(offset)
            offset += n
        return cls(
            left=np.concatenate(parts["l"]).astype(np.int32),
            right=np.concatenate(parts["r"]).astype(np.int32),
            feature=np.concatenate(parts["f"]).astype(np.int32),
            threshold=np.concatenate(parts["t"]),
            positive=np.concatenate(parts["p"]),
            roots=np.asarray(roots, dtype=np.int32),
            missing_left=np.concatenate(parts["m"]),
        )

    def tree_probabilities(self, x: np.ndarray) -> np.ndarray:
        """Return the positive-class probability of every tree, ``(n_trees, n_samples)``."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        rows = np.arange(len(x))
        out = np.empty((len(self.roots), len(x)))
        for k, root in enumerate(self.roots):
            node = np.full(len(x), root, dtype=np.int64)
            while True:
                inner = self.left[node] >= 0
                if not inner.any():
                    break
                active = node[inner]
                values = x[rows[inner], self.feature[active]]
                go_left = np.where(
                    np.isnan(values), self.missing_left[active], values <= self.threshold[active]
                )
                node[inner] = np.where(go_left, self.left[active], self.right[active])
            out[k] = self.positive[node]
        return out

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Return the positive-class probability (mean over trees), ``(n_samples,)``."""
        return self.tree_probabilities(x).mean(axis=0)

    def save(self, path: str | Path) -> Path:
        """Write the arrays to an ``.npz`` file."""
        path = Path(path)
        np.savez_compressed(path, **vars(self))
        return path

    @classmethod
    def load(cls, path: str | Path) -> ForestArrays:
        """Read arrays written by :meth:`save`."""
        with np.load(path) as arrays:
            return cls(**{k: arrays[k] for k in arrays.files})
