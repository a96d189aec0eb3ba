import numpy as np
import pytest

from sseflow.ml.calibration import (
    Calibrator,
    brier_score,
    choose_calibration,
    reliability,
)


def _overconfident(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    true_p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < true_p).astype(int)
    score = 1 / (1 + np.exp(-3 * np.log(true_p / (1 - true_p))))  # too extreme
    return score, y


def test_reliability_and_brier():
    score, y = _overconfident()
    bins = reliability(y, score, n_bins=5)
    assert bins.counts.sum() == len(y)
    assert bins.expected_calibration_error > 0.05
    assert brier_score([0, 1], [0.0, 1.0]) == 0.0 and brier_score([1], [0.0]) == 1.0
    assert set(bins.as_dict()) == {"edges", "mean_score", "observed_fraction", "counts", "ece"}


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibrators_fix_overconfidence(method):
    score, y = _overconfident()
    calibrated = Calibrator.fit(method, score[:1000], y[:1000])
    again = Calibrator.from_dict(calibrated.as_dict())
    test_score, test_y = score[1000:], y[1000:]
    assert brier_score(test_y, again(test_score)) < brier_score(test_y, test_score)
    assert reliability(test_y, again(test_score)).expected_calibration_error < 0.05


def test_choose_calibration_prefers_none_when_already_calibrated():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 3000)
    y = (rng.random(3000) < p).astype(int)
    folds = np.array_split(rng.permutation(3000), 3)
    chosen, brier = choose_calibration(p, y, folds)
    assert set(brier) == {"none", "platt", "isotonic"}
    assert brier[chosen.method] == min(brier.values())
    assert brier["none"] <= min(brier.values()) + 0.002
    score, y2 = _overconfident(3000)
    chosen, _ = choose_calibration(score, y2, folds)
    assert chosen.method != "none"
    with pytest.raises(ValueError):
        Calibrator.fit("beta", p, y)
