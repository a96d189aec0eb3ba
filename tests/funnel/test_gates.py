import pytest

from sseflow.funnel.gates.base import PassAllGate
from sseflow.funnel.gates.threshold import FlagGate, ThresholdGate, bvse_gate


def test_bvse_gate_threshold_and_dimension():
    gate = bvse_gate(0.6, "2D")
    assert gate.field == "ea_2d_ev"
    assert gate.evaluate({"bvse": {"ea_2d_ev": 0.6}}).passed
    decision = gate.evaluate({"bvse": {"ea_2d_ev": 0.61}})
    assert not decision.passed and "0.610 eV > 0.6 eV" in decision.reason
    assert not gate.evaluate({"bvse": {"ea_2d_ev": None}}).passed  # no percolation
    with pytest.raises(ValueError, match="dimension"):
        bvse_gate(0.6, "4D")


def test_threshold_min_and_flag_and_pass_all():
    gate = ThresholdGate("atomsets", "p_si", min_value=0.5)
    assert gate.evaluate({"atomsets": {"p_si": 0.7}}).passed
    assert not gate.evaluate({"atomsets": {"p_si": 0.2}}).passed
    flag = FlagGate("soap_clustering", "selected")
    assert flag.evaluate({"soap_clustering": {"selected": True}}).passed
    assert not flag.evaluate({"soap_clustering": {"selected": False}}).passed
    assert PassAllGate().evaluate({}).passed


def test_gates_round_trip_through_json():
    gate = bvse_gate(0.5)
    assert ThresholdGate.from_dict(gate.as_dict()) == gate
