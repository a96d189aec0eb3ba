import numpy as np
import pytest
from bvlain import Lain
from pymatgen.core import Lattice, Structure

from sseflow.bvse.engine import bvse_barriers, missing_bvse_parameters
from sseflow.bvse.framework import prepare_bvse_framework
from sseflow.bvse.settings import BVSEError, BVSESettings
from sseflow.ingest.oxidation import decorate_with_oxidation_states


def _decorated(structure, states):
    return decorate_with_oxidation_states(structure, states)


def test_framework_removes_li_and_keeps_charges(li2s):
    fw = prepare_bvse_framework(_decorated(li2s, {"Li": 1, "S": -2}))
    assert set(fw.atoms.get_chemical_symbols()) == {"S"}
    assert len(fw.atoms) == 4
    assert list(fw.atoms.get_array("oxi_states")) == [-2] * 4
    assert np.allclose(fw.atoms.get_array("weight"), 1.0)


def test_partial_sites_weighted_or_majority(li2s):
    li2s.replace_species({"S": {"S": 0.75, "Se": 0.25}})
    structure = _decorated(li2s, {"Li": 1, "S": -2, "Se": -2})
    weighted = prepare_bvse_framework(structure, "weighted")
    assert len(weighted.atoms) == 8  # every site carries S 0.75 and Se 0.25
    weights = dict(
        zip(weighted.atoms.get_chemical_symbols(), weighted.atoms.get_array("weight"), strict=False)
    )
    assert weights == pytest.approx({"S": 0.75, "Se": 0.25})
    assert weighted.n_partial_sites == 4
    majority = prepare_bvse_framework(structure, "majority")
    assert majority.atoms.get_chemical_symbols() == ["S"] * 4
    assert np.allclose(majority.atoms.get_array("weight"), 1.0)


def test_majority_drops_mostly_vacant_framework_sites():
    s = Structure(
        Lattice.cubic(6),
        [{"Li": 1}, {"Li": 0.7, "La": 0.3}, {"O": 1}, {"O": 1}],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.25, 0.75]],
    )
    s = _decorated(s, {"Li": 1, "La": 3, "O": -2})
    majority = prepare_bvse_framework(s, "majority")
    assert "La" not in majority.atoms.get_chemical_symbols()
    assert majority.n_dropped_sites == 1
    weighted = prepare_bvse_framework(s, "weighted")
    la = [
        w
        for sym, w in zip(
            weighted.atoms.get_chemical_symbols(), weighted.atoms.get_array("weight"), strict=True
        )
        if sym == "La"
    ]
    assert la == pytest.approx([0.3])


def test_mixed_valence_is_split_in_weighted_mode():
    s = Structure(
        Lattice.cubic(8.2), ["Li", "Mn", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]]
    )
    s = _decorated(s, {"Li": 1, "Mn": 3.5, "O": -2})
    fw = prepare_bvse_framework(s, "weighted")
    mn = sorted(
        (q, w)
        for sym, q, w in zip(
            fw.atoms.get_chemical_symbols(),
            fw.atoms.get_array("oxi_states"),
            fw.atoms.get_array("weight"),
            strict=True,
        )
        if sym == "Mn"
    )
    assert mn == [(3, pytest.approx(0.5)), (4, pytest.approx(0.5))]
    assert fw.mixed_valence == {"Mn": 3.5}
    majority = prepare_bvse_framework(s, "majority")
    assert sorted(majority.atoms.get_array("oxi_states")) == [-2, 4]


def test_missing_oxidation_states_are_an_error(li2s):
    with pytest.raises(BVSEError, match="no oxidation state"):
        prepare_bvse_framework(li2s)


def test_li2s_barrier_matches_plain_bvlain_and_is_physical(li2s):
    structure = _decorated(li2s, {"Li": 1, "S": -2})
    framework = prepare_bvse_framework(structure)
    reference = Lain(verbose=False)
    reference.read_structure(structure, oxi_check=False)
    reference.bvse_distribution(mobile_ion="Li1+", r_cut=10, resolution=0.2, k=100)
    expected = float(reference.percolation_barriers(encut=5.0)["E_1D"])
    via_bvlain = bvse_barriers(framework, BVSESettings(engine="bvlain"))
    assert via_bvlain.ea_1d_ev == pytest.approx(expected, abs=1e-6)
    result = bvse_barriers(framework, BVSESettings())
    assert result.engine == "native"
    # the exact threshold lies inside bvlain's last bisection interval, below its top
    assert 0 < expected - result.ea_1d_ev <= 0.01
    # antifluorite: 3D vacancy-mediated Li network; BVSE barriers of a few tenths of an eV
    assert 0.2 < result.ea_1d_ev < 0.5
    assert result.ea_1d_ev == result.ea_2d_ev == result.ea_3d_ev
    for grid in (result.energies_ev, via_bvlain.energies_ev):
        assert grid.min() == 0.0 and grid.shape == (28, 28, 28) and grid.dtype == np.float32
    assert np.abs(result.energies_ev - via_bvlain.energies_ev).max() < 1e-5


