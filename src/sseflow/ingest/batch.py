"""Read, validate, identify and de-duplicate input structures.

Inputs may be CIF, POSCAR/CONTCAR/VASP, pymatgen JSON (a Structure dict or a list of
them), a folder of such files, or in-memory Structures. Partial occupancies are kept.
Every input ends as exactly one of: an accepted :class:`Candidate`, a duplicate of an
accepted candidate, or a :class:`RejectedInput` with a reason. Nothing raises on bad
input: the batch goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pymatgen.core import Structure

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.ingest.identity import candidate_id, file_id, structure_matcher
from sseflow.ingest.oxidation import (
    OxidationStateError,
    decorate_with_oxidation_states,
    guess_oxidation_states,
)
from sseflow.ingest.reader import InputError, expand_inputs, file_format, read_structures
from sseflow.ingest.schemas import DuplicateInput, IngestDocument, RejectedInput
from sseflow.ingest.validation import IngestSettings, validate_structure


def ingest(
    inputs: Sequence[str | Path | Structure],
    settings: IngestSettings | None = None,
    known: Callable[[str], list[tuple[str, Structure]]] | None = None,
) -> IngestDocument:
    """Turn raw inputs into accepted candidates, duplicates and rejections.

    Parameters
    ----------
    inputs
        Paths (files or folders) and/or Structures.
    settings
        Validation rules.
    known
        Optional look-up ``formula -> [(candidate_id, structure), ...]`` of candidates
        already in the database; a new input matching one of them (StructureMatcher)
        reuses its id, so ids stay stable across runs and cell choices.

    Returns
    -------
    IngestDocument
    """
    settings = settings or IngestSettings()
    doc = IngestDocument(settings=dict(vars(settings)))
    entries: list[tuple[SourceInfo, Structure | None, Path | None]] = []
    for item in inputs:
        if isinstance(item, Structure):
            entries.append((SourceInfo(path="<memory>", format="structure"), item, None))
            continue
        for path in expand_inputs([item]):
            kind = file_format(path) or "unknown"
            try:
                for index, structure in read_structures(path):
                    entries.append(
                        (SourceInfo(path=str(path), format=kind, index=index), structure, path)
                    )
            except InputError as exc:
                source = SourceInfo(path=str(path), format=kind)
                doc.rejected.append(
                    RejectedInput(candidate_id=file_id(path), source=source, reason=str(exc))
                )

    matcher = structure_matcher()
    accepted: dict[str, list[Structure]] = {}  # formula -> structures accepted in this batch
    by_formula_ids: dict[str, list[str]] = {}
    for source, structure, _path in entries:
        assert structure is not None
        formula = structure.composition.reduced_formula
        try:
            validate_structure(structure, settings)
        except InputError as exc:
            doc.rejected.append(
                RejectedInput(
                    candidate_id=candidate_id(structure)
                    if len(structure)
                    else file_id(Path(source.path), source.index),
                    source=source,
                    reason=str(exc),
                    formula=formula or None,
                )
            )
            continue
        # duplicates within this batch
        duplicate_of = None
        for other, other_id in zip(
            accepted.get(formula, []), by_formula_ids.get(formula, []), strict=True
        ):
            if matcher.fit(structure, other):
                duplicate_of = other_id
                break
        if duplicate_of:
            doc.duplicates.append(DuplicateInput(candidate_id=duplicate_of, source=source))
            continue
        cid = candidate_id(structure)
        if known is not None:
            for known_id, known_structure in known(formula):
                if known_id == cid or matcher.fit(structure, known_structure):
                    cid = known_id
                    break
        try:
            states = guess_oxidation_states(
                structure.composition, tolerance=settings.oxidation_tolerance
            )
        except OxidationStateError as exc:
            doc.rejected.append(
                RejectedInput(candidate_id=cid, source=source, reason=str(exc), formula=formula)
            )
            continue
        decorated = decorate_with_oxidation_states(structure, states)
        doc.accepted.append(
            Candidate(
                candidate_id=cid,
                formula=formula,
                structure=decorated,
                oxidation_states=states,
                source=source,
            )
        )
        accepted.setdefault(formula, []).append(structure)
        by_formula_ids.setdefault(formula, []).append(cid)
    return doc
