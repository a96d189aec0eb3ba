"""Read structure files: CIF, POSCAR/CONTCAR/VASP, pymatgen JSON, or folders of them.

Partial occupancies are kept. A file that cannot be read raises :class:`InputError`
whose message is the reason recorded against it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

from pymatgen.core import Structure
from pymatgen.io.cif import CifParser

CIF_SUFFIXES = {".cif", ".mcif"}
JSON_SUFFIXES = {".json"}
POSCAR_NAMES = ("POSCAR", "CONTCAR")
POSCAR_SUFFIXES = {".vasp", ".poscar"}


class InputError(ValueError):
    """An input that cannot become a candidate; the message is the recorded reason."""


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
