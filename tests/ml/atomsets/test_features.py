from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from sseflow.ml.atomsets import features as mf

CIFS = Path(__file__).resolve().parents[3] / "src/sseflow/data/obelix/cifs"


def rocksalt(species_a: object = "Mg", species_b: object = "O") -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(4.2), [species_a, species_b], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_shapes_ordered():
    s = rocksalt()
    v0, v1 = mf.atom_features([s], level=0)[0], mf.atom_features([s], level=1)[0]
    assert v0.shape == (len(s), 16)
    assert v1.shape == (len(s), 32)
    assert np.all(np.isfinite(v1))


def test_disordered_site_is_occupancy_weighted_sum():
    w = mf.elemental_embeddings()
    s = rocksalt({"Mg": 0.6, "Al": 0.4})
    v0 = mf.atom_features([s], level=0)[0]
    cation = next(i for i, site in enumerate(s) if not site.is_ordered)
    expected = 0.6 * w[12] + 0.4 * w[13]
    np.testing.assert_allclose(v0[cation], expected, rtol=0, atol=1e-12)
    # a partly vacant site has the shorter, occupancy-scaled vector
    vacant = rocksalt({"Mg": 0.5})
    v0v = mf.atom_features([vacant], level=0)[0]
    np.testing.assert_allclose(v0v[cation], 0.5 * w[12], atol=1e-12)
    # V1 works on the disordered structure and differs from both end members
    v1 = mf.atom_features([s, rocksalt("Mg"), rocksalt("Al")], level=1)
    assert v1[0].shape == (len(s), 32)
    assert not np.allclose(v1[0], v1[1])
    assert not np.allclose(v1[0], v1[2])


def test_batched_equals_single():
    structures = [Structure.from_file(CIFS / name) for name in ("47i.cif", "2t8.cif", "00x.cif")]
    batched = mf.atom_features(structures, level=1)
    for s, b in zip(structures, batched, strict=True):
        np.testing.assert_allclose(mf.atom_features([s], level=1)[0], b, atol=1e-5)
    small_batches = mf.atom_features(structures, level=1, max_atoms_per_batch=10)
    for a, b in zip(small_batches, batched, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_agrees_with_maml_megnetsite_on_ordered_input():
    from maml.describers import MEGNetSite

    describer = MEGNetSite(level=1)
    structures = [Structure.from_file(CIFS / name) for name in ("47i.cif", "0iv.cif", "11b.cif")]
    ours = mf.atom_features(structures, level=1)
    for s, v1 in zip(structures, ours, strict=True):
        theirs = describer.transform_one(s).to_numpy()
        np.testing.assert_allclose(v1, theirs, atol=1e-5)


def test_errors():
    with pytest.raises(mf.FeaturizationError, match="no sites"):
        mf.atom_features([Structure(Lattice.cubic(3), [], [])], level=0)
    lonely = Structure(Lattice.cubic(20.0), ["Li"], [[0, 0, 0]])
    with pytest.raises(mf.FeaturizationError, match="no bonds"):
        mf.atom_features([lonely], level=1)
    with pytest.raises(ValueError, match="level"):
        mf.atom_features([rocksalt()], level=3)
