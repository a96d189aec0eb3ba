import numpy as np
import pytest

from sseflow.ml.soap.wsigma import w_sigma_frozen, w_sigma_random_control

# four labels (log10 sigma) and their clusters at depths 1..4 (each column refines the last)
Y = np.array([0.0, 2.0, 4.0, 10.0])
CUTS = np.array(
    [
        [0, 0, 0, 0],
        [0, 0, 0, 1],
        [0, 0, 1, 2],
        [0, 1, 2, 3],
    ]
)


def test_frozen_state_rule_by_hand():
    # depth 1: mean 4 -> PV 16, 4, 0, 36 -> 56
    # depth 2: {0,2,4} mean 2 -> 4, 0, 4; label 10 alone keeps 36 -> 44
    # depth 3: {0,2} mean 1 -> 1, 1; label 4 alone keeps 4; label 10 keeps 36 -> 42
    # depth 4: all alone, all frozen -> 1 + 1 + 4 + 36 = 42
    np.testing.assert_allclose(w_sigma_frozen(CUTS, Y), [56, 44, 42, 42])


def test_without_history_a_lone_label_counts_zero():
    # starting at depth 2 (no depth 1 column) label 10 has no previous state: 0,
    # and stays frozen at 0; label 4 freezes at its depth-2 PV of 4
    np.testing.assert_allclose(w_sigma_frozen(CUTS[:, 1:], Y), [8, 1 + 1 + 4 + 0, 6])


def test_unlabelled_clusters_and_ids_do_not_matter():
    relabelled = CUTS * 7 + 3
    np.testing.assert_allclose(w_sigma_frozen(relabelled, Y), w_sigma_frozen(CUTS, Y))


def test_random_control():
    # 6 structures, 4 labelled; at depth 1 every placement gives the full variance
    cuts = np.array([[0, 0, 0], [0, 0, 1], [0, 1, 2], [0, 1, 2], [0, 1, 1], [0, 0, 0]])
    control = w_sigma_random_control(cuts, Y, n_draws=50, seed=1)
    assert control[0] == pytest.approx(56.0)
    assert np.all(control <= 56.0 + 1e-9)
    np.testing.assert_allclose(control, w_sigma_random_control(cuts, Y, n_draws=50, seed=1))
    # the average of explicit draws with the same generator
    rng = np.random.default_rng(1)
    manual = np.mean(
        [w_sigma_frozen(cuts[rng.choice(6, size=4, replace=False)], Y) for _ in range(50)], axis=0
    )
    np.testing.assert_allclose(control, manual)
    with pytest.raises(ValueError, match="more labels"):
        w_sigma_random_control(cuts[:3], Y)
