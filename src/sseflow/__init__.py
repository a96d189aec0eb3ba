"""sseflow: a tiered jobflow funnel that screens Li-containing crystals as solid electrolytes.

The public API is re-exported here (imported on first use, so ``sseflow --help`` stays
fast)::

    from sseflow import ScreeningFunnelMaker, Stage, BVSEMaker, bvse_gate

and one call runs the default funnel (ML -> BVSE -> MLIP CI-NEB -> DFT CI-NEB) and
returns the ranked results::

    results = sseflow.screen(["my_cifs/"], neb_top_n=3)
    results.to_dataframe()

Examples
--------
>>> import sseflow
>>> sseflow.BVSEMaker().tier
'bvse'
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("sseflow")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

#: Public name -> module that defines it.
_PUBLIC = {
    "screen": "sseflow.api",
    "resume": "sseflow.api",
    "ScreeningResults": "sseflow.api",
    "FunnelOptions": "sseflow.funnel.options",
    "default_stages": "sseflow.funnel.defaults",
    "ScreeningFunnelMaker": "sseflow.funnel.maker",
    "Stage": "sseflow.funnel.maker",
    "load_funnel": "sseflow.funnel.config",
    "Gate": "sseflow.funnel.gates",
    "BatchGate": "sseflow.funnel.gates",
    "GateDecision": "sseflow.funnel.gates",
    "PassAllGate": "sseflow.funnel.gates",
    "ThresholdGate": "sseflow.funnel.gates",
    "FlagGate": "sseflow.funnel.gates",
    "RankGate": "sseflow.funnel.gates",
    "MLPolicyGate": "sseflow.funnel.gates",
    "bvse_gate": "sseflow.funnel.gates",
    "TierMaker": "sseflow.common.maker",
    "TierDocument": "sseflow.common.document",
    "TierStatus": "sseflow.common.document",
    "Candidate": "sseflow.common.candidate",
    "IngestSettings": "sseflow.ingest.validation",
    "BVSEMaker": "sseflow.bvse.jobs",
    "BVSESettings": "sseflow.bvse.settings",
    "SOAPClusteringMaker": "sseflow.ml.soap.jobs",
    "SOAPSettings": "sseflow.ml.soap.descriptor",
    "AtomSetsMaker": "sseflow.ml.atomsets.jobs",
    "CHGNetNEBMaker": "sseflow.neb.jobs",
    "MLIPNEBMaker": "sseflow.neb.jobs",
    "NEBRunSettings": "sseflow.neb.runner",
    "OrderingSettings": "sseflow.neb.ordering",
    "QENEBMaker": "sseflow.qe.jobs",
    "QERelaxMaker": "sseflow.qe.jobs",
    "QESettings": "sseflow.qe.calculator",
}

__all__ = [
    "AtomSetsMaker",
    "BVSEMaker",
    "BVSESettings",
    "BatchGate",
    "CHGNetNEBMaker",
    "Candidate",
    "FlagGate",
    "FunnelOptions",
    "Gate",
    "GateDecision",
    "IngestSettings",
    "MLIPNEBMaker",
    "MLPolicyGate",
    "NEBRunSettings",
    "OrderingSettings",
    "PassAllGate",
    "QENEBMaker",
    "QERelaxMaker",
    "QESettings",
    "RankGate",
    "SOAPClusteringMaker",
    "SOAPSettings",
    "ScreeningFunnelMaker",
    "ScreeningResults",
    "Stage",
    "ThresholdGate",
    "TierDocument",
    "TierMaker",
    "TierStatus",
    "__version__",
    "bvse_gate",
    "default_stages",
    "load_funnel",
    "resume",
    "screen",
]

if TYPE_CHECKING:
    from sseflow.api import ScreeningResults, resume, screen
    from sseflow.bvse.jobs import BVSEMaker
    from sseflow.bvse.settings import BVSESettings
    from sseflow.common.candidate import Candidate
    from sseflow.common.document import TierDocument, TierStatus
    from sseflow.common.maker import TierMaker
    from sseflow.funnel.config import load_funnel
    from sseflow.funnel.defaults import default_stages
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
    from sseflow.funnel.options import FunnelOptions
    from sseflow.ingest.validation import IngestSettings
    from sseflow.ml.atomsets.jobs import AtomSetsMaker
    from sseflow.ml.soap.descriptor import SOAPSettings
    from sseflow.ml.soap.jobs import SOAPClusteringMaker
    from sseflow.neb.jobs import CHGNetNEBMaker, MLIPNEBMaker
    from sseflow.neb.ordering import OrderingSettings
    from sseflow.neb.runner import NEBRunSettings
    from sseflow.qe.calculator import QESettings
    from sseflow.qe.jobs import QENEBMaker, QERelaxMaker


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'sseflow' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
