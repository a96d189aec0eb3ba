"""Exported structures: formats, NEB files, and CIFs that read back to the same id."""

import csv

import pytest
from ase.io import read

from sseflow.common.candidate import Candidate
from sseflow.ingest.batch import ingest
from sseflow.report.export import ExportError, csv_row, export_candidate, write_numbers_csv
from sseflow.store.rank import rank_records
from tests.conftest import EXAMPLES, antifluorite


def neb_record() -> dict:
    """A record with a (hand-built) MLIP CI-NEB result: Li2S with one Li moved."""
    candidate = Candidate.from_structure(antifluorite(5.71, "S"))
    unit = candidate.structure.copy()
    unit.remove_oxidation_states()
    initial = unit.copy()
    initial.remove_sites([0])
    final = unit.copy()
    final.remove_sites([1])
    images = [initial, initial.copy(), final]
    hop = {
        "hop": {"label": 0},
        "images": [s.as_dict() for s in images],
        "energies_ev": [-10.0, -9.7, -10.0],
        "relative_energies_ev": [0.0, 0.3, 0.0],
        "barrier_forward_ev": 0.3,
    }
    return {
        "candidate_id": candidate.candidate_id,
        "formula": candidate.formula,
        "status": "passed",
        "structure": candidate.structure.as_dict(),
        "tiers": {
            "ingest": {"status": "passed"},
            "bvse": {"status": "passed", "ea_ev": 0.34, "ea_1d_ev": 0.34, "ea_2d_ev": 0.34},
            "neb_mlip": {
                "status": "passed",
                "barrier_forward_ev": 0.3,
                "unit_cell": unit.as_dict(),
                "supercell": {"scaling_matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]},
                "hops": [hop],
            },
        },
    }


@pytest.mark.parametrize("fmt", ["cif", "poscar", "extxyz"])
def test_export_writes_input_ordered_and_neb_files(tmp_path, fmt):
    record = neb_record()
    (row,) = rank_records([record])
    folder, files = export_candidate(record, row, tmp_path, fmt)
    ext = {"cif": "cif", "poscar": "vasp", "extxyz": "extxyz"}[fmt]
    names = {p.relative_to(folder).as_posix() for p in files}
    hop = "neb_mlip/hop_0"
    assert {f"input.{ext}", f"ordered.{ext}", f"{hop}/supercell.{ext}"} <= names
    assert {f"{hop}/initial.{ext}", f"{hop}/final.{ext}", f"{hop}/image_01.{ext}"} <= names
    assert folder.name == f"001_Li2S_{record['candidate_id']}"
    back = read(folder / f"{hop}/final.{ext}")  # ASE reads all three formats
    assert len(back) == 11 and back.get_chemical_formula() == "Li7S4"
    if fmt == "extxyz":
        frames = read(folder / hop / "images.extxyz", index=":")
        assert [round(f.get_potential_energy(), 3) for f in frames] == [-10.0, -9.7, -10.0]
    table = write_numbers_csv([csv_row(record, row, folder.name)], tmp_path / "n.csv")
    (line,) = csv.DictReader(table.open())
    assert line["rank"] == "1" and line["neb_mlip_barrier_ev"] == "0.3"
    assert line["bvse_ea_3d_ev"] == "" and line["folder"] == folder.name


@pytest.mark.parametrize("name", ["Li3N_alpha.cif", "obelix_j8q.cif", "obelix_122.cif"])
def test_exported_cif_reads_back_to_the_same_candidate_id(tmp_path, name):
    candidate = ingest([EXAMPLES / name]).accepted[0]
    record = {
        "candidate_id": candidate.candidate_id,
        "formula": candidate.formula,
        "structure": candidate.structure.as_dict(),
        "tiers": {"ingest": {"status": "passed"}},
    }
    (row,) = rank_records([record])
    folder, _ = export_candidate(record, row, tmp_path, "poscar")
    # disordered inputs are written as CIF whatever the format: only CIF holds them
    suffix = "cif" if not candidate.structure.is_ordered else "vasp"
    again = ingest([folder / f"input.{suffix}"]).accepted[0]
    assert again.candidate_id == candidate.candidate_id
    folder, _ = export_candidate(record, row, tmp_path / "cif", "cif")
    assert ingest([folder / "input.cif"]).accepted[0].candidate_id == candidate.candidate_id


def test_export_refuses_what_it_cannot_write(tmp_path):
    record = {"candidate_id": "file-0", "tiers": {"ingest": {"status": "passed"}}}
    (row,) = rank_records([record])
    with pytest.raises(ExportError, match="no structure"):
        export_candidate(record, row, tmp_path)
    with pytest.raises(ExportError, match="format must be"):
        export_candidate(neb_record(), row, tmp_path, "pdb")


def test_exported_cif_of_an_ordered_structure_has_one_label_per_site(tmp_path):
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifParser

    from sseflow.report.export import write_structure

    structure = Structure.from_file(EXAMPLES / "Li3N_alpha.cif")  # labels Li0, Li0, Li1, N2
    as_read = [site.label for site in structure]
    assert len(set(as_read)) < len(as_read)
    path = write_structure(structure, tmp_path / "Li3N", "cif")
    block = CifParser(str(path)).as_dict()
    labels = next(iter(block.values()))["_atom_site_label"]
    assert len(labels) == len(structure) == len(set(labels))
    assert [site.label for site in structure] == as_read  # the candidate is not changed


def test_exported_cif_of_a_disordered_structure_has_one_label_per_row(tmp_path):
    import warnings

    from pymatgen.core import Structure
    from pymatgen.io.cif import CifParser

    from sseflow.report.export import write_structure

    structure = Structure.from_file(EXAMPLES / "obelix_j8q.cif")  # LGPS: Ge/P share sites
    assert not structure.is_ordered
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # CifWriter warns on repeated labels
        path = write_structure(structure, tmp_path / "LGPS", "cif")
    block = next(iter(CifParser(str(path)).as_dict().values()))
    labels = block["_atom_site_label"]
    assert len(labels) == len(set(labels)) == sum(len(site.species) for site in structure)
    again = Structure.from_file(path)
    assert again.composition.almost_equals(structure.composition)
