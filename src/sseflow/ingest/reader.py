"""Read structure files: CIF, POSCAR/CONTCAR/VASP, pymatgen JSON, or folders of them.

Partial occupancies are kept. A file holding several structures (CIF data blocks, a
JSON list) is read entry by entry: good entries are kept and a bad one becomes its own
:class:`InputError`, whose message is the reason recorded against it. Nothing here
raises anything but :class:`InputError`.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

from pymatgen.core import Structure
from pymatgen.io.cif import CifFile, CifParser

CIF_SUFFIXES = {".cif", ".mcif"}
JSON_SUFFIXES = {".json"}
POSCAR_NAMES = ("POSCAR", "CONTCAR")
POSCAR_SUFFIXES = {".vasp", ".poscar"}
#: Files larger than this are not read (a structure file is kilobytes), MB.
DEFAULT_MAX_FILE_MB = 50.0


class InputError(ValueError):
    """An input that cannot become a candidate; the message is the recorded reason."""


#: One entry of a file: its index and its structure, or why it could not be read.
Entry = tuple[int, Structure | InputError]


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


def read_structures(path: Path, max_file_mb: float = DEFAULT_MAX_FILE_MB) -> list[Entry]:
    """Read every structure in a file, keeping partial occupancies.

    Parameters
    ----------
    path
        The file.
    max_file_mb
        Larger files are refused without being read, MB.

    Returns
    -------
    list of (index, Structure or InputError)
        One entry per structure (CIF data block, JSON list item); an entry that could
        not be read carries the reason instead of a structure.

    Raises
    ------
    InputError
        If the file as a whole cannot be read (missing, unknown type, too large, no
        structure at all).
    """
    kind = _check_file(path, max_file_mb)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if kind == "cif":
                entries = _read_cif(path)
            elif kind == "json":
                entries = _read_json(path)
            else:
                entries = [(0, _read_poscar(path))]
    except InputError:
        raise
    except Exception as exc:  # any parser failure is this file's reason
        raise InputError(_unreadable(kind, exc)) from exc
    if not entries:
        raise InputError(f"no structure found in {kind.upper()} file")
    return entries


def _check_file(path: Path, max_file_mb: float) -> str:
    if not path.is_file():
        what = "broken link" if path.is_symlink() else "file not found"
        raise InputError(f"{what}: {path}")
    kind = file_format(path)
    if kind is None:
        raise InputError(
            f"unsupported file type '{path.suffix or path.name}' (use CIF, POSCAR or JSON)"
        )
    try:
        size_mb = path.stat().st_size / 1e6
    except OSError as exc:
        raise InputError(f"cannot read {kind.upper()} file: {exc.strerror}") from exc
    if size_mb > max_file_mb:
        raise InputError(f"file is {size_mb:.0f} MB, larger than max_file_mb={max_file_mb:g}")
    return kind


#: Parser messages that have a plainer explanation.
_EXPLAINED = {
    "is not a multiple of": "a loop's values do not fill its columns (truncated file?)",
    "Invalid CIF file with no structures": "no structure in the file",
}


def _unreadable(kind: str, exc: BaseException) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    for fragment, plain in _EXPLAINED.items():
        if fragment in message:
            return f"unreadable {kind.upper()} file: {plain} ({message[:120]})"
    return f"unreadable {kind.upper()} file: {type(exc).__name__}: {message}"[:300]


def _read_text(path: Path) -> str:
    """Return the file's text; bytes that are not UTF-8 are read as Latin-1."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}") from exc
    if b"\x00" in data:
        raise InputError("binary file (NUL bytes), not a text structure file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_CELL_LENGTH = re.compile(r"^_cell_length_([abc])$")


def _cif_block_problem(block: dict) -> str | None:
    """Return why a CIF block's cell is impossible, or None."""
    for key, value in block.items():
        match = _CELL_LENGTH.match(str(key))
        if match is None or isinstance(value, list):
            continue
        try:
            length = float(re.sub(r"\(\d+\)$", "", str(value)))
        except ValueError:
            return f"cell length {match.group(1)} = {value!r} is not a number"
        if not math.isfinite(length) or length <= 0:
            return f"cell length {match.group(1)} = {value} A is not a positive number"
    return None


def _read_cif(path: Path) -> list[Entry]:
    text = _read_text(path)
    blocks = CifFile.from_str(text).data
    if not blocks:
        raise InputError("unreadable CIF file: no data block")
    entries: list[Entry] = []
    for index, (name, block) in enumerate(blocks.items()):
        if not any(str(key).startswith("_atom_site_") for key in block.data):
            continue  # a block of metadata only (e.g. data_global of a journal CIF)
        where = f"data block {index} ('{name}')" if len(blocks) > 1 else ""
        problem = _cif_block_problem(block.data)
        if problem is not None:
            entries.append((index, InputError(f"{where}: {problem}" if where else problem)))
            continue
        try:
            # occupancy_tolerance 1.0: keep refined occupancies as they are written
            parser = CifParser.from_str(str(block), occupancy_tolerance=1.0)
            structures = parser.parse_structures(primitive=False, on_error="raise")
            if not structures:
                raise ValueError("no structure in block")
            entries.append((index, structures[0]))
        except Exception as exc:
            reason = _unreadable("cif", exc)
            entries.append((index, InputError(f"{where}: {reason}" if where else reason)))
    if not entries:
        raise InputError("unreadable CIF file: no data block with atom sites")
    return entries


def _read_json(path: Path) -> list[Entry]:
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise InputError(_unreadable("json", exc)) from exc
    items = data if isinstance(data, list) else [data]
    entries: list[Entry] = []
    for index, item in enumerate(items):
        try:
            entries.append((index, Structure.from_dict(item)))
        except Exception as exc:
            reason = _unreadable("json", exc)
            if len(items) > 1:
                reason = f"item {index}: {reason}"
            entries.append((index, InputError(reason)))
    return entries


def _poscar_problem(text: str) -> str | None:
    """Return why a POSCAR is truncated, or None (only used to explain a parse failure)."""
    lines = [line.split() for line in text.splitlines()]
    if len(lines) < 7:
        return f"POSCAR ends after {len(lines)} lines (a header of at least 7 is needed)"
    counts_line = 6 if lines[5] and not lines[5][0].lstrip("-").isdigit() else 5
    try:
        n_sites = sum(int(x) for x in lines[counts_line])
    except (ValueError, IndexError):
        return f"line {counts_line + 1} should hold the number of atoms of each species"
    first = counts_line + 1
    if first < len(lines) and lines[first] and lines[first][0][0] in "sS":
        first += 1  # selective dynamics
    first += 1  # Direct / Cartesian
    coordinates = [row for row in lines[first : first + n_sites] if len(row) >= 3]
    if len(coordinates) < n_sites:
        return f"POSCAR lists {len(coordinates)} of its {n_sites} sites (truncated file?)"
    return None


def _read_poscar(path: Path) -> Structure:
    text = _read_text(path)
    try:
        return Structure.from_str(text, fmt="poscar")
    except Exception as exc:
        problem = _poscar_problem(text)
        raise InputError(
            f"unreadable POSCAR file: {problem}" if problem else _unreadable("poscar", exc)
        ) from exc
