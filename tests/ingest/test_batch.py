import json

import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp import Poscar

from sseflow.ingest.batch import ingest
from sseflow.ingest.identity import candidate_id
from sseflow.ingest.reader import InputError, expand_inputs, read_structures
from sseflow.ingest.validation import IngestSettings
from tests.conftest import EXAMPLES, OBELIX_CIFS


def test_reads_cif_poscar_json_and_folder(tmp_path, li2s):
    li2s.to(filename=str(tmp_path / "a.cif"))
    Poscar(li2s).write_file(tmp_path / "POSCAR")
    (tmp_path / "b.json").write_text(json.dumps(li2s.as_dict()))
    (tmp_path / "notes.txt").write_text("ignored inside folders")
    found = expand_inputs([tmp_path])
    assert sorted(p.name for p in found) == ["POSCAR", "a.cif", "b.json"]
    for path in found:
        ((_, structure),) = read_structures(path)
        assert isinstance(structure, Structure)
        assert structure.composition.reduced_formula == "Li2S"
    doc = ingest([tmp_path])
    # three files, one crystal: one candidate, two merged duplicates
    assert len(doc.accepted) == 1 and len(doc.duplicates) == 2 and not doc.rejected


def test_list_of_files_and_structures(li2s, li2te):
    doc = ingest([li2s, li2te, OBELIX_CIFS / "gvd.cif"])
    assert sorted(c.formula for c in doc.accepted) == ["Li2S", "Li2Te", "Li3N"]
    assert {c.source.format for c in doc.accepted} == {"structure", "cif"}


def test_partial_occupancies_are_kept():
    doc = ingest([OBELIX_CIFS / "122.cif"])  # Li6PS5Cl argyrodite, disordered
    (cand,) = doc.accepted
    assert not cand.structure.is_ordered
    occupancies = {round(occ, 3) for site in cand.structure for occ in site.species.values()}
    assert any(occ < 1 for occ in occupancies)
    # oxidation states decorate every species, occupancies untouched
    assert all(hasattr(sp, "oxi_state") for site in cand.structure for sp in site.species)
    assert cand.oxidation_states["P"] == 5.0


def test_duplicates_across_cell_choices_are_merged(li2s):
    primitive = li2s.get_primitive_structure()
    assert len(primitive) != len(li2s)
    doc = ingest([li2s, primitive])
    assert len(doc.accepted) == 1
    assert doc.duplicates[0].candidate_id == doc.accepted[0].candidate_id


def test_the_same_structure_twice_is_merged_even_where_the_matcher_does_not_fit(li2s, monkeypatch):
    # StructureMatcher did not fit 20 pairs of identical disordered garnets
    import pymatgen.analysis.structure_matcher as sm

    monkeypatch.setattr(sm.StructureMatcher, "fit", lambda self, a, b, **kw: False)
    doc = ingest([li2s, li2s.copy()])
    assert len(doc.accepted) == 1 and len(doc.duplicates) == 1
    assert doc.duplicates[0].candidate_id == doc.accepted[0].candidate_id


def test_the_same_structure_is_merged_whatever_its_fingerprint(li2s, monkeypatch):
    # the 26,000-structure run still accepted 20 identical garnets twice after the
    # test above: same id, different fingerprint (so a different bucket)
    import sseflow.ingest.batch as batch

    fingerprints = iter(["sg1", "sg2"])
    monkeypatch.setattr(batch, "structure_fingerprint", lambda structure: next(fingerprints))
    doc = ingest([li2s, li2s.copy()])
    assert len(doc.accepted) == 1 and len(doc.duplicates) == 1
    assert doc.duplicates[0].candidate_id == doc.accepted[0].candidate_id


def test_obelix_li3n_matches_clean_li3n():
    doc = ingest([EXAMPLES / "Li3N_alpha.cif", OBELIX_CIFS / "gvd.cif"])
    assert len(doc.accepted) == 1 and len(doc.duplicates) == 1


def test_candidate_id_is_stable_and_discriminating(li2s, li2te):
    again = Structure.from_str(li2s.to(fmt="cif"), fmt="cif")
    assert candidate_id(li2s) == candidate_id(again)
    shifted = li2s.copy()
    shifted.translate_sites(
        range(len(shifted)), [1.0, 0, 0]
    )  # whole-cell translation by a lattice vector
    assert candidate_id(shifted) == candidate_id(li2s)
    assert candidate_id(li2s) != candidate_id(li2te)
    assert candidate_id(li2s).startswith("sse-")


def test_known_candidates_keep_their_id(li2s):
    first = ingest([li2s]).accepted[0]
    primitive = li2s.get_primitive_structure()
    asked = []

    def known(formula, fingerprint, candidate_id):
        asked.append((formula, fingerprint))
        return [(first.candidate_id, li2s)]

    doc = ingest([primitive], known=known)
    assert doc.accepted[0].candidate_id == first.candidate_id
    # the look-up is narrowed by formula and fingerprint (the space group)
    assert asked == [("Li2S", "sg225")] and first.fingerprint == "sg225"


def _reasons(doc):
    return [r.reason for r in doc.rejected]


def test_rejections_each_have_a_reason_and_the_batch_goes_on(tmp_path, li2s):
    (tmp_path / "broken.cif").write_text("data_x\n_cell_length_a 3\nloop_\n_atom_site_label\n")
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "structure.xyz").write_text("1\n\nLi 0 0 0\n")
    no_li = Structure(Lattice.cubic(4.2), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    overlapping = Structure(
        Lattice.cubic(5), ["Li", "Li", "S"], [[0, 0, 0], [0.02, 0, 0], [0.5, 0.5, 0.5]]
    )
    flat = Structure(
        Lattice([[4, 0, 0], [0, 4, 0], [0, 0, 1e-4]]), ["Li", "F"], [[0, 0, 0], [0.5, 0.5, 0]]
    )
    impossible = Structure(Lattice.cubic(4), ["Li", "Al"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    doc = ingest(
        [
            tmp_path / "broken.cif",
            tmp_path / "empty.json",
            tmp_path / "structure.xyz",
            tmp_path / "missing.cif",
            no_li,
            overlapping,
            flat,
            impossible,
            li2s.copy() * (3, 3, 3),
            li2s,
        ],
        IngestSettings(max_atoms=100),
    )
    reasons = _reasons(doc)
    assert len(doc.accepted) == 1 and doc.accepted[0].formula == "Li2S"
    assert len(reasons) == 9
    expected = [
        "unreadable CIF",
        "no structure found",
        "unsupported file type",
        "file not found",
        "no Li",
        "overlapping atoms",
        "no valid 3D lattice",
        "no charge-balanced oxidation states",
        "exceed max_atoms=100",
    ]
    for needle in expected:
        assert any(needle in r for r in reasons), (needle, reasons)


def test_split_sites_of_disordered_crystals_are_not_overlaps():
    # argyrodites and LGPS carry Li split sites ~0.4 A apart with summed occupancy <= ~1
    doc = ingest([OBELIX_CIFS / "122.cif", OBELIX_CIFS / "j8q.cif"])
    assert len(doc.accepted) == 2, _reasons(doc)


def test_read_structures_raises_input_error(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_structures(tmp_path / "nope.cif")
