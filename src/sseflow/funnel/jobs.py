"""The funnel's jobs: ingest the inputs, run a stage's tiers, record them, gate the stage.

``run_stage`` marks the stage's candidates ``pending`` and replaces itself by the
stage's tier jobs, one ``record_tier`` job after each tier job, and ``gate_stage``.
``record_tier`` writes the tier's document into the candidate record (through
:class:`~sseflow.store.candidates.CandidateRepository`, leaving out the document
class's ``record_exclude`` fields) as soon as the tier job has finished, so a run killed
later loses nothing it computed: a rerun finds the document (same settings hash) and
reuses it. ``gate_stage`` then only judges each candidate, writes the verdict and adds
the next stage for the survivors. See :mod:`sseflow.funnel.maker` for the whole picture.

A funnel job that fails (a stage that cannot build its jobs, a gate that raises) first
marks every candidate of its stage ``failed`` with the cause, then raises, so the run
ends with an error and no candidate is left looking ``passed`` at an earlier tier.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jobflow import CURRENT_JOB, Flow, Job, JobConfig, OnMissing, Response, job
from pydantic import BaseModel

from sseflow.common.candidate import Candidate, CandidateBatch, candidate_ids_of
from sseflow.common.document import TierStatus
from sseflow.common.maker import TierMaker, tier_document
from sseflow.funnel.gates import GateDecision
from sseflow.funnel.schemas import StageSummary
from sseflow.ingest.batch import ingest
from sseflow.ingest.schemas import IngestDocument, IngestTierDocument
from sseflow.ingest.validation import IngestSettings
from sseflow.provenance import settings_hash, utc_now
from sseflow.store.candidates import CandidateRepository, candidate_repository, identity_fields
from sseflow.store.known import StoredCandidates

if TYPE_CHECKING:
    from sseflow.funnel.maker import Stage

INGEST_TIER = IngestTierDocument.model_fields["tier"].default
#: Funnel bookkeeping jobs write candidate records, so they see the job store.
RECORDING = JobConfig(expose_store=True)
GATING = JobConfig(expose_store=True, on_missing_references=OnMissing.NONE)
#: Job metadata keys by which a tier job is known (to the local runner and in reasons).
TIER_KEY = "sseflow_tier"
CANDIDATES_KEY = "sseflow_candidates"
BATCH_KEY = "sseflow_batch"
NO_RESULT = "tier job ended without a result (it raised, was killed or ran out of walltime)"

F = TypeVar("F", bound=Callable[..., Any])


class StageError(RuntimeError):
    """A funnel job failed; its stage's candidates are recorded failed with this cause."""


def _fail_stage_on_error(what: str) -> Callable[[F], F]:
    """Mark the stage's candidates failed with the cause when the wrapped job raises.

    ``what`` names the job in the reason (e.g. "could not start", "gate crashed").
    """

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(candidates: Sequence[Candidate], *args: Any, **kwargs: Any) -> Any:
            try:
                return function(candidates, *args, **kwargs)
            except Exception as exc:
                stages, index = _stage_arguments(args, kwargs)
                tiers = ", ".join(stages[index].tiers) if stages else "?"
                cause = f"{type(exc).__name__}: {exc}"
                reason = f"stage {index} ({tiers}) {what}: {cause}"
                tier_names = stages[index].tiers if stages else []
                failed = {f"tiers.{t}.status": TierStatus.FAILED.value for t in tier_names}
                failed |= {f"tiers.{t}.reason": reason[:1000] for t in tier_names}
                try:
                    _repository().set_status(
                        candidate_ids_of(candidates),
                        TierStatus.FAILED,
                        tier_names[-1] if tier_names else "?",
                        reason[:1000],
                        tier_fields=failed,
                    )
                except Exception as record_exc:  # the store itself is down: say both
                    reason += f" (and recording it failed: {record_exc})"
                raise StageError(reason) from exc

        return wrapper  # type: ignore[return-value]

    return decorate


def _stage_arguments(args: tuple, kwargs: dict) -> tuple[list[Stage] | None, int]:
    """Return (stages, index) from run_stage/gate_stage arguments."""
    if "stages" in kwargs:
        return kwargs["stages"], int(kwargs.get("index", 0))
    # run_stage(candidates, stages, index), gate_stage(candidates, outputs, stages, index, ...)
    for i, arg in enumerate(args):
        if isinstance(arg, list) and arg and hasattr(arg[0], "makers"):
            return arg, int(args[i + 1]) if i + 1 < len(args) else 0
    return None, 0


