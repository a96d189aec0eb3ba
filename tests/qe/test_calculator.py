"""pw.x setup helpers and the cutoff/k-point convergence test (real pw.x, 3-atom cell)."""

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.qe.calculator import (
    QESettings,
    QESetupError,
    find_pseudopotentials,
    make_espresso,
    probe_pw_version,
    pw_version,
    pw_version_from_text,
)
from sseflow.qe.convergence import converge_cutoff_and_kpoints

PSEUDO_DIR = Path(__file__).parents[1] / "data" / "pseudo"


def test_find_pseudopotentials_by_prefix_and_explicit():
    found = find_pseudopotentials(["S", "Li", "Li"], PSEUDO_DIR)
    assert found == {"Li": "Li_ONCV_PBE-1.2.upf", "S": "S_ONCV_PBE-1.2.upf"}
    with pytest.raises(QESetupError, match="no pseudopotential for Zr"):
        find_pseudopotentials(["Zr"], PSEUDO_DIR)
    with pytest.raises(QESetupError, match="not found"):
        find_pseudopotentials(["Li"], PSEUDO_DIR, {"Li": "Li.missing.UPF"})


def test_espresso_input_has_charge_and_settings(tmp_path):
    calc = make_espresso(
        ["Li", "S"],
        QESettings(pseudo_dir=str(PSEUDO_DIR), ecutwfc_ry=33.0, kpoints=(2, 2, 2)),
        tmp_path,
        tot_charge=-1.0,
    )
    params = calc.parameters
    assert params["input_data"]["tot_charge"] == -1.0
    assert params["input_data"]["ecutwfc"] == 33.0
    assert params["kpts"] == (2, 2, 2)


@pytest.mark.slow
def test_convergence_test_picks_converged_values(tmp_path):
    structure = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S", "Li"], [[0, 0, 0], [0.25, 0.25, 0.25]]
    ).get_primitive_structure()
    tolerance = 5e-3
    chosen, record = converge_cutoff_and_kpoints(
        AseAtomsAdaptor.get_atoms(structure),
        QESettings(pseudo_dir=str(PSEUDO_DIR)),
        tmp_path,
        ecutwfc_values_ry=[30.0, 50.0, 70.0, 90.0],
        kspacing_values_per_angstrom=[1.0, 0.6, 0.4, 0.3],
        tolerance_ev_per_atom=tolerance,
    )
    assert record["converged"]
    cut = dict(record["ecutwfc_ry"])
    # the chosen cutoff agrees with the next one tested within the tolerance
    next_cut = min(c for c in cut if c > chosen.ecutwfc_ry)
    assert abs(cut[chosen.ecutwfc_ry] - cut[next_cut]) < tolerance
    assert chosen.ecutwfc_ry > 30.0  # 30 Ry is far from converged for SG15 Li (1s in valence)
    assert chosen.kpoints is None and chosen.kspacing_per_angstrom == record["kspacing_chosen"]
    grids = [tuple(int(x) for x in g.split("x")) for g, _ in record["kpoints"]]
    assert len(set(grids)) == len(grids)  # only distinct grids are compared


def test_pw_version_from_header_and_probe(tmp_path):
    assert (
        pw_version_from_text("\n     Program PWSCF v.7.2 starts on  1Jan2024 at 10: 0: 0\n")
        == "7.2"
    )
    assert pw_version_from_text("no header here") is None
    # the installed pw.x, run on empty input, prints its header and stops
    probed = probe_pw_version("pw.x")
    assert probed and probed[0].isdigit()
    assert pw_version(QESettings(), tmp_path) == probed  # no outputs yet: probe
    assert pw_version(QESettings(pw_command="pw.x-missing"), tmp_path) == "unknown"


@pytest.mark.parametrize(
    "a_angstrom, expected", [(5.71, "2 2 2"), (8.07, "2 2 2"), (4.61, "3 3 3")]
)
def test_kspacing_gives_the_grid_pw_x_runs_with(tmp_path, a_angstrom, expected):
    """The k-point spacing (2 pi included) reaches pw.x as the grid kpoint_grid computes."""
    import io

    from ase.build import bulk
    from ase.io.espresso import write_espresso_in

    from sseflow.qe.convergence import kpoint_grid

    atoms = bulk("Li", "sc", a=a_angstrom)
    calc = make_espresso(
        ["Li"], QESettings(pseudo_dir=str(PSEUDO_DIR), kspacing_per_angstrom=0.6), tmp_path
    )
    text = io.StringIO()
    parameters = dict(calc.parameters)
    write_espresso_in(text, atoms, **parameters)
    line = text.getvalue().split("K_POINTS automatic\n")[1].splitlines()[0]
    assert line.startswith(expected)
    assert " ".join(map(str, kpoint_grid(atoms, 0.6))) == expected
