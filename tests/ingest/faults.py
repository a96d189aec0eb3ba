"""A corpus of broken and hostile input files, written into a folder by :func:`write_corpus`.

Each entry names a file and what ingest must say about it (a fragment of the recorded
reason, or ``None`` for an input that must be accepted). Used by the ingest fault tests
and the soak test.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

GOOD_LI2S = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
)
GOOD_LI2O = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(4.61), ["Li", "O"], [[0.25, 0.25, 0.25], [0, 0, 0]]
)


@dataclass(frozen=True)
class Fault:
    """One corpus file and the outcome ingest must record for it."""

    name: str | bytes  # bytes: a file name that is not valid UTF-8
    expect: str | None  # fragment of the rejection reason; None = accepted


def _poscar(lattice: list[list[float | str]], coords: list[list[float | str]]) -> str:
    rows = "\n".join(" ".join(str(x) for x in row) for row in lattice)
    sites = "\n".join(" ".join(str(x) for x in row) for row in coords)
    return f"Li2S\n1.0\n{rows}\nLi S\n2 1\ndirect\n{sites}\n"


PRIMITIVE = [[0.0, 2.855, 2.855], [2.855, 0.0, 2.855], [2.855, 2.855, 0.0]]
LI2S_COORDS = [[0.25, 0.25, 0.25], [0.75, 0.75, 0.75], [0.0, 0.0, 0.0]]


def write_corpus(folder: Path) -> list[Fault]:
    """Write the fault corpus into ``folder``; return what each file must become."""
    folder.mkdir(parents=True, exist_ok=True)
    good_cif = str(CifWriter(GOOD_LI2S))
    faults: list[Fault] = []

    def add(name: str, text: str | bytes, expect: str | None) -> None:
        path = folder / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        faults.append(Fault(name, expect))

    add("ok_li2s.cif", good_cif, None)
    add("zero_vector.vasp", _poscar([[0, 0, 0], *PRIMITIVE[1:]], LI2S_COORDS), "lattice")
    add(
        "negative_length.cif",
        good_cif.replace("_cell_length_a   5.71", "_cell_length_a   -5.71"),
        "cell length",
    )
    nan_li = [["nan", 0.25, 0.25], *LI2S_COORDS[1:]]
    add("nan_li.vasp", _poscar(PRIMITIVE, nan_li), "not finite")
    nan_s = [*LI2S_COORDS[:2], [0.0, "nan", 0.0]]
    add("nan_framework.vasp", _poscar(PRIMITIVE, nan_s), "not finite")
    add(
        "inf_lattice.vasp",
        _poscar([["inf", 2.855, 2.855], *PRIMITIVE[1:]], LI2S_COORDS),
        "not finite",
    )
    left = [PRIMITIVE[1], PRIMITIVE[0], PRIMITIVE[2]]  # two vectors swapped: left-handed
    add("left_handed.vasp", _poscar(left, LI2S_COORDS), None)
    add(
        "flat_cell.vasp",
        _poscar([PRIMITIVE[0], PRIMITIVE[1], [1.4275, 1.4275, 2.855]], LI2S_COORDS),
        "lattice",
    )
    lines = good_cif.splitlines()
    add("truncated.cif", "\n".join(lines[: len(lines) - 1]) + "\n  Li  Li0  8  0.25", "truncated")
    add("truncated.vasp", _poscar(PRIMITIVE, LI2S_COORDS[:2]), "truncated")
    add("truncated.json", json.dumps(GOOD_LI2S.as_dict())[:400], "unreadable JSON")
    add("empty.cif", "", "no data block")
    add("garbage.cif", bytes(range(256)) * 8, "binary file")
    add("latin1_content.cif", good_cif.replace("Li2S", "Li2S caf\xe9").encode("latin-1"), None)
    bad_block = "data_broken\n_cell_length_a 5.0\nloop_\n_atom_site_label\nLi1\n"
    add("multi_block.cif", good_cif + "\n" + bad_block + "\n" + str(CifWriter(GOOD_LI2O)), None)
    huge = GOOD_LI2S * (8, 8, 8)  # 6144 sites > max_atoms
    add("too_many_sites.json", json.dumps(huge.as_dict()), "max_atoms")
    vacuum = Structure(
        Lattice.cubic(400.0),
        ["Li", "Li", "S"],
        [[0, 0, 0], [0.006, 0.006, 0.006], [0.003, 0.003, 0.003]],
    )
    add("huge_vacuum.json", json.dumps(vacuum.as_dict()), "per site")
    no_li = Structure(Lattice.cubic(4.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    add("no_li.json", json.dumps(no_li.as_dict()), "no Li")
    overlap = Structure(
        Lattice.cubic(5.0), ["Li", "Li", "S"], [[0, 0, 0], [0.01, 0, 0], [0.5, 0.5, 0.5]]
    )
    add("overlap.json", json.dumps(overlap.as_dict()), "overlapping")
    add("not_a_structure.json", json.dumps({"hello": "world"}), "unreadable JSON")
    (folder / "dangling_link.cif").symlink_to(folder / "does-not-exist.cif")
    faults.append(Fault("dangling_link.cif", "broken link"))
    (folder / "a_folder.cif").mkdir()  # a folder with a structure suffix: skipped by globbing
    bad_name = b"bad_\xff\xfe_name.cif"
    (folder / os.fsdecode(bad_name)).write_text(good_cif)  # surrogate escapes = the bytes
    faults.append(Fault(bad_name, None))
    return faults
