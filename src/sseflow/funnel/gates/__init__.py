"""Gates of the funnel: each decides from a stage's tier documents who goes on.

All gates follow the :class:`Gate` protocol (``evaluate(docs) -> GateDecision``); gates
that rank candidates against each other are :class:`BatchGate` s.
"""

from sseflow.funnel.gates.base import BatchGate, Gate, GateDecision, PassAllGate
from sseflow.funnel.gates.ml_policy import MLPolicyGate
from sseflow.funnel.gates.rank import RankGate
from sseflow.funnel.gates.threshold import FlagGate, ThresholdGate, bvse_gate

__all__ = [
    "BatchGate",
    "FlagGate",
    "Gate",
    "GateDecision",
    "MLPolicyGate",
    "PassAllGate",
    "RankGate",
    "ThresholdGate",
    "bvse_gate",
]
