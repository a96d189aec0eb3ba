"""Read, validate, identify and de-duplicate input structures.

Inputs may be CIF, POSCAR/CONTCAR/VASP, pymatgen JSON (a Structure dict or a list of
them), a folder of such files, or in-memory Structures. Partial occupancies are kept.
Every input ends as exactly one of: an accepted :class:`Candidate`, a duplicate of an
accepted candidate, or a :class:`RejectedInput` with a reason. Nothing raises on bad
input: the batch goes on.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure
from pymatgen.io.cif import CifParser

from sseflow.analysis.oxidation import (
    OxidationStateError,
    decorate_with_oxidation_states,
    guess_oxidation_states,
)
from sseflow.schemas.candidate import Candidate, SourceInfo
from sseflow.schemas.ingest import DuplicateInput, IngestDocument, RejectedInput

CIF_SUFFIXES = {".cif", ".mcif"}
JSON_SUFFIXES = {".json"}
POSCAR_NAMES = ("POSCAR", "CONTCAR")
POSCAR_SUFFIXES = {".vasp", ".poscar"}


class InputError(ValueError):
    """An input that cannot become a candidate; the message is the recorded reason."""


@dataclass(frozen=True)
class IngestSettings:
    """Rules that decide which inputs become candidates.

    Parameters
    ----------
    max_atoms
        Largest number of sites accepted (absurd inputs beyond this are rejected).
    min_volume_per_atom_a3
        Smallest volume per site, A^3; below it the lattice is degenerate.
    min_distance_angstrom
        Smallest allowed distance between two sites that are not the same site shared
        by partial occupancies, A.
    max_pair_occupancy
        Two sites closer than ``min_distance_angstrom`` are accepted as split-site
        disorder while their occupancies sum to at most this (refined occupancies
        overshoot 1 slightly).
    oxidation_tolerance
        Residual charge tolerated by the oxidation-state guess (fraction of positive charge).
    """

    max_atoms: int = 1000
    min_volume_per_atom_a3: float = 1.0
    min_distance_angstrom: float = 0.5
    oxidation_tolerance: float = 0.03
    max_pair_occupancy: float = 1.1


def file_format(path: Path) -> str | None:
    """Return 'cif', 'poscar' or 'json' for a supported file, else None."""
    suffix = path.suffix.lower()
    if suffix in CIF_SUFFIXES:
        return "cif"
    if suffix in JSON_SUFFIXES:
        return "json"
    if suffix in POSCAR_SUFFIXES or path.name.startswith(POSCAR_NAMES):
        return "poscar"
    return None


def expand_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders (recursively, supported files only) and keep files as given.

    Files named explicitly are kept even with an unknown suffix, so that they are
    reported as rejected instead of silently skipped. The result is sorted within each
    folder so that runs are reproducible.
    """
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and file_format(p)))
        else:
            out.append(path)
    return out


def read_structures(path: Path) -> list[tuple[int, Structure]]:
    """Read every structure in a file, keeping partial occupancies.

    Raises
    ------
    InputError
        If the file is missing, of an unknown type, or unreadable.
    """
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    kind = file_format(path)
    if kind is None:
        raise InputError(
            f"unsupported file type '{path.suffix or path.name}' (use CIF, POSCAR or JSON)"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "cif":
                # occupancy_tolerance 1.0: keep refined occupancies as they are written
                parser = CifParser(path, occupancy_tolerance=1.0)
                structures = parser.parse_structures(primitive=False, on_error="raise")
            elif kind == "json":
                data = json.loads(path.read_text())
                items = data if isinstance(data, list) else [data]
                structures = [Structure.from_dict(item) for item in items]
            else:
                structures = [Structure.from_file(path)]
    except Exception as exc:
        raise InputError(f"unreadable {kind.upper()} file: {type(exc).__name__}: {exc}") from exc
    if not structures:
        raise InputError(f"no structure found in {kind.upper()} file")
    return list(enumerate(structures))


def validate_structure(structure: Structure, settings: IngestSettings) -> None:
    """Raise :class:`InputError` if the structure cannot be screened.

    Checks: not empty, a real 3D lattice, not more than ``max_atoms`` sites, no two
    distinct sites closer than ``min_distance_angstrom``, and Li present.
    """
    if len(structure) == 0:
        raise InputError("empty structure (no sites)")
    volume = structure.lattice.volume
    if not math.isfinite(volume) or volume < settings.min_volume_per_atom_a3 * len(structure):
        raise InputError(f"no valid 3D lattice (cell volume {volume:.3g} A^3)")
    if len(structure) > settings.max_atoms:
        raise InputError(f"{len(structure)} sites exceed max_atoms={settings.max_atoms}")
    if structure.composition["Li"] <= 0:
        raise InputError("no Li in the structure")
    if len(structure) > 1:
        # Split sites of disordered crystals sit closer than any bond; they are fine as
        # long as their occupancies cannot coexist (sum <= ~1). Two sites that would both
        # be occupied at once closer than min_distance_angstrom are overlapping atoms.
        dmat = structure.distance_matrix
        occupancy = [site.species.num_atoms for site in structure]
        close = zip(*((dmat < settings.min_distance_angstrom).nonzero()), strict=True)
        for i, j in close:
            if i < j and occupancy[i] + occupancy[j] > settings.max_pair_occupancy:
                raise InputError(
                    f"sites {i} and {j} are only {dmat[i, j]:.3f} A apart with total "
                    f"occupancy {occupancy[i] + occupancy[j]:.2f} > "
                    f"{settings.max_pair_occupancy}: overlapping atoms"
                )


def candidate_id(structure: Structure) -> str:
    """Return a stable id: the same structure gives the same id in every run.

    The id hashes the Niggli-reduced lattice and the sorted site list (species with
    occupancies, fractional coordinates wrapped into [0, 1)), rounded so that
    floating-point noise from reading does not change it. Oxidation states are ignored.
    """
    reduced = structure.copy()
    reduced.remove_oxidation_states()
    reduced = reduced.get_reduced_structure()
    lattice = [round(x, 3) for x in (*reduced.lattice.abc, *reduced.lattice.angles)]
    sites = sorted(
        (
            ",".join(f"{sp}:{occ:.3f}" for sp, occ in sorted(site.species.items())),
            tuple(round(c % 1.0, 3) % 1.0 for c in site.frac_coords),
        )
        for site in reduced
    )
    payload = json.dumps({"lattice": lattice, "sites": sites}, sort_keys=True)
    return "sse-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


def file_id(path: Path, index: int = 0) -> str:
    """Return an id for an input that never became a structure (content hash)."""
    try:
        content = path.read_bytes()
    except OSError:
        content = str(path).encode()
    digest = hashlib.sha256(content + f"#{index}".encode()).hexdigest()[:12]
    return "file-" + digest


def _matcher() -> StructureMatcher:
    # attempt_supercell: the same crystal given in two cell choices is one candidate
    return StructureMatcher(primitive_cell=False, attempt_supercell=True, scale=True)


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

    matcher = _matcher()
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
