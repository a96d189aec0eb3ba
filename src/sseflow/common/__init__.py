"""What every tier shares: the Maker base class, the tier document, the candidate."""

from sseflow.common.candidate import Candidate, CandidateBatch, SourceInfo
from sseflow.common.document import TierDocument, TierStatus
from sseflow.common.maker import TierFailure, TierMaker, run_tier, tier_document

__all__ = [
    "Candidate",
    "CandidateBatch",
    "SourceInfo",
    "TierDocument",
    "TierFailure",
    "TierMaker",
    "TierStatus",
    "run_tier",
    "tier_document",
]
