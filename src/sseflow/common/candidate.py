"""The candidate: a structure accepted at ingest, as handed from tier to tier."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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

    @classmethod
    def from_structure(
        cls, structure: Structure, source: SourceInfo | None = None, **ingest_settings: Any
    ) -> Candidate:
        """Return the candidate ingest makes of ``structure`` (same id, same checks).

        Parameters
        ----------
        structure
            A pymatgen Structure (partial occupancies allowed).
        source
            Where it came from; default ``<memory>``.
        ingest_settings
            Fields of :class:`~sseflow.ingest.validation.IngestSettings`.

        Raises
        ------
        ValueError
            When ingest would reject the structure (the message is its reason).

        Examples
        --------
        >>> from pymatgen.core import Lattice, Structure
        >>> li2s = Structure.from_spacegroup(
        ...     "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
        ... )
        >>> candidate = Candidate.from_structure(li2s)
        >>> candidate.formula, candidate.oxidation_states
        ('Li2S', {'Li': 1.0, 'S': -2.0})
        """
        from sseflow.ingest.batch import ingest
        from sseflow.ingest.validation import IngestSettings

        doc = ingest([structure], IngestSettings(**ingest_settings))
        if not doc.accepted:
            raise ValueError(f"not a candidate: {doc.rejected[0].reason}")
        candidate = doc.accepted[0]
        return candidate if source is None else candidate.model_copy(update={"source": source})

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Candidate:
        """Return the candidate of a stored candidate record (to run more tiers on it).

        Raises
        ------
        ValueError
            For a record without a structure (an input rejected at ingest).
        """
        if not record.get("structure"):
            raise ValueError(f"record {record.get('candidate_id')} has no structure")
        sources = record.get("sources") or [{"path": "<store>", "format": "structure"}]
        return cls(
            candidate_id=record["candidate_id"],
            formula=record["formula"],
            structure=Structure.from_dict(record["structure"]),
            oxidation_states=record.get("oxidation_states") or {},
            source=SourceInfo(**sources[0]),
            fingerprint=record.get("fingerprint"),
        )


def as_candidates(value: Any) -> Any:
    """Return ``value`` with pymatgen Structures turned into Candidates (lists too).

    Candidates, their dicts and jobflow output references pass unchanged, so a tier
    Maker's ``make`` can take either (see :class:`~sseflow.common.maker.TierMaker`).
    """
    if isinstance(value, Structure):
        return Candidate.from_structure(value)
    if isinstance(value, list | tuple) and any(isinstance(v, Structure) for v in value):
        return [as_candidates(v) for v in value]
    return value
