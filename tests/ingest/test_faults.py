"""Every file of the fault corpus gets its own outcome; none stops the batch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jobflow import run_locally

from sseflow.common.candidate import SourceInfo
from sseflow.funnel.jobs import ingest_inputs
from sseflow.ingest.batch import ingest
from sseflow.ingest.validation import IngestSettings
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES
from tests.ingest.faults import write_corpus


def _name(raw: str | bytes) -> str:
    return os.fsdecode(raw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("faults")
    return folder, write_corpus(folder)


def test_each_fault_is_rejected_with_its_reason_and_good_inputs_pass(corpus) -> None:
    folder, faults = corpus
    paths = [folder / _name(f.name) for f in faults]
    doc = ingest(paths)  # one batch: nothing raises, whatever is in it
    by_file: dict[str, list[str | None]] = {}
    for cand in doc.accepted:
        by_file.setdefault(Path(cand.source.original_path()).name, []).append(None)
    for dup in doc.duplicates:
        by_file.setdefault(Path(dup.source.original_path()).name, []).append(None)
    for rej in doc.rejected:
        by_file.setdefault(Path(rej.source.original_path()).name, []).append(rej.reason)
    for fault in faults:
        outcomes = by_file.get(_name(fault.name))
        assert outcomes, f"{fault.name!r} has no outcome"
        if fault.expect is None:
            assert None in outcomes, (fault.name, outcomes)
        else:
            reasons = [r for r in outcomes if r]
            assert reasons and all(fault.expect in r for r in reasons), (fault.name, outcomes)
            # a reason says what is wrong, not only which Python error occurred
            assert not any(r.startswith(("IndexError", "KeyError", "ValueError")) for r in reasons)
    # the multi-block CIF: two good blocks kept, the bad one reported with its index
    multi = [r for r in doc.rejected if r.source.path.endswith("multi_block.cif")]
    assert len(multi) == 1 and multi[0].source.index == 1 and "data block 1" in multi[0].reason
    kept = {c.formula for c in doc.accepted if c.source.path.endswith("multi_block.cif")}
    kept |= {
        c.formula
        for c in doc.accepted
        for d in doc.duplicates
        if d.source.path.endswith("multi_block.cif") and d.candidate_id == c.candidate_id
    }
    assert kept == {"Li2S", "Li2O"}
    # the left-handed cell was made right-handed, atoms where they were
    (left,) = [c for c in doc.accepted if c.source.path.endswith("left_handed.vasp")] or [
        next(c for c in doc.accepted if c.formula == "Li2S")
    ]
    assert left.structure.lattice.volume > 0


def test_a_name_that_is_not_utf8_is_stored_and_recoverable(corpus, tmp_path: Path) -> None:
    folder, faults = corpus
    (bad,) = [f for f in faults if isinstance(f.name, bytes)]
    real = os.fsencode(folder) + b"/" + bad.name
    source = SourceInfo.from_path(os.fsdecode(real), "cif")
    assert source.path_bytes_hex and "\\xff" in source.path
    assert os.fsencode(source.original_path()) == real
    # the ingest job stores it (BSON needs valid UTF-8) and the name comes back
    store = get_job_store(data_dir=tmp_path / "db")
    run_locally(ingest_inputs([os.fsdecode(real)], {}), store=store, log=False)
    store.connect()
    (record,) = candidate_repository(store).find({})
    (src,) = record["sources"]
    assert os.fsencode(SourceInfo(**src).original_path()) == real
    assert record["status"] == "passed"


def test_whole_corpus_through_the_ingest_job(corpus, tmp_path: Path) -> None:
    """The funnel's ingest job records every corpus file, in one batch, without raising."""
    folder, faults = corpus
    store = get_job_store(data_dir=tmp_path / "db")
    responses = run_locally(ingest_inputs([str(folder)], {}), store=store, log=False)
    assert len(responses) == 1
    store.connect()
    records = list(candidate_repository(store).find({}, projection={"structure": 0}))
    paths = {
        Path(SourceInfo(**s).original_path()).name for r in records for s in r.get("sources", [])
    }
    globbed = {_name(f.name) for f in faults} - {"dangling_link.cif"}  # folders skip links
    assert globbed <= paths
    assert all(r["status"] in ("passed", "rejected") for r in records)
    for record in records:
        if record["status"] == "rejected":
            assert record["reason"] and record["tiers"]["ingest"]["status"] == "rejected"


def test_records_written_in_chunks_are_the_records_written_at_once(
    corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ingest job writes its records a chunk at a time (memory); chunks of 3 give
    the same records as one write, duplicates' sources included."""
    import sseflow.funnel.jobs as jobs
    from sseflow.store.candidates import CandidateRepository

    folder, _ = corpus
    inputs = [str(folder), str(EXAMPLES / "Li2S_antifluorite.cif")]  # Li2S again: merged

    def records(data_dir: Path) -> dict[str, tuple]:
        store = get_job_store(data_dir=data_dir)
        run_locally(ingest_inputs(inputs, {}), store=store, log=False, ensure_success=True)
        store.connect()
        found = candidate_repository(store).find({}, projection={"structure": 0})
        return {
            r["candidate_id"]: (r["status"], r["reason"], sorted(s["path"] for s in r["sources"]))
            for r in found
        }

    at_once = records(tmp_path / "one")
    writes: list[int] = []
    upsert = CandidateRepository.upsert_candidates

    def counted(self, items):
        writes.append(len(items))
        return upsert(self, items)

    monkeypatch.setattr(jobs, "INGEST_WRITE_CHUNK", 3)
    monkeypatch.setattr(CandidateRepository, "upsert_candidates", counted)
    assert records(tmp_path / "chunks") == at_once
    assert len(writes) > 3 and max(writes) == 3
    assert any(len(paths) > 1 for _, _, paths in at_once.values())  # merged duplicates


def test_settings_are_range_checked() -> None:
    with pytest.raises(ValueError, match="max_atoms"):
        IngestSettings(max_atoms=0)
    with pytest.raises(ValueError, match="max_volume_per_atom_a3"):
        IngestSettings(max_volume_per_atom_a3=0.5)
