"""Reference conductivity labels: the shipped OBELiX training split, or a user table.

The package ships the OBELiX training split (CC BY 4.0; Therrien et al. 2025,
arXiv:2502.14234; see ``sseflow/data/obelix/README.md``): 478 experimental room-temperature
Li-ion conductivities, 254 of them with a CIF. Only entries with a structure can be
clustered, so :func:`load_obelix_labels` returns those 254.

Conductivities given as an upper bound (``"<1E-10"``, ``"<1E-8"``) are parsed as the bound
itself (1e-10, 1e-8 S/cm) and flagged in ``is_upper_bound``: the true value is at most
that, so treating it as the value over-estimates those (poor) conductors slightly.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

OBELIX_SIGMA_COLUMN = "Ionic conductivity (S cm-1)"
OBELIX_CITATION = (
    "F. Therrien et al., OBELiX: A Curated Dataset of Crystal Structures and Experimental "
    "Properties for Lithium-Ion Conductors (2025), arXiv:2502.14234; CC BY 4.0"
)


class LabelTableError(ValueError):
    """A label table is malformed."""


@dataclass
class LabelTable:
    """Labelled reference structures.

    Attributes
    ----------
    ids
        Unique label ids.
    structures
        One structure per id (partial occupancies allowed).
    sigma_s_per_cm
        Room-temperature ionic conductivity, S/cm.
    is_upper_bound
        True where the source gave only an upper bound (then ``sigma`` is the bound).
    formulas
        Reduced formulas (for display).
    source
        Where the labels came from (path or data set name + citation).
    """

    ids: list[str]
    structures: list[Structure]
    sigma_s_per_cm: np.ndarray
    is_upper_bound: np.ndarray
    formulas: list[str] = field(default_factory=list)
    source: str = ""

    def __post_init__(self) -> None:
        """Check lengths, uniqueness and positivity."""
        n = len(self.ids)
        if not (len(self.structures) == len(self.sigma_s_per_cm) == len(self.is_upper_bound) == n):
            raise LabelTableError("ids, structures and conductivities differ in length")
        if len(set(self.ids)) != n:
            raise LabelTableError("label ids are not unique")
        if np.any(~(np.asarray(self.sigma_s_per_cm) > 0)):
            raise LabelTableError("conductivities must be positive numbers (S/cm)")
        if not self.formulas:
            self.formulas = [s.composition.reduced_formula for s in self.structures]

    def __len__(self) -> int:
        """Return the number of labels."""
        return len(self.ids)

    @property
    def log10_sigma(self) -> np.ndarray:
        """Return log10 of the conductivity in S/cm."""
        return np.log10(np.asarray(self.sigma_s_per_cm, dtype=float))

    def subset(self, keep: list[str]) -> LabelTable:
        """Return a table with only the ids in ``keep`` (in this table's order)."""
        wanted = set(keep)
        rows = [i for i, label_id in enumerate(self.ids) if label_id in wanted]
        return LabelTable(
            ids=[self.ids[i] for i in rows],
            structures=[self.structures[i] for i in rows],
            sigma_s_per_cm=np.asarray(self.sigma_s_per_cm)[rows],
            is_upper_bound=np.asarray(self.is_upper_bound)[rows],
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
        On empty, non-numeric or non-positive entries.
    """
    raw = text.strip()
    bound = raw.startswith("<")
    try:
        value = float(raw.lstrip("<").strip())
    except ValueError:
        raise LabelTableError(f"cannot parse conductivity {text!r} (S/cm)") from None
    if not math.isfinite(value) or value <= 0:
        raise LabelTableError(f"conductivity must be a positive number, got {text!r}")
    return value, bound


def load_obelix_labels() -> LabelTable:
    """Load the shipped OBELiX training entries that have a structure.

    Parsed once per process (reading the 254 CIFs takes seconds); the returned table
    shares its Structure objects with that cache, so do not modify them in place.

    Returns
    -------
    LabelTable
        254 entries, ids are the OBELiX ids (e.g. ``"jqc"``).
    """
    cached = _load_obelix()
    return cached.subset(cached.ids)


@cache
def _load_obelix() -> LabelTable:
    root = files("sseflow") / "data" / "obelix"
    ids, structures, sigma, bound = [], [], [], []
    with as_file(root / "train.csv") as csv_path, open(csv_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        cif = root / "cifs" / f"{row['ID']}.cif"
        if not cif.is_file():
            continue
        value, is_bound = parse_conductivity(row[OBELIX_SIGMA_COLUMN])
        with as_file(cif) as cif_path, warnings.catch_warnings():
            # the publishers' noise makes pymatgen warn about rounded coordinates
            warnings.simplefilter("ignore", UserWarning)
            structures.append(Structure.from_file(str(cif_path)))
        ids.append(row["ID"])
        sigma.append(value)
        bound.append(is_bound)
    return LabelTable(
        ids=ids,
        structures=structures,
        sigma_s_per_cm=np.asarray(sigma),
        is_upper_bound=np.asarray(bound),
        source=f"OBELiX training split shipped with sseflow ({OBELIX_CITATION})",
    )


def load_label_table(path: str | Path) -> LabelTable:
    """Load a user label table from CSV.

    Parameters
    ----------
    path
        CSV with columns ``id``, ``sigma_s_per_cm`` (numbers, or ``"<x"`` bounds) and
        either ``cif_path`` (any structure file pymatgen reads; relative paths are
        resolved against the CSV's folder) or ``structure`` (a pymatgen Structure as
        JSON, ``Structure.as_dict()``).

    Returns
    -------
    LabelTable

    Raises
    ------
    LabelTableError
        On missing columns, unreadable structures or bad conductivities (the message
        names the row).
    """
    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        rows = list(reader)
    missing = {"id", "sigma_s_per_cm"} - columns
    if missing or not ({"cif_path", "structure"} & columns):
        raise LabelTableError(
            f"{path}: needs columns id, sigma_s_per_cm and cif_path or structure "
            f"(found {sorted(columns)})"
        )
    ids, structures, sigma, bound = [], [], [], []
    for line, row in enumerate(rows, start=2):
        try:
            value, is_bound = parse_conductivity(row["sigma_s_per_cm"])
            if row.get("cif_path"):
                file = Path(row["cif_path"])
                structure = Structure.from_file(
                    str(file if file.is_absolute() else path.parent / file)
                )
            elif row.get("structure"):
                structure = Structure.from_dict(json.loads(row["structure"]))
            else:
                raise LabelTableError("no cif_path or structure given")
        except Exception as exc:
            raise LabelTableError(f"{path}, line {line} (id {row.get('id')!r}): {exc}") from exc
        ids.append(row["id"])
        structures.append(structure)
        sigma.append(value)
        bound.append(is_bound)
    if not ids:
        raise LabelTableError(f"{path}: no labels")
    return LabelTable(
        ids=ids,
        structures=structures,
        sigma_s_per_cm=np.asarray(sigma),
        is_upper_bound=np.asarray(bound),
        source=str(path),
    )
