"""Stable identities: the candidate id of a structure, the id of an unreadable file."""

from __future__ import annotations

import hashlib
import json
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
        content = path.read_bytes()
    except OSError:
        content = str(path).encode()
    digest = hashlib.sha256(content + f"#{index}".encode()).hexdigest()[:12]
    return "file-" + digest


def structure_matcher() -> StructureMatcher:
    """Return the matcher that decides whether two inputs are the same crystal."""
    # attempt_supercell: the same crystal given in two cell choices is one candidate
    return StructureMatcher(primitive_cell=False, attempt_supercell=True, scale=True)
