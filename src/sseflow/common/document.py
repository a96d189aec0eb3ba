"""The common shape of one tier's result for one candidate.

Every tier of the funnel returns a subclass of :class:`TierDocument`. The funnel stores
it, unchanged, as ``tiers.<tier>`` in the candidate's record, so tier-specific numbers
(e.g. ``tiers.bvse.ea_ev``) can be queried directly in MongoDB.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, Field


class TierStatus(StrEnum):
    """Outcome of a tier for one candidate."""

    PENDING = "pending"  # computed (or queued) but not yet judged by the gate
    PASSED = "passed"
    REJECTED = "rejected"
    FAILED = "failed"


class TierDocument(BaseModel):
    """Result of one tier for one candidate, with its provenance."""

    tier: str = Field(..., description="Tier name, the key under ``tiers`` in the record.")
    candidate_id: str = Field(..., description="Stable id of the candidate.")
    status: TierStatus = Field(TierStatus.PENDING, description="pending/passed/rejected/failed.")
    reason: str | None = Field(None, description="Why the candidate was rejected or failed.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Settings used.")
    settings_hash: str | None = Field(None, description="Hash of ``settings`` (re-run key).")
    software: dict[str, str] = Field(default_factory=dict, description="Package versions.")
    host: str | None = Field(None, description="Host the calculation ran on.")
    started_at: datetime | None = Field(None, description="UTC start time.")
    finished_at: datetime | None = Field(None, description="UTC end time.")
    wall_time_s: float | None = Field(None, description="Wall time of the tier, seconds.")
    job_uuid: str | None = Field(None, description="uuid of the jobflow job that made it.")

    #: Large fields kept in the job output (and its data store) but not copied into
    #: the candidate record.
    record_exclude: ClassVar[set[str]] = set()

    def record_dump(self) -> dict[str, Any]:
        """Return the JSON-ready dict stored as ``tiers.<tier>`` in the candidate record."""
        return self.model_dump(mode="json", exclude=self.record_exclude)
