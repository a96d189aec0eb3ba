"""Export candidates for other codes: structures as CIF, POSCAR or extended XYZ, plus a CSV.

For each candidate (a folder ``<rank>_<formula>_<candidate_id>``):

- ``input.<ext>``: the structure as ingested. A disordered structure (partial
  occupancies) only fits a CIF, so it is written as ``input.cif`` whatever the format;
- ``ordered.<ext>``: the ordered cell the CI-NEB tiers computed on (lowest Ewald energy
  ordering, possibly relaxed, from the deepest NEB tier), or the input itself when it is
  ordered and no NEB ran. A disordered candidate without a NEB result has none;
- ``<neb tier>/hop_<label>/``: the perfect NEB supercell (``supercell.<ext>``), the two
  endpoints with one Li vacancy (``initial.<ext>``, ``final.<ext>``) and every image
  (``image_00.<ext>`` ..., endpoints included; with ``extxyz`` also all images in one
  ``images.extxyz`` with their energies);

and one ``candidates.csv`` with the numbers of every exported candidate (rank, P_SI,
SOAP selection, band gap, BVSE barriers, MLIP and DFT barriers, status and reason).

Plain functions on candidate records (no database, no jobflow).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from sseflow.store.rank import RankedCandidate

FORMATS = {"cif": "cif", "poscar": "vasp", "extxyz": "extxyz"}
NEB_TIERS = ("neb_mlip", "neb_dft")
#: Columns of candidates.csv (record values, in this order).
CSV_COLUMNS = (
    "rank",
    "candidate_id",
    "formula",
    "status",
    "last_tier",
    "deepest_passed_tier",
    "p_si",
    "soap_selected",
    "band_gap_ev",
    "bvse_ea_1d_ev",
    "bvse_ea_2d_ev",
    "bvse_ea_3d_ev",
    "neb_mlip_barrier_ev",
    "neb_dft_barrier_ev",
    "reason",
    "folder",
)


class ExportError(ValueError):
    """A candidate cannot be exported (the message says why)."""


def write_structure(structure: Structure, path: Path, fmt: str, comment: str = "") -> Path:
    """Write ``structure`` as ``fmt`` (cif, poscar, extxyz) to ``path`` (suffix added)."""
    path = path.with_suffix(f".{FORMATS[fmt]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "cif":
        from pymatgen.io.cif import CifWriter

        # CIF needs one label per row (pymatgen keeps the labels it read, often repeated);
        # a disordered site has one row per species, which CifWriter numbers itself only
        # for a site labelled with its species string
        labelled = structure.copy().relabel_sites(ignore_uniq=True)
        for site in labelled:
            if not site.is_ordered:
                site.label = site.species_string
        CifWriter(labelled).write_file(str(path))
    elif fmt == "poscar":
        from pymatgen.io.vasp import Poscar

        plain = structure.copy()
        plain.remove_oxidation_states()
        Poscar(plain, comment=comment or plain.composition.reduced_formula).write_file(str(path))
    else:
        from ase.io import write
        from pymatgen.io.ase import AseAtomsAdaptor

        plain = structure.copy()
        plain.remove_oxidation_states()
        write(str(path), AseAtomsAdaptor.get_atoms(plain), format="extxyz")
    return path


def folder_name(row: RankedCandidate) -> str:
    """Return ``<rank>_<formula>_<candidate_id>`` (file-system safe)."""
    formula = re.sub(r"[^A-Za-z0-9.]+", "", row.formula or "unknown")
    rank = "x" if row.rank is None else f"{row.rank:03d}"
    return f"{rank}_{formula}_{row.candidate_id}"


def _structure(value: Any) -> Structure | None:
    if value is None:
        return None
    return value if isinstance(value, Structure) else Structure.from_dict(value)


def _export_neb(doc: Mapping[str, Any], folder: Path, fmt: str) -> list[Path]:
    written: list[Path] = []
    unit = _structure(doc.get("unit_cell"))
    scaling = (doc.get("supercell") or {}).get("scaling_matrix")
    for hop in doc.get("hops") or []:
        label = (hop.get("hop") or {}).get("label", len(written))
        hop_dir = folder / f"hop_{label}"
        if unit is not None and scaling is not None:
            supercell = unit.copy()
            supercell.make_supercell(scaling)
            written.append(write_structure(supercell, hop_dir / "supercell", fmt))
        images = [s for s in map(_structure, hop.get("images") or []) if s is not None]
        if not images:
            continue
        written.append(write_structure(images[0], hop_dir / "initial", fmt))
        written.append(write_structure(images[-1], hop_dir / "final", fmt))
        for i, image in enumerate(images):
            written.append(write_structure(image, hop_dir / f"image_{i:02d}", fmt))
        if fmt == "extxyz":
            written.append(_images_extxyz(images, hop.get("energies_ev"), hop_dir))
    return written


def _images_extxyz(images: list[Structure], energies: Any, hop_dir: Path) -> Path:
    """All images of a band in one extended XYZ file, with their energies (eV)."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write
    from pymatgen.io.ase import AseAtomsAdaptor

    frames = []
    for i, image in enumerate(images):
        plain = image.copy()
        plain.remove_oxidation_states()
        atoms = AseAtomsAdaptor.get_atoms(plain)
        if energies is not None and i < len(energies):
            atoms.calc = SinglePointCalculator(atoms, energy=float(energies[i]))
        frames.append(atoms)
    path = hop_dir / "images.extxyz"
    write(str(path), frames, format="extxyz")
    return path


