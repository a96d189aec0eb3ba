"""Read, validate, identify and de-duplicate input structures.

Inputs may be CIF, POSCAR/CONTCAR/VASP, pymatgen JSON (a Structure dict or a list of
them), a folder of such files, or in-memory Structures. Partial occupancies are kept.
Every input (every CIF data block, every JSON list item) ends as exactly one of: an
accepted :class:`Candidate`, a duplicate of an accepted candidate, or a
:class:`RejectedInput` with a reason. Each input is handled on its own and nothing
raises on bad input: an unexpected error while checking one input becomes that input's
rejection, and the batch goes on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from pymatgen.core import Structure

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.ingest.identity import (
    candidate_id,
    file_id,
    memory_id,
    structure_fingerprint,
    structure_matcher,
)
from sseflow.ingest.oxidation import (
    OxidationStateError,
    decorate_with_oxidation_states,
    guess_oxidation_states,
)
from sseflow.ingest.reader import InputError, expand_inputs, file_format, read_structures
from sseflow.ingest.schemas import DuplicateInput, IngestDocument, RejectedInput
from sseflow.ingest.validation import (
    IngestSettings,
    check_geometry,
    right_handed,
    validate_structure,
)

#: Look-up of stored candidates: (formula, fingerprint, candidate id of the new input)
#: -> [(candidate_id, structure)]. The structure may be None for a stored candidate
#: whose id is the new input's own (an exact repeat needs no comparison).
KnownLookup = Callable[[str, str, str], Iterable[tuple[str, Structure | None]]]


def ingest(
    inputs: Sequence[str | Path | Structure],
    settings: IngestSettings | None = None,
    known: KnownLookup | None = None,
) -> IngestDocument:
    """Turn raw inputs into accepted candidates, duplicates and rejections.

    Parameters
    ----------
    inputs
        Paths (files or folders) and/or Structures.
    settings
        Validation rules.
    known
        Optional look-up ``(formula, fingerprint, candidate_id) ->
        [(candidate_id, structure), ...]`` of candidates already in the database; a new
        input with the same id, or matching one of them (StructureMatcher), reuses its
        id, so ids stay stable across runs and cell choices. Only stored candidates of
        the same formula and fingerprint are asked for (see
        :func:`~sseflow.ingest.identity.structure_fingerprint`).

    Returns
    -------
    IngestDocument
    """
    settings = settings or IngestSettings()
    batch = _Batch(settings, known)
    for item in inputs:
        if isinstance(item, Structure):
            batch.add(SourceInfo(path="<memory>", format="structure"), item, None)
            continue
        try:
            paths = expand_inputs([item])
        except OSError as exc:  # e.g. a folder that cannot be listed
            source = SourceInfo.from_path(item, "unknown")
            batch.reject(source, file_id(Path(item)), f"cannot list {source.path}: {exc}")
            continue
        for path in paths:
            kind = file_format(path) or "unknown"
            try:
                entries = read_structures(path, settings.max_file_mb)
            except InputError as exc:
                batch.reject(SourceInfo.from_path(path, kind), file_id(path), str(exc))
                continue
            for index, entry in entries:
                source = SourceInfo.from_path(path, kind, index)
                if isinstance(entry, InputError):
                    batch.reject(source, file_id(path, index), str(entry))
                else:
                    batch.add(source, entry, path)
    batch.doc.accepted = batch.candidates
    return batch.doc


class _Batch:
    """The decisions of one ingest run, input by input."""

    def __init__(self, settings: IngestSettings, known: KnownLookup | None):
        self.settings = settings
        self.known = known
        self.candidates: list[Candidate] = []  # accepted, in input order
        self.doc = IngestDocument(settings=dict(vars(settings)))
        self.matcher = structure_matcher()
        # (formula, fingerprint) -> [(candidate_id, structure)] accepted in this batch;
        # the structure is the candidate's own (oxidation-decorated; StructureMatcher
        # fits it to an undecorated input), not a second copy of every accepted input
        self.accepted: dict[tuple[str, str], list[tuple[str, Structure]]] = {}
        self.accepted_ids: set[str] = set()

    def reject(self, source: SourceInfo, cid: str, reason: str, formula: str | None = None) -> None:
        self.doc.rejected.append(
            RejectedInput(candidate_id=cid, source=source, reason=reason, formula=formula)
        )

    def add(self, source: SourceInfo, structure: Structure, path: Path | None) -> None:
        """Decide one input; any unexpected error becomes its rejection."""
        fallback_id = file_id(path, source.index) if path is not None else None
        try:
            self._add(source, structure, path)
        except Exception as exc:  # the batch must go on: this input is rejected
            last = traceback.extract_tb(exc.__traceback__)[-1]
            try:
                cid = fallback_id or memory_id(structure)
            except Exception:
                cid = "mem-unidentifiable"
            self.reject(
                source,
                cid,
                f"could not check this input: {type(exc).__name__}: {exc} "
                f"(at {Path(last.filename).name}:{last.lineno})",
            )

    def _add(self, source: SourceInfo, structure: Structure, path: Path | None) -> None:
        def content_id() -> str:
            return file_id(path, source.index) if path is not None else memory_id(structure)

        try:
            check_geometry(structure)
        except InputError as exc:
            self.reject(source, content_id(), str(exc))
            return
        structure, flipped = right_handed(structure)
        formula = structure.composition.reduced_formula
        try:
            validate_structure(structure, self.settings)
        except InputError as exc:
            small = len(structure) <= self.settings.max_atoms
            self.reject(
                source,
                candidate_id(structure) if small else content_id(),
                str(exc),
                formula or None,
            )
            return
        cid = candidate_id(structure)
        # the same id is the same structure, even where StructureMatcher does not fit or
        # the fingerprint differs (20 pairs of identical disordered garnets in the
        # 26,000-structure run were accepted twice: found in different buckets)
        if cid in self.accepted_ids:
            self.doc.duplicates.append(DuplicateInput(candidate_id=cid, source=source))
            return
        fingerprint = structure_fingerprint(structure)
        bucket = self.accepted.setdefault((formula, fingerprint), [])
        for other_id, other in bucket:
            if self.matcher.fit(structure, other):
                self.doc.duplicates.append(DuplicateInput(candidate_id=other_id, source=source))
                return
        if self.known is not None:
            for known_id, known_structure in self.known(formula, fingerprint, cid):
                if known_id == cid or (
                    known_structure is not None and self.matcher.fit(structure, known_structure)
                ):
                    cid = known_id
                    break
            if cid in self.accepted_ids:  # a stored candidate this batch has accepted already
                self.doc.duplicates.append(DuplicateInput(candidate_id=cid, source=source))
                return
        try:
            states = guess_oxidation_states(
                structure.composition, tolerance=self.settings.oxidation_tolerance
            )
        except OxidationStateError as exc:
            self.reject(source, cid, str(exc), formula)
            return
        candidate = Candidate(
            candidate_id=cid,
            formula=formula,
            structure=decorate_with_oxidation_states(structure, states),
            oxidation_states=states,
            source=source,
            fingerprint=fingerprint,
        )
        self.candidates.append(candidate)
        self.accepted_ids.add(cid)
        if flipped:
            self.doc.notes.setdefault(cid, []).append(
                "left-handed cell: first two lattice vectors swapped (atoms unchanged)"
            )
        bucket.append((cid, candidate.structure))