def _repository() -> CandidateRepository:
    store = CURRENT_JOB.store
    if store is None:
        raise RuntimeError("funnel jobs need the job store exposed (expose_store=True)")
    return candidate_repository(store)


def _ingest_doc(
    candidate_id: str,
    status: TierStatus,
    settings: dict[str, Any],
    path: str,
    reason: str | None = None,
) -> IngestTierDocument:
    current = CURRENT_JOB.job
    return tier_document(
        IngestTierDocument,
        tier=INGEST_TIER,
        candidate_id=candidate_id,
        status=status,
        reason=reason,
        settings=settings,
        packages=["pymatgen"],
        started_at=utc_now(),
        wall_time_s=0.0,
        job_uuid=current.uuid if current else None,
        source_path=path,
    )


#: Records written per transaction by the ingest job.
INGEST_WRITE_CHUNK = 500


@job(config=RECORDING)
def ingest_inputs(inputs: list[Any], settings: dict[str, Any]) -> IngestDocument:
    """Read and check the inputs; record every input in the candidates collection.

    Records are written in bulk, :data:`INGEST_WRITE_CHUNK` inputs per write (one
    transaction each on the embedded store): a record carries its structure as JSON
    dicts (~0.5 MB for 120 sites), so writing 20,000 at once held ~10 GB. A killed
    ingest leaves whole records of the chunks written; its rerun finds them under their
    ids and writes them again (keyed upserts: nothing doubled).
    """
    repo = _repository()
    repo.ensure_indexes()
    known = StoredCandidates(repo)
    doc = ingest(inputs, IngestSettings(**settings), known=known)
    doc.stored_structures_loaded = known.n_loaded
    records = _ingest_records(doc, settings)
    while chunk := list(itertools.islice(records, INGEST_WRITE_CHUNK)):
        repo.upsert_candidates(chunk)
    return doc


def _ingest_records(
    doc: IngestDocument, settings: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any], Any, Any]]:
    """Yield the record update of every input: accepted, rejected, then duplicates."""
    for candidate in doc.accepted:
        tier = _ingest_doc(
            candidate.candidate_id, TierStatus.PASSED, settings, candidate.source.path
        )
        tier.notes = doc.notes.get(candidate.candidate_id, [])
        yield candidate.candidate_id, identity_fields(candidate), candidate.source, tier
    for rejected in doc.rejected:
        fields = {"formula": rejected.formula, "structure": None}
        tier = _ingest_doc(
            rejected.candidate_id,
            TierStatus.REJECTED,
            settings,
            rejected.source.path,
            rejected.reason,
        )
        yield rejected.candidate_id, fields, rejected.source, tier
    for duplicate in doc.duplicates:  # after the candidates they were merged into
        yield duplicate.candidate_id, {}, duplicate.source, None


def _reusable(record: dict[str, Any] | None, maker: TierMaker) -> dict | None:
    stored = ((record or {}).get("tiers") or {}).get(maker.tier)
    # the hash is recomputed from the stored settings: records written before settings
    # were hashed without MSON bookkeeping keys (@module, @version) are still recognised
    if (
        stored
        and stored.get("status") != TierStatus.FAILED.value
        and settings_hash({"tier": maker.tier, **(stored.get("settings") or {})})
        == maker.tier_settings_hash()
    ):
        return stored
    return None