def export_candidate(
    record: Mapping[str, Any], row: RankedCandidate, out_dir: str | Path, fmt: str = "cif"
) -> tuple[Path, list[Path]]:
    """Write one candidate's structures (see the module docstring).

    Parameters
    ----------
    record
        The full candidate record (structure and NEB images included).
    row
        Its rank row (:func:`~sseflow.store.rank.rank_records`).
    out_dir
        Export folder; the candidate gets a sub-folder.
    fmt
        ``cif``, ``poscar`` or ``extxyz``.

    Returns
    -------
    folder, files

    Raises
    ------
    ExportError
        For an unknown format or a record without a structure.
    """
    if fmt not in FORMATS:
        raise ExportError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    structure = _structure(record.get("structure"))
    if structure is None:
        raise ExportError(f"{row.candidate_id} has no structure (rejected at ingest)")
    folder = Path(out_dir) / folder_name(row)
    written = [
        write_structure(
            structure, folder / "input", fmt if structure.is_ordered else "cif", row.candidate_id
        )
    ]
    tiers = record.get("tiers") or {}
    neb_docs = {t: tiers[t] for t in NEB_TIERS if isinstance(tiers.get(t), dict)}
    deepest = next((neb_docs[t] for t in reversed(NEB_TIERS) if t in neb_docs), None)
    ordered = _structure(deepest.get("unit_cell")) if deepest else None
    if ordered is None and structure.is_ordered:
        ordered = structure
    if ordered is not None:
        written.append(write_structure(ordered, folder / "ordered", fmt, row.candidate_id))
    for tier, doc in neb_docs.items():
        written += _export_neb(doc, folder / tier, fmt)
    return folder, written


def csv_row(record: Mapping[str, Any], row: RankedCandidate, folder: str) -> dict[str, Any]:
    """Return the ``candidates.csv`` values of one candidate."""
    bvse = (record.get("tiers") or {}).get("bvse") or {}
    values = row.model_dump()
    values.update(
        bvse_ea_1d_ev=bvse.get("ea_1d_ev"),
        bvse_ea_2d_ev=bvse.get("ea_2d_ev"),
        bvse_ea_3d_ev=bvse.get("ea_3d_ev"),
        folder=folder,
    )
    return {column: values.get(column) for column in CSV_COLUMNS}


def write_numbers_csv(rows: Sequence[Mapping[str, Any]], path: str | Path) -> Path:
    """Write the rows of :func:`csv_row` to ``path`` (empty cells for missing values)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(CSV_COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return path
