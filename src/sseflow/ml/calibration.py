"""Is P_SI a probability? Reliability, Brier score, and Platt / isotonic calibration.

A classifier's score is *calibrated* when, among structures scored p, a fraction p is
superionic. We check it on out-of-fold predictions (each structure scored by a model
that did not see it):

- :func:`reliability` bins the scores and compares mean score with the observed
  fraction per bin (the reliability diagram);
- :func:`brier_score` is the mean squared difference between score and outcome (0 is
  perfect; a constant at the prevalence pi scores pi (1 - pi));
- :class:`Calibrator` maps raw scores to calibrated ones: ``"platt"`` fits a logistic
  regression on the logit of the score (Platt 1999), ``"isotonic"`` a non-decreasing
  step function (scikit-learn's ``IsotonicRegression``, stored as its breakpoints and
  applied by linear interpolation), ``"none"`` keeps the score;
- :func:`choose_calibration` picks among them by cross-fitted Brier score, so the
  choice is itself judged on scores the calibrator did not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CALIBRATION_METHODS = ("none", "platt", "isotonic")
_EPS = 1e-6


def brier_score(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Return the mean of ``(p - y)^2`` (0 best)."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    return float(np.mean((p - y) ** 2))


def logit(p: np.ndarray) -> np.ndarray:
    """Return ``log(p / (1 - p))`` with p clipped to [1e-6, 1 - 1e-6]."""
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


@dataclass
class ReliabilityBins:
    """A reliability diagram: per score bin, the mean score and the observed fraction."""

    edges: np.ndarray
    mean_score: np.ndarray
    observed_fraction: np.ndarray
    counts: np.ndarray

    @property
    def expected_calibration_error(self) -> float:
        """Count-weighted mean |observed - mean score| over non-empty bins (ECE)."""
        keep = self.counts > 0
        gaps = np.abs(self.observed_fraction[keep] - self.mean_score[keep])
        return float(np.sum(gaps * self.counts[keep]) / max(self.counts.sum(), 1))

    def as_dict(self) -> dict[str, Any]:
        """Return JSON-ready lists (NaN for empty bins)."""
        return {
            "edges": self.edges.tolist(),
            "mean_score": self.mean_score.tolist(),
            "observed_fraction": self.observed_fraction.tolist(),
            "counts": self.counts.tolist(),
            "ece": self.expected_calibration_error,
        }


def reliability(labels: np.ndarray, probabilities: np.ndarray, n_bins: int = 10) -> ReliabilityBins:
    """Bin scores into ``n_bins`` equal-width bins on [0, 1] and compare with outcomes."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    counts = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mean_score = np.bincount(index, weights=p, minlength=n_bins) / counts
        observed = np.bincount(index, weights=y, minlength=n_bins) / counts
    return ReliabilityBins(edges, mean_score, observed, counts)


@dataclass
class Calibrator:
    """A fitted map from raw scores to calibrated probabilities (see the module docstring)."""

    method: str = "none"
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, method: str, scores: np.ndarray, labels: np.ndarray) -> Calibrator:
        """Fit ``method`` ("none", "platt" or "isotonic") on raw scores and outcomes."""
        if method not in CALIBRATION_METHODS:
            raise ValueError(f"unknown calibration {method!r}; choose from {CALIBRATION_METHODS}")
        s = np.asarray(scores, dtype=float)
        y = np.asarray(labels, dtype=int)
        if method == "platt":
            from sklearn.linear_model import LogisticRegression

            model = LogisticRegression(C=1e6, max_iter=1000).fit(logit(s)[:, None], y)
            params: dict[str, Any] = {
                "a": float(model.coef_[0, 0]),
                "b": float(model.intercept_[0]),
            }
        elif method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, y)
            params = {
                "x": [float(v) for v in model.X_thresholds_],
                "y": [float(v) for v in model.y_thresholds_],
            }
        else:
            params = {}
        return cls(method, params)

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        """Return calibrated probabilities for raw scores."""
        s = np.asarray(scores, dtype=float)
        if self.method == "platt":
            from scipy.special import expit

            return expit(self.params["a"] * logit(s) + self.params["b"])
        if self.method == "isotonic":
            return np.interp(s, self.params["x"], self.params["y"])
        return s

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in model manifests."""
        return {"method": self.method, "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild from :meth:`as_dict` output."""
        return cls(data.get("method", "none"), dict(data.get("params", {})))


def cross_fitted_brier(
    method: str, scores: np.ndarray, labels: np.ndarray, folds: Sequence[np.ndarray]
) -> float:
    """Brier score of ``method`` fitted on the other folds and applied to each fold."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=int)
    out = np.empty(len(s))
    for rows in folds:
        rows = np.asarray(rows, dtype=int)
        rest = np.setdiff1d(np.arange(len(s)), rows)
        out[rows] = Calibrator.fit(method, s[rest], y[rest])(s[rows])
    return brier_score(y, out)


def choose_calibration(
    scores: np.ndarray, labels: np.ndarray, folds: Sequence[np.ndarray]
) -> tuple[Calibrator, dict[str, float]]:
    """Pick the calibration with the lowest cross-fitted Brier score and fit it on all.

    Returns
    -------
    calibrator, brier
        The fitted choice and the cross-fitted Brier score of every method.
    """
    if len(np.unique(labels)) < 2 or any(
        len(np.unique(np.delete(np.asarray(labels), f))) < 2 for f in folds
    ):
        return Calibrator("none"), {}  # one class only: nothing to calibrate against
    brier = {m: cross_fitted_brier(m, scores, labels, folds) for m in CALIBRATION_METHODS}
    best = min(CALIBRATION_METHODS, key=lambda m: (brier[m], CALIBRATION_METHODS.index(m)))
    return Calibrator.fit(best, scores, labels), brier