def test_li2te_matches_the_thesis_bvse_value(li2te):
    # thesis Table 2.2: Li2Te BVSE E_a = 260 meV
    structure = _decorated(li2te, {"Li": 1, "Te": -2})
    result = bvse_barriers(prepare_bvse_framework(structure))
    assert result.ea_1d_ev == pytest.approx(0.26, abs=0.02)


@pytest.mark.parametrize("engine", ["native", "bvlain"])
def test_time_limit_is_enforced(li2s, engine):
    structure = _decorated(li2s * (3, 3, 3), {"Li": 1, "S": -2})
    settings = BVSESettings(time_limit_s=0.05, engine=engine)
    with pytest.raises(BVSEError, match="time limit"):
        bvse_barriers(prepare_bvse_framework(structure), settings)


def test_window_without_percolation_gives_no_barrier(li2s):
    framework = prepare_bvse_framework(_decorated(li2s, {"Li": 1, "S": -2}))
    for engine in ("native", "bvlain"):
        result = bvse_barriers(framework, BVSESettings(encut_ev=0.2, engine=engine))
        assert (result.ea_1d_ev, result.ea_2d_ev, result.ea_3d_ev) == (None, None, None)


@pytest.mark.parametrize("engine", ["native", "bvlain"])
def test_grid_point_on_a_cation_is_stored_finite(engine):
    # Ba2+ at the origin, a grid point: its Coulomb term is (nearly) infinite
    bao = Structure(Lattice.cubic(5.5), ["Ba", "O", "Li"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.25] * 3])
    framework = prepare_bvse_framework(_decorated(bao, {"Ba": 2, "O": -2, "Li": 1}))
    result = bvse_barriers(framework, BVSESettings(resolution_angstrom=0.25, engine=engine))
    assert np.isfinite(result.energies_ev).all()
    assert result.energies_ev[0, 0, 0] > 1e10


def test_unknown_engine_is_an_error(li2s):
    framework = prepare_bvse_framework(_decorated(li2s, {"Li": 1, "S": -2}))
    with pytest.raises(BVSEError, match="unknown BVSE engine"):
        bvse_barriers(framework, BVSESettings(engine="fast"))  # type: ignore[arg-type]


@pytest.mark.parametrize(("engine", "limit_gb"), [("native", 0.2), ("bvlain", 0.5)])
def test_memory_guard_refuses_huge_grids(li2s, engine, limit_gb):
    structure = _decorated(li2s, {"Li": 1, "S": -2})
    settings = BVSESettings(resolution_angstrom=0.05, memory_limit_gb=limit_gb, engine=engine)
    with pytest.raises(BVSEError, match="memory_limit_gb"):
        bvse_barriers(prepare_bvse_framework(structure), settings)


def test_memory_watch_kills_a_process_over_the_limit(li2s):
    structure = _decorated(li2s * (2, 1, 1), {"Li": 1, "S": -2})
    # the up-front estimate passes, but the real resident size exceeds the limit
    settings = BVSESettings(resolution_angstrom=0.25, memory_limit_gb=0.25, engine="bvlain")
    with pytest.raises(BVSEError, match="memory limit exceeded"):
        bvse_barriers(prepare_bvse_framework(structure), settings)


def test_anion_without_softbv_parameters_is_a_clear_failure():
    # Li3P (Na3As type): bvlain has no Li+-P3- pair and itself raises a bare KeyError(15)
    li3p = Structure.from_spacegroup(
        "P6_3/mmc",
        Lattice.hexagonal(4.27, 7.59),
        ["Li", "Li", "P"],
        [[0, 0, 0.25], [1 / 3, 2 / 3, 0.583], [1 / 3, 2 / 3, 0.25]],
    )
    framework = prepare_bvse_framework(_decorated(li3p, {"Li": 1, "P": -3}))
    assert missing_bvse_parameters(framework.atoms) == ["P3-"]
    with pytest.raises(BVSEError, match=r"no softBV parameters for Li\+ with the anion\(s\) P3-"):
        bvse_barriers(framework)
