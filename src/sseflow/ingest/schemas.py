"""Documents of the ingest step: the batch outcome and the per-candidate tier record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidatorFunctionWrapHandler, WrapValidator, field_serializer

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


def _keep_packed(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Keep a stored batch a :class:`CandidateBatch`, decoded only when first read.

    The funnel's first stage takes the ingest output's ``accepted`` as it is: decoding
    it here into a list would build every Structure in the ``screen`` process, only for
    the stage to pack them again.
    """
    if isinstance(value, Mapping) and "packed" in value:
        value = CandidateBatch.from_dict(value)
    if isinstance(value, CandidateBatch):
        return value
    return handler(value)


class IngestDocument(BaseModel):
    """Everything the ingest step decided about a batch of inputs."""

    accepted: Annotated[Sequence[Candidate], WrapValidator(_keep_packed)] = Field(
        default_factory=list,
        description="The candidates, in input order. Stored (serialised) as one "
        ":class:`~sseflow.common.candidate.CandidateBatch`: ids, formulas and one "
        "compressed string, so a batch of thousands stays a small document; read back, "
        "it is that batch (a sequence of candidates, decoded when first read).",
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

    @property
    def accepted_ids(self) -> list[str]:
        """Ids of the accepted candidates (without decoding a stored batch)."""
        return list(CandidateBatch.of(self.accepted).candidate_ids)

    @field_serializer("accepted")
    def _pack_accepted(self, accepted: Sequence[Candidate]) -> dict[str, Any]:
        # ~22 kB of BSON per candidate as a list; MongoDB refuses documents over 16 MB
        return CandidateBatch.of(accepted).as_dict()


class IngestTierDocument(TierDocument):
    """Ingest outcome of one input (accepted or rejected, with the reason).

    Stored as ``tiers.ingest`` in the candidate record.
    """

    tier: str = "ingest"
    source_path: str | None = Field(None, description="File the input was read from.")
    notes: list[str] = Field(default_factory=list, description="What ingest changed.")
