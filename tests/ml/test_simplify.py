import numpy as np
import pytest
from pymatgen.core import Element, Lattice, Species, Structure

from sseflow.ml.simplify import SCHEMES, SimplificationError, scheme_species, simplify_structure


@pytest.fixture
def decorated() -> Structure:
    """Cubic 6 A cell: 2 Li+, 1 P5+, 4 S2-, 1 Xe0 and one mixed Li+/Na+ site."""
    species = [
        Species("Li", 1),
        Species("Li", 1),
        Species("P", 5),
        Species("S", -2),
        Species("S", -2),
        Species("S", -2),
        Species("S", -2),
        Species("Xe", 0),
        {Species("Li", 1): 0.5, Species("Na", 1): 0.5},
        {Species("Ga", 3): 0.3, Species("Ge", 4): 0.6},
    ]
    coords = [
        [0, 0, 0],
        [0.5, 0.5, 0.5],
        [0.25, 0.25, 0.25],
        [0.4, 0.25, 0.25],
        [0.1, 0.25, 0.25],
        [0.25, 0.4, 0.25],
        [0.25, 0.1, 0.25],
        [0.75, 0.75, 0.75],
        [0.5, 0, 0],
        [0, 0.5, 0],
    ]
    return Structure(Lattice.cubic(6.0), species, coords)


def _amounts(structure: Structure) -> dict[str, float]:
    return {el.symbol: amt for el, amt in structure.composition.element_composition.items()}


def test_camn_keeps_all_atoms_as_representatives(decorated):
    out = simplify_structure(decorated, "CAMN")
    assert len(out) == len(decorated)
    amounts = _amounts(out)
    assert amounts["Li"] == pytest.approx(2.5)
    assert amounts["Al"] == pytest.approx(1 + 0.5 + 0.9)  # P, Na on mixed site, Ga+Ge
    assert amounts["S"] == pytest.approx(4)
    assert amounts["Mg"] == pytest.approx(1)
    assert all(isinstance(sp, Element) for sp in out.composition)
    np.testing.assert_allclose(out.lattice.matrix, decorated.lattice.matrix)


def test_disordered_sites_are_kept_and_summed(decorated):
    camn = simplify_structure(decorated, "CAMN")
    mixed = camn[8].species
    assert mixed.get_el_amt_dict() == pytest.approx({"Li": 0.5, "Al": 0.5})
    # Ga0.3 + Ge0.6: two cations on one site -> one Al with summed occupancy 0.9
    assert camn[9].species.get_el_amt_dict() == pytest.approx({"Al": 0.9})
    can = simplify_structure(decorated, "CAN")
    assert len(can) == len(decorated) - 2  # the two pure Li sites are dropped
    assert any(site.species.get_el_amt_dict() == pytest.approx({"Al": 0.5}) for site in can)


def test_can_am_a(decorated):
    assert "Li" not in _amounts(simplify_structure(decorated, "CAN"))
    am = _amounts(simplify_structure(decorated, "AM"))
    assert am == pytest.approx({"Li": 2.5, "S": 4})
    assert _amounts(simplify_structure(decorated, "A")) == pytest.approx({"S": 4})


def test_rescaled_to_40_a3_per_anion(decorated):
    for scheme in ("CAMN-40", "CAN-40", "AM-40", "A-40"):
        out = simplify_structure(decorated, scheme)
        assert out.volume == pytest.approx(40.0 * 4)
        base = simplify_structure(decorated, scheme.removesuffix("-40"))
        np.testing.assert_allclose(out.frac_coords, base.frac_coords)
        assert out.lattice.angles == pytest.approx(base.lattice.angles)


def test_chapter4_names_and_unsubstituted(decorated):
    assert simplify_structure(decorated, "CAMNS") == simplify_structure(decorated, "CAMN")
    assert simplify_structure(decorated, "CANS") == simplify_structure(decorated, "CAN")
    raw = simplify_structure(decorated, "CAN", substitute_species=False)
    assert set(_amounts(raw)) == {"P", "S", "Xe", "Na", "Ga", "Ge"}
    # CANS is always substituted
    assert set(_amounts(simplify_structure(decorated, "CANS", substitute_species=False))) == {
        "Al",
        "S",
        "Mg",
    }


def test_undecorated_structure_uses_guessed_states():
    li3n = Structure(
        Lattice.hexagonal(3.65, 3.88),
        ["N", "Li", "Li", "Li"],
        [[0, 0, 0], [0, 0, 0.5], [1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0]],
    )
    assert _amounts(simplify_structure(li3n, "CAN")) == {"S": 1}
    assert simplify_structure(li3n, "A-40").volume == pytest.approx(40.0)


def test_unbalanced_composition_falls_back_to_sign_rule():
    # Li5Cl cannot be charge balanced with Li+ fixed: the sign rule makes Cl an anion.
    s = Structure(
        Lattice.cubic(5.0),
        ["Li"] * 5 + ["Cl"],
        [[i / 5, 0, 0] for i in range(5)] + [[0.5, 0.5, 0.5]],
    )
    assert _amounts(simplify_structure(s, "A")) == {"S": 1}


def test_errors(decorated):
    with pytest.raises(ValueError, match="unknown simplification scheme"):
        simplify_structure(decorated, "CA")
    only_li = Structure(Lattice.cubic(3.0), [Species("Li", 1)], [[0, 0, 0]])
    with pytest.raises(SimplificationError, match="no atoms left"):
        simplify_structure(only_li, "CAN", oxidation_states={"Li": 1})
    no_anion = Structure(Lattice.cubic(3.0), ["Li", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(SimplificationError, match="no anions"):
        simplify_structure(no_anion, "CAMN-40", oxidation_states={"Li": 1, "Al": 0})


def test_scheme_species():
    assert scheme_species("CAN-40") == ["Al", "Mg", "S"]
    assert scheme_species("AM") == ["Li", "S"]
    assert len(SCHEMES) == 10
