"""Documents of the ingest step: the batch outcome and the per-candidate tier record."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.common.document import TierDocument


class RejectedInput(BaseModel):
    """An input that did not become a candidate, with the reason."""

    candidate_id: str = Field(..., description="Structure id, or a file-content id.")
    source: SourceInfo
    reason: str
    formula: str | None = None


class DuplicateInput(BaseModel):
    """An input merged into an earlier candidate by StructureMatcher."""

    candidate_id: str = Field(..., description="Id of the candidate it was merged into.")
    source: SourceInfo


class IngestDocument(BaseModel):
    """Everything the ingest step decided about a batch of inputs."""

    accepted: list[Candidate] = Field(default_factory=list)
    rejected: list[RejectedInput] = Field(default_factory=list)
    duplicates: list[DuplicateInput] = Field(default_factory=list)
    notes: dict[str, list[str]] = Field(
        default_factory=dict, description="Candidate id -> what ingest changed (e.g. the cell)."
    )
    stored_structures_loaded: int = Field(
        0, description="Stored structures read to look for duplicates (the cost of de-duplication)."
    )
    settings: dict[str, float | int | str | bool | None] = Field(default_factory=dict)


class IngestTierDocument(TierDocument):
    """Ingest outcome of one input (accepted or rejected, with the reason).

    Stored as ``tiers.ingest`` in the candidate record.
    """

    tier: str = "ingest"
    source_path: str | None = Field(None, description="File the input was read from.")
    notes: list[str] = Field(default_factory=list, description="What ingest changed.")
