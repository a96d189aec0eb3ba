"""Stable identities: candidate ids, ids of unreadable inputs, structure fingerprints.

The fingerprint narrows the search for a stored duplicate of a new input.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure


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
        content = path.read_bytes() if path.is_file() else os.fsencode(path)
    except OSError:
        content = os.fsencode(path)
    digest = hashlib.sha256(content + f"#{index}".encode()).hexdigest()[:12]
    return "file-" + digest


def memory_id(structure: Structure) -> str:
    """Return an id for an in-memory structure that failed validation (content hash)."""
    payload = json.dumps(structure.as_dict(), sort_keys=True, default=str)
    return "mem-" + hashlib.sha256(payload.encode()).hexdigest()[:12]


#: spglib tolerance of the fingerprint, A: the noise of refined or perturbed CIFs
#: (e.g. OBELiX's 0.01 in fractional coordinates) must not change the space group.
FINGERPRINT_SYMPREC_ANGSTROM = 0.1


def structure_fingerprint(structure: Structure) -> str:
    """Return a cheap fingerprint that two inputs of one crystal share: ``sg<number>``.

    The space group (spglib, ``symprec`` 0.1 A, partially occupied sites typed by
    their species and occupancies) does not depend on the cell choice, on scaling or
    on small noise, and costs a few ms. Stored records are indexed by formula and
    fingerprint, so ingest compares a new input (StructureMatcher) only with stored
    structures of the same formula and fingerprint, not with every one of the formula.
    A crystal given once ideal and once distorted beyond 0.1 A gets two fingerprints
    and so two candidates; an exact repeat always gets the same id.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        number = SpacegroupAnalyzer(
            structure, symprec=FINGERPRINT_SYMPREC_ANGSTROM
        ).get_space_group_number()
    except Exception:  # spglib found no symmetry at all (or failed): still a fingerprint
        number = 0
    return f"sg{number}"


def structure_matcher() -> StructureMatcher:
    """Return the matcher that decides whether two inputs are the same crystal."""
    # attempt_supercell: the same crystal given in two cell choices is one candidate
    return StructureMatcher(primitive_cell=False, attempt_supercell=True, scale=True)
