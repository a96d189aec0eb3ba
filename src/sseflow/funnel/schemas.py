"""What a stage of the funnel reports when its gate has judged the candidates."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StageSummary(BaseModel):
    """How many candidates entered a stage and what became of them."""

    stage: int
    tiers: list[str]
    n_in: int = 0
    passed: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    pending: list[str] = Field(
        default_factory=list, description="Waiting for a tier that cannot run here yet."
    )
    reused: list[str] = Field(default_factory=list, description="Tier results not recomputed.")
