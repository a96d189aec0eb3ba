import csv
import json
import shutil

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.labels import (
    LabelTableError,
    combine_label_tables,
    default_training_table,
    load_label_table,
    load_obelix_labels,
    load_obelix_table,
    parse_composition,
    parse_conductivity,
    superionic_label,
)
from tests.conftest import OBELIX_CIFS
from tests.ml.label_tables import obelix_form, simple_form


def test_parse_conductivity():
    assert parse_conductivity("1.58489e-06") == (pytest.approx(1.58489e-06), False)
    assert parse_conductivity("<1E-10") == (pytest.approx(1e-10), True)
    for bad in ("", "n/a", "-1e-3", "0", "nan", "12"):
        with pytest.raises(LabelTableError):
            parse_conductivity(bad)
    with pytest.raises(LabelTableError, match="does not decide"):
        parse_conductivity("<1E-3")


def test_superionic_label_treats_bounds_as_their_value():
    assert superionic_label("<1E-10") == 0
    assert superionic_label("1.58489e-06") == 0
    assert superionic_label("1e-4") == 1
    assert superionic_label("2.5E-3") == 1


def test_parse_composition():
    assert parse_composition("Li7La3Zr2O12*").reduced_formula == "Li7La3Zr2O12"
    with pytest.raises(LabelTableError):
        parse_composition("  ")


@pytest.mark.slow
def test_obelix_labels():
    labels = load_obelix_labels()
    assert len(labels) == 254 and labels.has_structure.all()
    i = labels.ids.index("jqc")
    assert labels.sigma_s_per_cm[i] == pytest.approx(1.58489e-06)
    assert labels.formulas[i] == "Li7BiO6"
    assert labels.is_upper_bound.sum() > 0
    assert np.all(labels.sigma_s_per_cm[labels.is_upper_bound] <= 1e-8)
    assert labels.labels.sum() == 93
    assert "CC BY 4.0" in labels.source
    everything = load_obelix_table()
    assert len(everything) == 478 and everything.has_structure.sum() == 254
    assert everything.labels.sum() == 218
    assert all(c.num_atoms > 0 for c in everything.compositions)


def _obelix_rows(ids):
    with open(default_training_table(), newline="") as handle:
        reader = csv.DictReader(handle)
        rows = {r["ID"]: r for r in reader}
        return reader.fieldnames, [rows[i] for i in ids]


def test_obelix_form_with_cifs_in_cifs_folder_or_beside(tmp_path):
    # 1kq and 47i have CIFs; 7se is a composition-only row
    fields, rows = _obelix_rows(["1kq", "47i", "7se"])
    for folder, beside in ((tmp_path / "a", False), (tmp_path / "b", True)):
        cif_dir = folder if beside else folder / "cifs"
        cif_dir.mkdir(parents=True)
        for i in ("1kq", "47i"):
            shutil.copy(OBELIX_CIFS / f"{i}.cif", cif_dir)
        with open(folder / "train.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        table = load_label_table(folder / "train.csv")
        assert table.ids == ["1kq", "47i"] and table.labels.tolist() == [1, 0]
        assert table.is_upper_bound.tolist() == [False, True]
        full = load_label_table(folder / "train.csv", require_structures=False)
        assert full.ids == ["1kq", "47i", "7se"]
        assert full.structures[2] is None and full.compositions[2].num_atoms > 0


def test_simple_form(tmp_path):
    s = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "licl.cif"))
    table = tmp_path / "labels.csv"
    structure_json = json.dumps(s.as_dict()).replace('"', '""')
    table.write_text(
        "id,sigma_s_per_cm,cif_path,structure,composition\n"
        f'a,1e-3,licl.cif,,\nb,<1e-9,,"{structure_json}",\nc,2e-4,,,Li3N\n'
    )
    labels = load_label_table(table)
    assert labels.ids == ["a", "b"]
    np.testing.assert_allclose(labels.log10_sigma, [-3, -9])
    assert labels.is_upper_bound.tolist() == [False, True]
    assert labels.structures[1] == s
    full = load_label_table(table, require_structures=False)
    assert full.formulas == ["LiCl", "LiCl", "Li3N"] and full.labels.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("id,sigma\n", "needs an id column"),
        ("id,sigma_s_per_cm,cif_path\nx,abc,licl.cif\n", "line 2 .id 'x'.*cannot parse"),
        ("id,sigma_s_per_cm,cif_path\nx,1e-3,licl.cif\ny,5,licl.cif\n", "line 3.*unit mistake"),
        ("id,sigma_s_per_cm,cif_path\nx,1e-3,licl.cif\nx,1e-3,licl.cif\n", "already used"),
        ("id,sigma_s_per_cm,cif_path\nx,1e-3,missing.cif\n", "missing.cif not found"),
        ("id,sigma_s_per_cm,composition\nx,1e-3,\n", "no structure and no composition"),
        ("id,sigma_s_per_cm,composition\nx,1e-3,Qq2\n", "cannot parse composition"),
    ],
)
def test_bad_rows_are_named(tmp_path, text, match):
    Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5] * 3]).to(
        filename=str(tmp_path / "licl.cif")
    )
    bad = tmp_path / "bad.csv"
    bad.write_text(text)
    with pytest.raises(LabelTableError, match=match):
        load_label_table(bad, require_structures=False)


def test_combined_tables_keep_every_row_and_refuse_an_id_twice(tmp_path):
    first = load_label_table(simple_form(tmp_path / "a", ["11b", "7se"]), require_structures=False)
    second = load_label_table(obelix_form(tmp_path / "b", ["47i"]))
    both = combine_label_tables([first, second])
    assert both.ids == ["11b", "7se", "47i"]
    assert both.has_structure.tolist() == [True, False, True]
    assert both.sigma_s_per_cm.tolist() == [
        *first.sigma_s_per_cm.tolist(),
        *second.sigma_s_per_cm.tolist(),
    ]
    assert both.formulas == [*first.formulas, *second.formulas]
    assert both.source == f"{first.source} + {second.source}"
    again = load_label_table(obelix_form(tmp_path / "c", ["47i", "0iv"]))
    with pytest.raises(LabelTableError, match=r"'47i' is in both .*b.*train.csv and .*c"):
        combine_label_tables([first, second, again])
