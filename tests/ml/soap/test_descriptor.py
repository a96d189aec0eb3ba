from importlib.resources import files

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

from sseflow.ml.soap.descriptor import (
    SOAPSettings,
    featurize,
    n_features,
    ordered_atoms,
    sine_coulomb_spectrum,
    soap_vectors,
)

CIFS = files("sseflow") / "data" / "obelix" / "cifs"


def _cif(name: str) -> Structure:
    return Structure.from_file(str(CIFS / f"{name}.cif"))


@pytest.fixture(scope="module")
def li2s() -> Structure:
    """Antifluorite Li2S, conventional cubic cell (12 atoms)."""
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    )


def test_shape_and_layout():
    settings = SOAPSettings()
    # 3 species (Al, Mg, S) x n_max 5 -> 15 channels; 15*16/2 pairs x (l_max+1) = 480
    assert n_features(settings) == 480
    vectors = soap_vectors([_cif("jqc"), _cif("oi6")], settings)
    assert vectors.shape == (2, 480)
    assert np.all(np.isfinite(vectors))
    assert n_features(SOAPSettings(r_cut_angstrom=2, n_max=4, l_max=2)) == 12 * 13 // 2 * 3
    assert n_features(SOAPSettings(second_order="sine_coulomb", sine_n_atoms_max=50)) == 530


def test_invariant_to_cell_choice(li2s):
    settings = SOAPSettings(scheme="CAMN")
    primitive = SpacegroupAnalyzer(li2s).get_primitive_standard_structure()
    assert len(primitive) == 3
    supercell = li2s.make_supercell([2, 1, 1], in_place=False)
    vectors = soap_vectors([li2s, primitive, supercell], settings)
    np.testing.assert_allclose(vectors[1], vectors[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(vectors[2], vectors[0], rtol=1e-6, atol=1e-8)


def test_invariant_to_supercell_for_a_disordered_shipped_cif():
    structure = _cif("jqc")
    assert not structure.is_ordered
    supercell = structure.make_supercell([1, 2, 1], in_place=False)
    vectors = soap_vectors([structure, supercell], SOAPSettings())
    np.testing.assert_allclose(vectors[1], vectors[0], rtol=1e-6, atol=1e-8)


def test_occupancy_weighting_equals_outer_average_when_ordered(li2s):
    from dscribe.descriptors import SOAP

    atoms, occupancy = ordered_atoms(li2s)
    assert np.all(occupancy == 1)
    soap = SOAP(species=["Li", "S"], r_cut=3, n_max=5, l_max=3, periodic=True, average="outer")
    camn = soap_vectors([li2s], SOAPSettings(scheme="AM"))[0]
    np.testing.assert_allclose(camn, soap.create(atoms), rtol=1e-10)


def test_ordered_atoms_majority_species():
    s = Structure(Lattice.cubic(4), [{"Al": 0.3, "Mg": 0.6}], [[0, 0, 0]])
    atoms, occupancy = ordered_atoms(s)
    assert atoms.get_chemical_symbols() == ["Mg"]
    assert occupancy == pytest.approx([0.9])


def test_second_order_is_scaled_sine_spectrum(li2s):
    plain = SOAPSettings()
    mixed = SOAPSettings(second_order="sine_coulomb", alpha=3e-6, sine_n_atoms_max=16)
    vectors = soap_vectors([li2s], mixed)[0]
    np.testing.assert_allclose(vectors[:480], soap_vectors([li2s], plain)[0])
    spectrum = sine_coulomb_spectrum(li2s, 16)
    np.testing.assert_allclose(vectors[480:], 3e-6 * spectrum)
    assert np.all(spectrum[12:] == 0)  # 12 atoms, zero padded
    assert np.all(np.diff(np.abs(spectrum[:12])) <= 1e-9)
    # symmetric matrix with diagonal 0.5 Z^2.4: the trace equals the eigenvalue sum
    assert spectrum.sum() == pytest.approx(8 * 0.5 * 3**2.4 + 4 * 0.5 * 16**2.4)


def test_featurize_cache_and_failures(tmp_path, li2s):
    only_li = Structure(Lattice.cubic(3.5), ["Li"], [[0, 0, 0]])
    items = [("li2s", li2s), ("bad", only_li), ("jqc", _cif("jqc"))]
    first = featurize(items, SOAPSettings(), cache_dir=tmp_path)
    assert first.ids == ["li2s", "jqc"]
    assert "no atoms left" in first.failed["bad"]
    assert first.n_from_cache == 0
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and (folders[0] / "li2s.npy").exists()
    second = featurize(items, SOAPSettings(), cache_dir=tmp_path)
    assert second.n_from_cache == 2
    np.testing.assert_array_equal(second.matrix, first.matrix)
    other = featurize(
        items[:1], SOAPSettings(r_cut_angstrom=4, n_max=2, l_max=2), cache_dir=tmp_path
    )
    assert other.matrix.shape == (1, 6 * 7 // 2 * 3)
    assert len(list(tmp_path.iterdir())) == 2
    with pytest.raises(ValueError, match="duplicate"):
        featurize([items[0], items[0]])
