"""The candidate: a structure accepted at ingest, as handed from tier to tier."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field
from pymatgen.core import Structure


class SourceInfo(BaseModel):
    """Where an input structure came from."""

    path: str = Field(..., description="File the structure was read from (or '<memory>').")
    format: str = Field(..., description="cif, poscar, json or structure.")
    index: int = Field(0, description="Index of the structure inside a multi-block file.")
    path_bytes_hex: str | None = Field(
        None,
        description="The file name's bytes in hex when they are not valid UTF-8 (``path`` "
        "then shows them as \\x.. escapes); see :meth:`original_path`.",
    )

    @classmethod
    def from_path(cls, path: str | Path, format: str, index: int = 0) -> SourceInfo:
        """Return the source of a file, storable whatever bytes its name holds."""
        raw = os.fsencode(path)
        try:
            return cls(path=raw.decode("utf-8"), format=format, index=index)
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", errors="backslashreplace")
            return cls(path=shown, format=format, index=index, path_bytes_hex=raw.hex())

    def original_path(self) -> str:
        """Return the path as the operating system names it (``os.fsdecode`` form)."""
        if self.path_bytes_hex:
            return os.fsdecode(bytes.fromhex(self.path_bytes_hex))
        return self.path


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
    fingerprint: str | None = Field(
        None, description="Structure fingerprint (space group) indexing duplicate search."
    )