@job(config=RECORDING)
@_fail_stage_on_error("could not start")
def run_stage(candidates: Sequence[Candidate], stages: list[Stage], index: int) -> Response:
    """Replace itself by the stage's tier jobs, their record jobs and the stage's gate.

    The candidates travel on as one :class:`~sseflow.common.candidate.CandidateBatch`
    (batch tiers, the gate, the next stage): jobflow's bookkeeping then does not
    re-serialise every structure for every job.
    """
    stage = stages[index]
    repo = _repository()
    candidates = CandidateBatch.of(candidates)
    ids = list(candidates.candidate_ids)
    records = repo.get_many(ids, projection={"structure": 0})
    repo.set_status(
        ids,
        TierStatus.PENDING,
        stage.tiers[-1],
        f"in stage {index} ({', '.join(stage.tiers)})",
    )
    jobs: list[Job | Flow] = []
    outputs: dict[str, Any] = {}
    reused: list[str] = []
    recorded: list[Any] = []  # the gate waits for every record job (FireWorks runs any order)
    for maker in stage.makers:
        exclude = sorted(maker.document_class.record_exclude)
        stored = [_reusable(records.get(cid), maker) for cid in ids]
        if maker.batch:
            if candidates and all(stored):
                outputs[maker.tier] = stored
                reused.extend(ids)
            elif candidates:
                batch_job = _tag(maker.make(candidates), maker.tier, ids, batch=True)
                record = record_tier(batch_job.output, ids, maker.tier, exclude)
                record.name = f"record {maker.tier} ({len(ids)} candidates)"
                jobs.extend([batch_job, record])
                recorded.append(record.output)
                outputs[maker.tier] = batch_job.output
            else:
                outputs[maker.tier] = []
            continue
        per_candidate: list[Any] = []
        if all(stored):  # nothing to compute: no need to decode the structures
            outputs[maker.tier] = stored
            reused.extend(ids)
            continue
        for candidate, previous in zip(candidates, stored, strict=True):
            if previous is not None:
                per_candidate.append(previous)
                reused.append(candidate.candidate_id)
                continue
            tier_job = _tag(maker.make(candidate), maker.tier, [candidate.candidate_id])
            record = record_tier([tier_job.output], [candidate.candidate_id], maker.tier, exclude)
            record.name = f"record {maker.tier} {candidate.candidate_id}"
            jobs.extend([tier_job, record])
            recorded.append(record.output)
            per_candidate.append(tier_job.output)
        outputs[maker.tier] = per_candidate
    gate = gate_stage(candidates, outputs, stages, index, sorted(set(reused)), recorded=recorded)
    gate.name = f"gate {index} ({', '.join(stage.tiers)})"
    return Response(replace=Flow([*jobs, gate], output=gate.output, name=f"stage {index}"))


def _tag(
    tier_job: Job | Flow, tier: str, candidate_ids: list[str], batch: bool = False
) -> Job | Flow:
    """Mark a tier job (or the jobs of a tier's flow) with its tier and candidates."""
    for one in tier_job.jobs if isinstance(tier_job, Flow) else [tier_job]:
        one.metadata.update({TIER_KEY: tier, CANDIDATES_KEY: candidate_ids, BATCH_KEY: batch})
    return tier_job


def failed_tier_document(tier: str, candidate_id: str, reason: str) -> dict[str, Any]:
    """Return the record document of a tier that produced nothing, with the reason."""
    return {
        "tier": tier,
        "candidate_id": candidate_id,
        "status": TierStatus.FAILED.value,
        "reason": reason,
        "finished_at": utc_now().isoformat(),
    }


def _tier_documents(output: Any, candidate_ids: Sequence[str], tier: str) -> list[dict[str, Any]]:
    """Return one record document per candidate from a tier job's output (or its absence)."""
    docs = [_as_dict(x) for x in output] if isinstance(output, list) else []
    out = []
    for i, cid in enumerate(candidate_ids):
        data = docs[i] if i < len(docs) else None
        out.append(data if data is not None else failed_tier_document(tier, cid, NO_RESULT))
    return out


@job(config=GATING)
def record_tier(outputs: list[Any], candidate_ids: list[str], tier: str, exclude: list[str]) -> int:
    """Write a tier's documents into the candidate records as soon as the tier finished.

    Parameters
    ----------
    outputs
        The tier job's output: one document per candidate (None when the job died;
        a batch tier's output is one list for all ``candidate_ids``).
    candidate_ids
        Candidates, in the order of the documents.
    tier
        Tier name.
    exclude
        Document fields kept out of the record (e.g. the BVSE grid).

    Returns
    -------
    int
        Number of records written.
    """
    if outputs is None:  # a batch tier's job died: nothing for anyone
        flat: list[Any] = []
    elif len(outputs) == 1 and isinstance(outputs[0], list):
        flat = outputs[0]
    else:
        flat = list(outputs)
    docs = _tier_documents(flat, candidate_ids, tier)
    rows = [{k: v for k, v in d.items() if k not in exclude} for d in docs]
    _repository().set_tiers(rows, overall=True)
    return len(rows)


def _as_dict(doc: Any) -> dict[str, Any] | None:
    if doc is None:
        return None
    if isinstance(doc, BaseModel):
        return doc.model_dump(mode="json")
    return dict(doc)


def _failed(docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs.values() if d.get("status") == TierStatus.FAILED.value]


