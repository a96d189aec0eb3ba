import itertools

import numpy as np
import pytest

from sseflow.ml.soap.clustering import ClusteringError, select_by_cluster
from sseflow.ml.soap.validation import (
    SelectionSetting,
    choose_selection,
    leave_labels_out,
    nested_selection,
    pareto_front,
)


def _two_families(n=60, seed=0):
    """Fast conductors near one point of descriptor space, slow ones near another."""
    rng = np.random.default_rng(seed)
    fast = rng.normal(0.0, 0.3, size=(n // 2, 4))
    slow = rng.normal(3.0, 0.3, size=(n // 2, 4))
    sigma = np.r_[np.full(n // 2, 1e-3), np.full(n // 2, 1e-8)]
    folds = np.array_split(rng.permutation(n), 5)
    return np.vstack([fast, slow]), sigma, folds


def test_rules_on_a_small_example():
    matrix = np.array([[0.0], [0.1], [5.0], [5.1], [9.0], [9.1]])
    clusters = np.array([0, 0, 1, 1, 2, 2])
    labels = np.array([0, 2, 4])
    log10 = np.array([-3.0, -4.5, -9.0])  # cluster 0 fast, 1 medium, 2 slow
    picked = {
        rule: [m.selected for m in select_by_cluster(matrix, clusters, labels, log10, rule=rule)]
        for rule in ("high_or_adjacent", "high", "adjacent", "density")
    }
    assert picked["high"] == [True, True, True, True, False, False]  # -4.5 > -5 too
    assert picked["adjacent"] == [False, False, False, False, True, True]
    assert picked["high_or_adjacent"] == [True] * 6
    assert picked["density"] == picked["high"]
    with pytest.raises(ClusteringError, match="rule"):
        select_by_cluster(matrix, clusters, labels, log10, rule="nearest")


def test_leave_labels_out_finds_the_fast_family():
    matrix, sigma, folds = _two_families()
    settings = [SelectionSetting(d, r) for d in (1, 2, 4, 8) for r in ("high", "adjacent")]
    scores, selected = leave_labels_out(matrix, sigma, folds, settings)
    by = {(s.setting.depth, s.setting.rule): s for s in scores}
    assert by[(1, "high")].recall == 1.0 and by[(1, "high")].pass_fraction == 1.0
    assert by[(2, "high")].recall == 1.0 and by[(2, "high")].pass_fraction == 0.5
    assert by[(2, "high")].other_pass_fraction == 0.0
    assert selected[SelectionSetting(2, "high")].sum() == 30
    best = choose_selection(scores, min_recall=0.9)
    assert best.recall >= 0.9 and best.pass_fraction == 0.5
    front = pareto_front(scores)
    assert all(a.pass_fraction <= b.pass_fraction for a, b in itertools.pairwise(front))
    assert choose_selection(scores, min_recall=1.1) is None


def test_nested_selection_is_honest():
    matrix, sigma, folds = _two_families()
    settings = [SelectionSetting(d, "high") for d in (1, 2, 4)]
    score, chosen, selected = nested_selection(matrix, sigma, folds, settings)
    assert len(chosen) == 5 and all(c is not None for c in chosen)
    assert score.recall == 1.0 and score.pass_fraction == pytest.approx(0.5)
    assert selected[:30].all() and not selected[30:].any()
