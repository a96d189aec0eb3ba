"""Candidate documents: the structure passed between tiers and the stored record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from pymatgen.core import Structure

from sseflow.schemas.tier import TierStatus


class SourceInfo(BaseModel):
    """Where an input structure came from."""

    path: str = Field(..., description="File the structure was read from (or '<memory>').")
    format: str = Field(..., description="cif, poscar, json or structure.")
    index: int = Field(0, description="Index of the structure inside a multi-block file.")


class Candidate(BaseModel):
    """A structure accepted at ingest, as handed from tier to tier.

    ``structure`` keeps partial occupancies and carries oxidation states guessed from
    the composition.
    """

    candidate_id: str = Field(..., description="Stable id (same structure -> same id).")
    formula: str = Field(..., description="Reduced formula, e.g. 'Li3N'.")
    structure: Structure = Field(..., description="Oxidation-state decorated structure.")
    oxidation_states: dict[str, float] = Field(
        ..., description="Element -> oxidation state guessed from the composition."
    )
    source: SourceInfo


class CandidateRecord(BaseModel):
    """One document per structure in the ``candidates`` collection.

    ``tiers`` maps a tier name (``ingest``, ``bvse``, ...) to that tier's document
    (a :class:`~sseflow.schemas.tier.TierDocument` subclass, stored as a dict).
    """

    candidate_id: str
    formula: str | None = Field(None, description="Reduced formula.")
    chemsys: str | None = Field(None, description="Elements joined by '-', sorted.")
    elements: list[str] = Field(default_factory=list, description="Sorted element symbols.")
    nsites: int | None = Field(None, description="Number of sites in the stored cell.")
    is_ordered: bool | None = Field(None, description="False when any site is partial.")
    structure: dict[str, Any] | None = Field(None, description="pymatgen Structure.as_dict().")
    oxidation_states: dict[str, float] | None = None
    sources: list[SourceInfo] = Field(default_factory=list, description="All merged inputs.")
    status: TierStatus = Field(TierStatus.PENDING, description="Overall funnel status.")
    last_tier: str | None = Field(None, description="Furthest tier the candidate reached.")
    reason: str | None = Field(None, description="Why it left the funnel, if it did.")
    tiers: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sseflow_version: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