def _deferred(docs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Documents of tiers that did not run here (the candidate waits, ``pending``)."""
    return [d for d in docs.values() if d.get("deferred") and d.get("status") == TierStatus.PENDING]


def _batch_decisions(
    gate: Any, stage_docs: list[dict[str, dict[str, Any]]]
) -> dict[int, GateDecision] | None:
    """Return candidate index -> decision from ``gate.evaluate_batch`` (None if absent).

    Gates that judge candidates against each other (e.g. a rank) implement
    ``evaluate_batch(docs_list)``; it sees only candidates whose tiers did not fail.
    """
    if not hasattr(gate, "evaluate_batch"):
        return None
    judged = [i for i, docs in enumerate(stage_docs) if not _failed(docs)]
    decisions = gate.evaluate_batch([stage_docs[i] for i in judged])
    return dict(zip(judged, decisions, strict=True))


@job(config=GATING)
@_fail_stage_on_error("gate crashed")
def gate_stage(
    candidates: Sequence[Candidate],
    outputs: dict[str, Any],
    stages: list[Stage],
    index: int,
    reused: list[str],
    recorded: list[Any] | None = None,
) -> Response:
    """Judge each candidate, write its tier records, and add the next stage.

    ``recorded`` (the record jobs' outputs) only makes the gate run after every record
    job, so that a verdict is never overwritten by a late ``pending``.
    """
    stage = stages[index]
    repo = _repository()
    summary = StageSummary(stage=index, tiers=stage.tiers, n_in=len(candidates), reused=reused)
    survivors: list[str] = []
    stage_docs: list[dict[str, dict[str, Any]]] = []
    candidate_ids = candidate_ids_of(candidates)
    for i, candidate_id in enumerate(candidate_ids):
        docs: dict[str, dict[str, Any]] = {}
        for tier, tier_outputs in outputs.items():
            doc = tier_outputs[i] if tier_outputs is not None and i < len(tier_outputs) else None
            data = _as_dict(doc)
            if data is None:  # the tier's job crashed or was killed: nothing came back
                data = failed_tier_document(tier, candidate_id, NO_RESULT)
            docs[tier] = data
        stage_docs.append(docs)
    # each tier's document class names the fields kept out of the record (e.g. grids)
    excluded_fields = {m.tier: m.document_class.record_exclude for m in stage.makers}
    batch = _batch_decisions(stage.gate, stage_docs)
    verdicts: list[dict[str, Any]] = []
    for i, (candidate_id, docs) in enumerate(zip(candidate_ids, stage_docs, strict=True)):
        failed = _failed(docs)
        deferred = _deferred(docs)
        if failed:
            decision = GateDecision(
                False, "; ".join(f"{d['tier']}: {d.get('reason')}" for d in failed)
            )
            status = TierStatus.FAILED
        elif deferred:  # a tier that cannot run here yet: the candidate waits for it
            decision = GateDecision(False, "; ".join(str(d.get("reason")) for d in deferred))
            status = TierStatus.PENDING
        else:
            decision = stage.gate.evaluate(docs) if batch is None else batch[i]
            status = TierStatus.PASSED if decision.passed else TierStatus.REJECTED
        for tier, data in docs.items():
            excluded = excluded_fields[tier]
            data = {k: v for k, v in data.items() if k not in excluded}
            if data.get("status") != TierStatus.FAILED.value and not data.get("deferred"):
                data["status"] = status.value
                data["reason"] = decision.reason
            verdicts.append(data)
        {
            TierStatus.PASSED: summary.passed,
            TierStatus.REJECTED: summary.rejected,
            TierStatus.FAILED: summary.failed,
            TierStatus.PENDING: summary.pending,
        }[status].append(candidate_id)
        if status is TierStatus.PASSED:
            survivors.append(candidate_id)
    repo.set_tiers(verdicts)  # one write for the stage
    if survivors and index + 1 < len(stages):
        next_stage = run_stage(CandidateBatch.of(candidates).subset(survivors), stages, index + 1)
        next_stage.name = f"stage {index + 1}"
        return Response(output=summary, addition=next_stage)
    # Only an emptied funnel stops what follows it (jobs a user attached to the funnel's
    # output); under FireWorks stop_children defuses them, so a funnel that kept some
    # candidates to the end finishes COMPLETED, one that lost all ends DEFUSED.
    return Response(output=summary, stop_children=not survivors)
