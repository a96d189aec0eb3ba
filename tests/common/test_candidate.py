"""CandidateBatch: the candidates of a stage as one packed value between jobs."""

from __future__ import annotations

import base64
import json
import tracemalloc
import zlib
from pathlib import Path

from jobflow import job
from monty.json import MontyDecoder, jsanitize
from pymatgen.core import Structure

from sseflow.common.candidate import (
    Candidate,
    CandidateBatch,
    candidate_chunks,
    candidate_ids_of,
    stream_candidates,
)
from tests.conftest import EXAMPLES


def _candidates() -> list[Candidate]:
    names = ["Li2S_antifluorite.cif", "Li3N_alpha.cif", "Li2O_antifluorite.cif"]
    return [Candidate.from_structure(Structure.from_file(EXAMPLES / n)) for n in names]


def test_round_trip_keeps_every_candidate_and_decodes_only_when_read() -> None:
    candidates = _candidates()
    batch = CandidateBatch(candidates)
    back = MontyDecoder().process_decoded(batch.as_dict())
    assert isinstance(back, CandidateBatch)
    assert back.candidate_ids == [c.candidate_id for c in candidates]
    assert back._items is None  # ids, length and the subset below need no decoding
    assert len(back) == 3
    assert list(back) == candidates
    assert back[1].structure == candidates[1].structure
    assert back == batch


def test_jobflow_sees_one_string_not_the_structures() -> None:
    batch = CandidateBatch(_candidates())
    encoded = jsanitize(batch, strict=True)
    assert set(encoded) == {"@module", "@class", "candidate_ids", "formulas", "packed"}
    assert encoded["formulas"] == ["Li2S", "Li3N", "Li2O"]
    assert isinstance(encoded["packed"], str)
    assert batch.as_dict()["packed"] is encoded["packed"]  # packed once, then kept


def test_subset_keeps_the_batch_order_decoded_or_not() -> None:
    candidates = _candidates()
    wanted = [candidates[2].candidate_id, candidates[0].candidate_id]
    decoded = CandidateBatch(candidates).subset(wanted)
    packed = CandidateBatch.from_dict(CandidateBatch(candidates).as_dict()).subset(wanted)
    expected = [candidates[0], candidates[2]]
    assert list(decoded) == expected and list(packed) == expected
    assert packed.candidate_ids == [c.candidate_id for c in expected]


def test_streaming_reads_each_candidate_once_and_keeps_none() -> None:
    candidates = _candidates()
    packed = CandidateBatch.from_dict(CandidateBatch(candidates).as_dict())
    assert list(packed.stream()) == candidates
    assert packed._items is None  # nothing kept: each candidate was the caller's to keep
    assert list(stream_candidates(packed)) == candidates and packed._items is None
    dicts = [c.model_dump() for c in candidates]
    assert list(stream_candidates(dicts)) == candidates
    chunks = list(candidate_chunks(packed, 2))
    assert [len(c) for c in chunks] == [2, 1] and [*chunks[0], *chunks[1]] == candidates
    assert list(candidate_chunks([], 2)) == []
    ids = [c.candidate_id for c in candidates]
    assert candidate_ids_of(packed) == candidate_ids_of(dicts) == ids
    assert candidate_ids_of([candidates[0], None, *candidates[1:]]) == ids
    assert packed._items is None
    decoded = CandidateBatch(candidates)  # a decoded batch streams its own objects
    assert all(a is b for a, b in zip(decoded.stream(), candidates, strict=True))


def test_a_batch_packed_as_one_json_array_still_reads() -> None:
    """Batches stored before the line format (one JSON array) decode and subset."""
    candidates = _candidates()
    rows = [
        {**c.model_dump(mode="json", exclude={"structure"}), "structure": c.structure.as_dict()}
        for c in candidates
    ]
    array = base64.b64encode(zlib.compress(json.dumps(rows).encode(), 6)).decode("ascii")
    ids = [c.candidate_id for c in candidates]
    stored = {"candidate_ids": ids, "formulas": [c.formula for c in candidates], "packed": array}
    assert list(CandidateBatch.from_dict(stored)) == candidates
    assert list(CandidateBatch.from_dict(stored).subset(ids[1:])) == candidates[1:]
    assert list(CandidateBatch.from_dict({**stored, "candidate_ids": [], "packed": _empty()})) == []


def _empty() -> str:
    return base64.b64encode(zlib.compress(b"[]")).decode("ascii")


def test_packing_and_decoding_hold_one_row_at_a_time() -> None:
    """A structure as JSON dicts is several times its pymatgen size; a batch is packed and
    decoded row by row, so neither step holds every candidate's dicts at once."""
    garnet = Candidate.from_structure(Structure.from_file(EXAMPLES / "obelix_122.cif"))
    many = [garnet.model_copy(update={"candidate_id": f"sse-{i:03d}"}) for i in range(40)]
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        rows = [{"structure": c.structure.as_dict()} for c in many]  # all rows at once
        all_rows = tracemalloc.get_traced_memory()[1] - base
        del rows

        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        packed = CandidateBatch(many).as_dict()
        packing = tracemalloc.get_traced_memory()[1] - base

        back = CandidateBatch.from_dict(packed)
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        decoded = list(back)
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded == many
    assert packing < all_rows / 4, (packing, all_rows)
    assert peak - retained < all_rows / 4, (peak - retained, all_rows)


@job
def _formulas(candidates: list[Candidate]) -> list[str]:
    return [c.formula for c in candidates]


def test_a_batch_tier_job_reads_it_as_a_list(tmp_path: Path) -> None:
    from jobflow import run_locally

    from sseflow.store import get_job_store

    batch = CandidateBatch(_candidates())
    store = get_job_store(data_dir=tmp_path / "db")
    out = run_locally(_formulas(batch), store=store, log=False, ensure_success=True)
    (result,) = out.values()
    assert result[1].output == ["Li2S", "Li3N", "Li2O"]
