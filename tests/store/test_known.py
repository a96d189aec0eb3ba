"""Ingest's look-up of stored candidates loads only what it must compare."""

from __future__ import annotations

from jobflow import run_locally

from sseflow.funnel.jobs import ingest_inputs
from sseflow.ingest.batch import ingest
from sseflow.ingest.identity import candidate_id, structure_fingerprint
from sseflow.store import candidate_repository, get_job_store
from sseflow.store.known import StoredCandidates
from tests.conftest import antifluorite


def test_only_candidates_of_the_same_formula_and_fingerprint_are_loaded(tmp_path, li2s):
    store = get_job_store(data_dir=tmp_path / "db")
    store.connect()
    repo = candidate_repository(store)
    # ten stored Li2S records: one antifluorite (sg225), nine of another symmetry
    distorted = li2s.copy()
    distorted.perturb(0.3, min_distance=0.3)  # breaks the cubic symmetry beyond 0.1 A
    stored = [("sse-cubic", li2s)] + [(f"sse-other{i}", distorted) for i in range(9)]
    for cid, structure in stored:
        repo.upsert_candidate(
            cid,
            {
                "formula": "Li2S",
                "structure": structure.as_dict(),
                "fingerprint": structure_fingerprint(structure),
            },
        )
    assert structure_fingerprint(distorted) != "sg225"

    known = StoredCandidates(repo)
    primitive = li2s.get_primitive_structure()  # the same crystal, another cell
    doc = ingest([primitive], known=known)
    assert doc.accepted[0].candidate_id == "sse-cubic"  # matched the stored one
    assert known.n_loaded == 1  # not the nine of another fingerprint

    repeat = StoredCandidates(repo)
    (hit,) = [x for x in repeat("Li2S", "sg225", "sse-cubic")][:1]
    assert hit == ("sse-cubic", None) and repeat.n_loaded == 0  # an exact repeat loads nothing


def test_records_carry_their_fingerprint_and_old_records_are_fingerprinted(tmp_path, li2s):
    store = get_job_store(data_dir=tmp_path / "db")
    store.connect()
    repo = candidate_repository(store)
    # a record written before fingerprints existed
    repo.upsert_candidate(candidate_id(li2s), {"formula": "Li2S", "structure": li2s.as_dict()})
    li2te = antifluorite(6.517, "Te")
    run_locally(ingest_inputs([li2s.get_primitive_structure(), li2te], {}), store=store, log=False)
    records = {r["formula"]: r for r in repo.find({})}
    assert len(records) == 2  # the primitive Li2S cell joined the old record
    assert records["Li2Te"]["fingerprint"] == "sg225"
    assert len(records["Li2S"]["sources"]) == 1
