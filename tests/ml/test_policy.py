import numpy as np
import pytest

from sseflow.funnel.gates.ml_policy import MLPolicyGate
from sseflow.ml.policy import (
    DEFAULT_POLICY,
    Policy,
    choose_policy,
    nested_policy_choice,
    passes,
    policy_grid,
    score_policies,
)


def _signals(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.4
    p_si = np.clip(0.35 * y + rng.uniform(0, 0.65, n), 0, 1)
    selected = rng.random(n) < np.where(y, 0.8, 0.4)
    gap = np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0.2, 6.0, n))
    return p_si, selected, gap, y.astype(int)


def test_agrees_with_the_gate():
    p_si, selected, gap, _ = _signals(60)
    for policy in policy_grid(thresholds=(0.3, 0.6)):
        gate = MLPolicyGate(policy.policy, policy.p_si_threshold, policy.band_gap_min_ev)
        ours = passes(policy, p_si, selected, gap)
        for i in range(len(p_si)):
            docs = {
                "atomsets": {"p_si": p_si[i], "band_gap_ev": None if np.isnan(gap[i]) else gap[i]},
                "soap_clustering": {"selected": bool(selected[i])},
            }
            assert gate.evaluate(docs).passed == ours[i], (policy, i)


def test_choose_and_nested():
    p_si, selected, gap, y = _signals()
    grid = policy_grid()
    scores = score_policies(grid, p_si, selected, gap, y)
    best = choose_policy(scores, 0.9)
    assert best.recall >= 0.9
    assert all(s.other_pass_fraction >= best.other_pass_fraction for s in scores if s.recall >= 0.9)
    everything = score_policies([Policy("any", 0.0, None)], p_si, selected, gap, y)[0]
    assert everything.recall == 1.0 and everything.pass_fraction == 1.0
    fold = np.arange(len(y)) % 5
    nested, chosen = nested_policy_choice(grid, p_si, selected, gap, y, fold, 0.9)
    assert len(chosen) == 5 and nested.n_superionic == y.sum()
    assert nested.recall == pytest.approx(nested.n_superionic_passed / y.sum())
    assert choose_policy(scores, 1.01) is None


def test_gate_defaults_are_the_chosen_policy():
    gate = MLPolicyGate()
    assert Policy(gate.policy, gate.p_si_threshold, gate.band_gap_min_ev) == DEFAULT_POLICY
    assert Policy() == DEFAULT_POLICY
