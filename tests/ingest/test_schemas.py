"""IngestDocument: stored with its candidates packed, read back as a list."""

from __future__ import annotations

import bson
from monty.json import MontyDecoder, jsanitize

from sseflow.common.candidate import Candidate
from sseflow.ingest.batch import ingest
from sseflow.ingest.schemas import IngestDocument
from sseflow.ingest.validation import IngestSettings
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
    assert all(isinstance(c, Candidate) for c in back.accepted)
    assert back.accepted == doc.accepted


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
