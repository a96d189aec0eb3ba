import json

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.labels import (
    LabelTableError,
    load_label_table,
    load_obelix_labels,
    parse_conductivity,
)


def test_parse_conductivity():
    assert parse_conductivity("1.58489e-06") == (pytest.approx(1.58489e-06), False)
    assert parse_conductivity("<1E-10") == (pytest.approx(1e-10), True)
    for bad in ("", "n/a", "-1e-3", "0"):
        with pytest.raises(LabelTableError):
            parse_conductivity(bad)


@pytest.mark.slow
def test_obelix_labels():
    labels = load_obelix_labels()
    assert len(labels) == 254
    i = labels.ids.index("jqc")
    assert labels.sigma_s_per_cm[i] == pytest.approx(1.58489e-06)
    assert labels.formulas[i] == "Li7BiO6"
    assert labels.is_upper_bound.sum() > 0
    assert np.all(labels.sigma_s_per_cm[labels.is_upper_bound] <= 1e-8)
    assert "CC BY 4.0" in labels.source


def test_user_table(tmp_path):
    s = Structure(Lattice.cubic(4.0), ["Li", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    s.to(filename=str(tmp_path / "licl.cif"))
    table = tmp_path / "labels.csv"
    structure_json = json.dumps(s.as_dict()).replace('"', '""')
    table.write_text(
        f'id,sigma_s_per_cm,cif_path,structure\na,1e-3,licl.cif,\nb,<1e-9,,"{structure_json}"\n'
    )
    labels = load_label_table(table)
    assert labels.ids == ["a", "b"]
    np.testing.assert_allclose(labels.log10_sigma, [-3, -9])
    assert labels.is_upper_bound.tolist() == [False, True]
    assert labels.structures[1] == s
    bad = tmp_path / "bad.csv"
    bad.write_text("id,sigma\n")
    with pytest.raises(LabelTableError, match="needs columns"):
        load_label_table(bad)
    bad.write_text("id,sigma_s_per_cm,cif_path\nx,abc,licl.cif\n")
    with pytest.raises(LabelTableError, match="line 2"):
        load_label_table(bad)
