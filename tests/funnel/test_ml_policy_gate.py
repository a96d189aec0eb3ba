import itertools

import pytest

from sseflow.funnel.gates.ml_policy import MLPolicyGate


def docs(p_si, selected, gap=3.0):
    return {
        "atomsets": {"p_si": p_si, "band_gap_ev": gap},
        "soap_clustering": {"selected": selected},
    }


@pytest.mark.parametrize(
    ("policy", "p_high", "selected", "expected"),
    [
        (policy, p, s, {"any": p or s, "all": p and s, "p_si_only": p}[policy])
        for policy, p, s in itertools.product(
            ["any", "all", "p_si_only"], [True, False], [True, False]
        )
    ],
)
def test_truth_table(policy, p_high, selected, expected):
    gate = MLPolicyGate(policy=policy)
    decision = gate.evaluate(docs(0.8 if p_high else 0.1, selected))
    assert decision.passed is expected
    assert (decision.reason is None) is expected


@pytest.mark.parametrize("policy", ["any", "all", "p_si_only"])
def test_band_gap_rejects_in_every_policy(policy):
    decision = MLPolicyGate(policy=policy, band_gap_min_ev=1.0).evaluate(docs(0.9, True, 0.4))
    assert not decision.passed and "band_gap_ev" in decision.reason
    assert MLPolicyGate(policy=policy).evaluate(docs(0.9, True, 0.4)).passed  # default: no test
    gate = MLPolicyGate(policy=policy, band_gap_min_ev=1.0)
    assert gate.evaluate(docs(0.9, True, gap=None)).passed


def test_threshold_and_missing_docs():
    gate = MLPolicyGate(policy="p_si_only", p_si_threshold=0.7)
    assert gate.evaluate(docs(0.7, False)).passed
    assert not gate.evaluate(docs(0.69, False)).passed
    assert not MLPolicyGate().evaluate({}).passed
    assert not MLPolicyGate().evaluate({"soap_clustering": {"selected": True}}).passed
    assert MLPolicyGate("any").evaluate({"soap_clustering": {"selected": True}}).passed
    with pytest.raises(ValueError):
        MLPolicyGate(policy="some")
    gate_again = MLPolicyGate.from_dict(MLPolicyGate(policy="all").as_dict())
    assert gate_again.policy == "all"
