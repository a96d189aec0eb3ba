"""Documents of the ingest step: the batch outcome and the per-candidate tier record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, field_serializer, field_validator

from sseflow.common.candidate import Candidate, CandidateBatch, SourceInfo
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

    accepted: list[Candidate] = Field(
        default_factory=list,
        description="The candidates, in input order. Stored (serialised) as one "
        ":class:`~sseflow.common.candidate.CandidateBatch`: ids, formulas and one "
        "compressed string, so a batch of thousands stays a small document.",
    )
    rejected: list[RejectedInput] = Field(default_factory=list)
    duplicates: list[DuplicateInput] = Field(default_factory=list)
    notes: dict[str, list[str]] = Field(
        default_factory=dict, description="Candidate id -> what ingest changed (e.g. the cell)."
    )
    stored_structures_loaded: int = Field(
        0, description="Stored structures read to look for duplicates (the cost of de-duplication)."
    )
    settings: dict[str, float | int | str | bool | None] = Field(default_factory=dict)

    @field_validator("accepted", mode="before")
    @classmethod
    def _unpack_accepted(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "packed" in value:
            value = CandidateBatch.from_dict(value)
        if isinstance(value, CandidateBatch):
            return list(value)
        return value

    @field_serializer("accepted")
    def _pack_accepted(self, accepted: list[Candidate]) -> dict[str, Any]:
        # ~22 kB of BSON per candidate as a list; MongoDB refuses documents over 16 MB
        return CandidateBatch(accepted).as_dict()


class IngestTierDocument(TierDocument):
    """Ingest outcome of one input (accepted or rejected, with the reason).

    Stored as ``tiers.ingest`` in the candidate record.
    """

    tier: str = "ingest"
    source_path: str | None = Field(None, description="File the input was read from.")
    notes: list[str] = Field(default_factory=list, description="What ingest changed.")
