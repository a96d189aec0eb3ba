"""The screening funnel: ingest, then stages of tier Makers, each judged by a gate."""

from sseflow.funnel.config import (
    FunnelConfigError,
    funnel_from_dict,
    load_funnel,
    validate_funnel,
)
from sseflow.funnel.defaults import default_stages, ml_stage
from sseflow.funnel.gates import (
    BatchGate,
    FlagGate,
    Gate,
    GateDecision,
    MLPolicyGate,
    PassAllGate,
    RankGate,
    ThresholdGate,
    bvse_gate,
)
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.funnel.schemas import StageSummary

__all__ = [
    "BatchGate",
    "FlagGate",
    "FunnelConfigError",
    "Gate",
    "GateDecision",
    "MLPolicyGate",
    "PassAllGate",
    "RankGate",
    "ScreeningFunnelMaker",
    "Stage",
    "StageSummary",
    "ThresholdGate",
    "bvse_gate",
    "default_stages",
    "funnel_from_dict",
    "load_funnel",
    "ml_stage",
    "validate_funnel",
]
