"""Conductivity label tables: one reader for the OBELiX CSV and for simple user tables.

Every command that needs measured conductivities (``sseflow cluster --labels``,
``sseflow train``, ``sseflow evaluate``, the training flow, the benchmarks) reads them
with :func:`load_label_table`, which accepts two forms of CSV:

- **OBELiX as published**: columns ``ID`` and ``Ionic conductivity (S cm-1)`` (plus
  ``Reduced Composition`` and the other OBELiX columns); the structure of row ``X`` is
  ``X.cif`` beside the CSV or in ``cifs/`` beside it. Rows without a CIF keep their
  composition (``Reduced Composition``; a trailing ``*`` is stripped).
- **Simple**: columns ``id`` and ``sigma_s_per_cm``, and for the structure either
  ``cif_path`` (or ``cif``; any file pymatgen reads, relative paths resolved against the
  CSV's folder), ``structure`` (a pymatgen Structure as JSON) or, when both are empty
  or absent, ``<id>.cif`` beside the CSV or in ``cifs/``. An optional ``composition``
  column gives the composition of rows without a structure.

Upper bounds. An entry ``"<x"`` (OBELiX has ``"<1E-10"`` and ``"<1E-8"``) is read as
the value ``x`` itself and flagged in ``is_upper_bound``. It is used as that value
everywhere: as ``log10 sigma`` in clustering and W_sigma, and for the superionic class
(``sigma >= 1e-4 S/cm``), where it is therefore "not superionic". A bound above the
class threshold cannot decide the class, so such a row is rejected with its line named.

Validation. Every conductivity must be a finite number in (0, 1] S/cm (no Li
conductor reaches 1 S/cm at room temperature; a larger value is a unit mistake such as
mS/cm or S/m); ids must be unique; a named structure file must exist and parse. Each
error names the file, the line and the id.

The package ships the OBELiX training split (CC BY 4.0; Therrien et al. 2025,
arXiv:2502.14234; see ``sseflow/data/obelix/README.md``): 478 rows, 254 with a CIF.
:func:`load_obelix_labels` returns the 254 with a structure (what clustering needs),
:func:`load_obelix_table` all 478.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
from pymatgen.core import Composition, DummySpecies, Structure

from sseflow.common.paths import shipped_data

OBELIX_SIGMA_COLUMN = "Ionic conductivity (S cm-1)"
OBELIX_COMPOSITION_COLUMN = "Reduced Composition"
OBELIX_CITATION = (
    "F. Therrien et al., OBELiX: A Curated Dataset of Crystal Structures and Experimental "
    "Properties for Lithium-Ion Conductors (2025), arXiv:2502.14234; CC BY 4.0"
)
#: Superionic class boundary of the reference work (room-temperature Li-ion conductivity).
SUPERIONIC_THRESHOLD_S_PER_CM = 1e-4
#: Largest conductivity accepted (S/cm); above it a value is taken for a unit mistake.
MAX_SIGMA_S_PER_CM = 1.0

_ID_COLUMNS = ("id", "ID")
_SIGMA_COLUMNS = ("sigma_s_per_cm", OBELIX_SIGMA_COLUMN)
_PATH_COLUMNS = ("cif_path", "cif")
_COMPOSITION_COLUMNS = ("composition", OBELIX_COMPOSITION_COLUMN)


class LabelTableError(ValueError):
    """A label table is malformed (the message names the file, line and id)."""


@dataclass
class LabelTable:
    """Measured conductivities with a structure and/or a composition per entry.

    Attributes
    ----------
    ids
        Unique label ids.
    structures
        One structure per id (partial occupancies allowed), ``None`` where the table
        gives only a composition.
    sigma_s_per_cm
        Room-temperature ionic conductivity, S/cm (the bound itself for upper bounds).
    is_upper_bound
        True where the source gave only an upper bound.
    compositions
        One composition per id (from the structure when there is one).
    formulas
        Reduced formulas (for display).
    source
        Where the labels came from (path or data set name + citation).
    """

    ids: list[str]
    structures: list[Structure | None]
    sigma_s_per_cm: np.ndarray
    is_upper_bound: np.ndarray
    compositions: list[Composition] = field(default_factory=list)
    formulas: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        """Fill compositions and formulas; check lengths, uniqueness and values."""
        n = len(self.ids)
        self.sigma_s_per_cm = np.asarray(self.sigma_s_per_cm, dtype=float)
        self.is_upper_bound = np.asarray(self.is_upper_bound, dtype=bool)
        if not self.compositions:
            if any(s is None for s in self.structures):
                raise LabelTableError("entries without a structure need a composition")
            # every structure is set (checked just above); the filter only narrows the type
            self.compositions = [s.composition for s in self.structures if s is not None]
        if not (
            len(self.structures)
            == len(self.sigma_s_per_cm)
            == len(self.is_upper_bound)
            == len(self.compositions)
            == n
        ):
            raise LabelTableError(
                "ids, structures, compositions and conductivities differ in length"
            )
        if len(set(self.ids)) != n:
            raise LabelTableError("label ids are not unique")
        if np.any(~(self.sigma_s_per_cm > 0)):
            raise LabelTableError("conductivities must be positive numbers (S/cm)")
        if not self.formulas:
            self.formulas = [c.reduced_formula for c in self.compositions]

    def __len__(self) -> int:
        """Return the number of labels."""
        return len(self.ids)

    @property
    def log10_sigma(self) -> np.ndarray:
        """Return log10 of the conductivity in S/cm."""
        return np.log10(self.sigma_s_per_cm)

    @property
    def labels(self) -> np.ndarray:
        """Return the superionic class: 1 where ``sigma >= 1e-4 S/cm``, else 0."""
        return superionic_labels(self.sigma_s_per_cm)

    @property
    def has_structure(self) -> np.ndarray:
        """Return a boolean mask of the entries that have a structure."""
        return np.array([s is not None for s in self.structures], dtype=bool)

    def subset(self, keep: Sequence[str]) -> LabelTable:
        """Return a table with only the ids in ``keep`` (in this table's order)."""
        wanted = set(keep)
        return self._rows([i for i, label_id in enumerate(self.ids) if label_id in wanted])

    def with_structures(self) -> LabelTable:
        """Return the entries that have a structure."""
        return self._rows(np.flatnonzero(self.has_structure).tolist())

    def _rows(self, rows: list[int]) -> LabelTable:
        return LabelTable(
            ids=[self.ids[i] for i in rows],
            structures=[self.structures[i] for i in rows],
            sigma_s_per_cm=self.sigma_s_per_cm[rows],
            is_upper_bound=self.is_upper_bound[rows],
            compositions=[self.compositions[i] for i in rows],
            formulas=[self.formulas[i] for i in rows],
            source=self.source,
        )


def parse_conductivity(text: str) -> tuple[float, bool]:
    """Parse a conductivity entry in S/cm.

    Parameters
    ----------
    text
        E.g. ``"1.58489e-06"`` or ``"<1E-10"`` (an upper bound).

    Returns
    -------
    value, is_upper_bound
        The number (the bound itself for ``"<x"``) and whether it was a bound.

    Raises
    ------
    LabelTableError
        On empty, non-numeric, non-positive or implausibly large (> 1 S/cm) entries,
        and on an upper bound above the superionic threshold (it cannot decide the class).
    """
    raw = str(text).strip()
    bound = raw.startswith("<")
    try:
        value = float(raw.lstrip("<").strip())
    except ValueError:
        raise LabelTableError(f"cannot parse conductivity {text!r} (S/cm)") from None
    if not math.isfinite(value) or value <= 0:
        raise LabelTableError(f"conductivity must be a positive number, got {text!r}")
    if value > MAX_SIGMA_S_PER_CM:
        raise LabelTableError(
            f"conductivity {text!r} S/cm is above {MAX_SIGMA_S_PER_CM:g} S/cm "
            "(a unit mistake? the column is in S/cm)"
        )
    if bound and value > SUPERIONIC_THRESHOLD_S_PER_CM:
        raise LabelTableError(
            f"upper bound {text!r} is above the superionic threshold "
            f"{SUPERIONIC_THRESHOLD_S_PER_CM:g} S/cm and does not decide the class"
        )
    return value, bound


def superionic_labels(
    sigma_s_per_cm: Sequence[float] | np.ndarray,
    threshold_s_per_cm: float = SUPERIONIC_THRESHOLD_S_PER_CM,
) -> np.ndarray:
    """Return 1 where the conductivity (S/cm) is at least the threshold, else 0."""
    return (np.asarray(sigma_s_per_cm, dtype=float) >= threshold_s_per_cm).astype(int)


def superionic_label(text: str, threshold_s_per_cm: float = SUPERIONIC_THRESHOLD_S_PER_CM) -> int:
    """Return the class (1 superionic, 0 not) of one conductivity entry (see the module)."""
    value, _ = parse_conductivity(text)
    return int(value >= threshold_s_per_cm)


def parse_composition(text: str) -> Composition:
    """Parse a composition such as OBELiX's ``Reduced Composition`` (trailing ``*`` dropped)."""
    raw = str(text).strip().rstrip("*").strip()
    if not raw:
        raise LabelTableError("empty composition")
    try:
        composition = Composition(raw)
    except Exception as exc:
        raise LabelTableError(f"cannot parse composition {text!r}: {exc}") from None
    if composition.num_atoms <= 0:
        raise LabelTableError(f"composition {text!r} has no atoms")
    unknown = [str(e) for e in composition if isinstance(e, DummySpecies)]
    if unknown:
        raise LabelTableError(f"cannot parse composition {text!r}: not elements {unknown}")
    return composition


def _first(columns: set[str], names: Sequence[str]) -> str | None:
    return next((name for name in names if name in columns), None)


def _read_structure(path: Path) -> Structure:
    with warnings.catch_warnings():
        # the OBELiX publishers' noise makes pymatgen warn about rounded coordinates
        warnings.simplefilter("ignore", UserWarning)
        return Structure.from_file(str(path))


def _beside(folder: Path, label_id: str, cif_dir: Path | None) -> Path | None:
    """Return ``<id>.cif`` in ``cif_dir``, or beside the table, or in ``cifs/``."""
    places = [cif_dir] if cif_dir is not None else [folder, folder / "cifs"]
    return next((p / f"{label_id}.cif" for p in places if (p / f"{label_id}.cif").is_file()), None)


def load_label_table(
    path: str | Path,
    cif_dir: str | Path | None = None,
    only_ids: Sequence[str] | None = None,
    require_structures: bool = True,
) -> LabelTable:
    """Read a label table (OBELiX form or simple form, see the module docstring).

    Parameters
    ----------
    path
        The CSV file.
    cif_dir
        Folder of ``<id>.cif`` files; default: beside the CSV, then ``cifs/`` beside it.
    only_ids
        Keep only these ids (all rows are still validated).
    require_structures
        True (default): keep only rows with a structure (clustering, AtomSets) and fail
        when there is none. False: keep composition-only rows too (``structure=None``).

    Returns
    -------
    LabelTable

    Raises
    ------
    LabelTableError
        On missing columns, duplicate ids, bad conductivities, unreadable structure files
        or compositions; the message names the file, line and id.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelTableError(f"label table {path} not found")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        rows = list(reader)
    id_col, sigma_col = _first(columns, _ID_COLUMNS), _first(columns, _SIGMA_COLUMNS)
    if id_col is None or sigma_col is None:
        raise LabelTableError(
            f"{path}: needs an id column (id or ID) and a conductivity column "
            f"(sigma_s_per_cm or {OBELIX_SIGMA_COLUMN!r}); found {sorted(columns)}"
        )
    path_col = _first(columns, _PATH_COLUMNS)
    comp_col = _first(columns, _COMPOSITION_COLUMNS)
    folder = path.parent
    cif_folder = Path(cif_dir) if cif_dir is not None else None
    wanted = set(only_ids) if only_ids is not None else None
    seen: dict[str, int] = {}
    ids, structures, sigma, bound, compositions = [], [], [], [], []
    for line, row in enumerate(rows, start=2):
        label_id = (row.get(id_col) or "").strip()
        where = f"{path}, line {line} (id {label_id!r})"
        if not label_id:
            raise LabelTableError(f"{where}: empty id")
        if label_id in seen:
            raise LabelTableError(f"{where}: id already used on line {seen[label_id]}")
        seen[label_id] = line
        try:
            value, is_bound = parse_conductivity(row.get(sigma_col) or "")
            if wanted is not None and label_id not in wanted:
                continue
            structure = None
            if path_col and row.get(path_col):
                file = Path(row[path_col])
                file = file if file.is_absolute() else folder / file
                if not file.is_file():
                    raise LabelTableError(f"structure file {file} not found")
                structure = _read_structure(file)
            elif row.get("structure"):
                structure = Structure.from_dict(json.loads(row["structure"]))
            elif (cif := _beside(folder, label_id, cif_folder)) is not None:
                structure = _read_structure(cif)
            if structure is None and require_structures:
                continue
            if structure is not None:
                composition = structure.composition
            elif comp_col and row.get(comp_col):
                composition = parse_composition(row[comp_col])
            else:
                raise LabelTableError("no structure and no composition")
        except LabelTableError as exc:
            raise LabelTableError(f"{where}: {exc}") from None
        except Exception as exc:
            raise LabelTableError(f"{where}: {type(exc).__name__}: {exc}") from exc
        ids.append(label_id)
        structures.append(structure)
        sigma.append(value)
        bound.append(is_bound)
        compositions.append(composition)
    if not ids:
        what = "rows with a structure" if require_structures else "rows"
        raise LabelTableError(f"{path}: no {what} (looked for CIFs in {cif_folder or folder})")
    return LabelTable(
        ids=ids,
        structures=structures,
        sigma_s_per_cm=np.asarray(sigma),
        is_upper_bound=np.asarray(bound),
        compositions=compositions,
        source=str(path),
    )


def combine_label_tables(tables: Sequence[LabelTable]) -> LabelTable:
    """Return one table holding the rows of every table, in order.

    For training on your own measurements together with the shipped OBELiX rows
    (``sseflow train mine.csv --with-shipped``).

    Raises
    ------
    LabelTableError
        When an id appears in two tables (the message names both sources): rename the
        row, or drop it from one table if it is the same measurement.
    """
    if not tables:
        raise LabelTableError("no label table to combine")
    if len(tables) == 1:
        return tables[0]
    where: dict[str, str] = {}
    for table in tables:
        for label_id in table.ids:
            if label_id in where:
                raise LabelTableError(
                    f"id {label_id!r} is in both {where[label_id]} and {table.source}"
                )
            where[label_id] = table.source
    return LabelTable(
        ids=[i for t in tables for i in t.ids],
        structures=[s for t in tables for s in t.structures],
        sigma_s_per_cm=np.concatenate([t.sigma_s_per_cm for t in tables]),
        is_upper_bound=np.concatenate([t.is_upper_bound for t in tables]),
        compositions=[c for t in tables for c in t.compositions],
        formulas=[f for t in tables for f in t.formulas],
        source=" + ".join(t.source for t in tables),
    )


def default_training_table() -> Path:
    """Return the shipped OBELiX training split (``train.csv``; 478 rows, 254 CIFs)."""
    return shipped_data("obelix", "train.csv")


@cache
def _load_obelix() -> LabelTable:
    table = load_label_table(default_training_table(), require_structures=False)
    table.source = f"OBELiX training split shipped with sseflow ({OBELIX_CITATION})"
    return table


def load_obelix_table() -> LabelTable:
    """Load all 478 rows of the shipped OBELiX training split (224 without a structure).

    Parsed once per process (reading the CIFs takes seconds); the returned table shares
    its Structure objects with that cache, so do not modify them in place.
    """
    cached = _load_obelix()
    return cached.subset(cached.ids)


def load_obelix_labels() -> LabelTable:
    """Load the 254 shipped OBELiX training entries that have a structure.

    Returns
    -------
    LabelTable
        254 entries, ids are the OBELiX ids (e.g. ``"jqc"``).
    """
    return _load_obelix().with_structures()
