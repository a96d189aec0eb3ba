"""IngestDocument: stored with its candidates packed, read back as that packed batch."""

from __future__ import annotations

from pathlib import Path

import bson
from jobflow import run_locally
from monty.json import MontyDecoder, jsanitize

from sseflow.common.candidate import Candidate, CandidateBatch
from sseflow.funnel.jobs import ingest_inputs
from sseflow.ingest.batch import ingest
from sseflow.ingest.schemas import IngestDocument
from sseflow.ingest.validation import IngestSettings
from sseflow.store import get_job_store
from tests.conftest import EXAMPLES

NAMES = ["Li2S_antifluorite.cif", "Li3N_alpha.cif", "obelix_122.cif", "obelix_j8q.cif"]


def _doc() -> IngestDocument:
    return ingest([str(EXAMPLES / n) for n in NAMES], IngestSettings())


def test_stored_form_packs_the_candidates_and_reads_back_equal() -> None:
    doc = _doc()
    stored = jsanitize(doc, strict=True, allow_bson=True)
    accepted = stored["accepted"]
    assert accepted["@class"] == "CandidateBatch"
    assert accepted["candidate_ids"] == [c.candidate_id for c in doc.accepted]
    assert accepted["formulas"] == [c.formula for c in doc.accepted]
    back = MontyDecoder().process_decoded(stored)
    assert isinstance(back, IngestDocument)
    assert isinstance(back.accepted, CandidateBatch) and back.accepted._items is None
    assert back.accepted_ids == doc.accepted_ids  # read without decoding
    assert back.accepted._items is None
    assert all(isinstance(c, Candidate) for c in back.accepted)
    assert list(back.accepted) == doc.accepted
    again = jsanitize(back, strict=True, allow_bson=True)  # stored again: packed as it was
    assert again["accepted"]["packed"] is back.accepted.as_dict()["packed"]


def test_the_first_stage_gets_the_stored_batch_as_it_is(tmp_path: Path) -> None:
    """The funnel's first stage takes ``ingest.output.accepted``; jobflow resolves that
    reference from the store, and it arrives packed (not decoded into Structures in the
    ``screen`` process only to be packed again by the stage)."""
    store = get_job_store(data_dir=tmp_path / "db")
    ingest_job = ingest_inputs([str(EXAMPLES / n) for n in NAMES], {})
    run_locally(ingest_job, store=store, log=False, ensure_success=True)
    accepted = ingest_job.output.accepted.resolve(store)
    assert isinstance(accepted, CandidateBatch) and accepted._items is None
    assert [c.formula for c in accepted] == [c.formula for c in _doc().accepted]


def test_packed_output_is_several_times_smaller_than_the_list() -> None:
    doc = _doc()
    packed = len(bson.encode({"output": jsanitize(doc, strict=True, allow_bson=True)}))
    rows = [
        jsanitize(
            {**c.model_dump(exclude={"structure"}), "structure": c.structure.as_dict()},
            strict=True,
        )
        for c in doc.accepted
    ]
    as_list = len(bson.encode({"output": rows}))
    assert packed * 3 < as_list  # 232 OBELiX structures: 3.3 kB against 22.7 kB each


def test_a_list_of_candidate_dicts_still_validates() -> None:
    doc = _doc()
    rows = [
        {**c.model_dump(exclude={"structure"}), "structure": c.structure.as_dict()}
        for c in doc.accepted
    ]
    assert IngestDocument(accepted=rows).accepted == doc.accepted
