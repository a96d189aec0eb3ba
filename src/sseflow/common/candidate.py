"""The candidate: a structure accepted at ingest, as handed from tier to tier."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pymatgen.core import Structure


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
