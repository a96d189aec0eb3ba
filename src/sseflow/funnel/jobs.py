"""The funnel's jobs: ingest the inputs, run a stage's tiers, gate the stage.

``run_stage`` replaces itself by the stage's tier jobs followed by ``gate_stage``;
``gate_stage`` judges each candidate, writes its tier documents into the candidate
record (through :class:`~sseflow.store.candidates.CandidateRepository`, leaving out
each document class's ``record_exclude`` fields) and adds the next stage for the
survivors. See :mod:`sseflow.funnel.maker` for the whole picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jobflow import CURRENT_JOB, Flow, Job, JobConfig, OnMissing, Response, job
from pydantic import BaseModel
from pymatgen.core import Structure

from sseflow.common.candidate import Candidate
from sseflow.common.document import TierStatus
from sseflow.common.maker import TierMaker, tier_document
from sseflow.funnel.gates import GateDecision
from sseflow.funnel.schemas import StageSummary
from sseflow.ingest.batch import ingest
from sseflow.ingest.schemas import IngestDocument, IngestTierDocument
from sseflow.ingest.validation import IngestSettings
from sseflow.provenance import settings_hash, utc_now
from sseflow.store.candidates import CandidateRepository, candidate_repository, identity_fields

if TYPE_CHECKING:
    from sseflow.funnel.maker import Stage

INGEST_TIER = IngestTierDocument.model_fields["tier"].default
#: Funnel bookkeeping jobs write candidate records, so they see the job store.
RECORDING = JobConfig(expose_store=True)
GATING = JobConfig(expose_store=True, on_missing_references=OnMissing.NONE)


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


@job(config=RECORDING)
def ingest_inputs(inputs: list[Any], settings: dict[str, Any]) -> IngestDocument:
    """Read and check the inputs; record every input in the candidates collection."""
    repo = _repository()
    repo.ensure_indexes()

    def known(formula: str) -> list[tuple[str, Structure]]:
        found = repo.find({"formula": formula, "structure": {"$ne": None}})
        return [(rec["candidate_id"], Structure.from_dict(rec["structure"])) for rec in found]

    doc = ingest(inputs, IngestSettings(**settings), known=known)
    for candidate in doc.accepted:
        repo.upsert_candidate(candidate.candidate_id, identity_fields(candidate), candidate.source)
        repo.set_tier(
            _ingest_doc(candidate.candidate_id, TierStatus.PASSED, settings, candidate.source.path)
        )
    for rejected in doc.rejected:
        fields = {"formula": rejected.formula, "structure": None}
        repo.upsert_candidate(rejected.candidate_id, fields, rejected.source)
        repo.set_tier(
            _ingest_doc(
                rejected.candidate_id,
                TierStatus.REJECTED,
                settings,
                rejected.source.path,
                rejected.reason,
            )
        )
    for duplicate in doc.duplicates:
        repo.upsert_candidate(duplicate.candidate_id, {}, duplicate.source)
    return doc


def _reusable(repo: CandidateRepository, candidate_id: str, maker: TierMaker) -> dict | None:
    stored = repo.get_tier(candidate_id, maker.tier)
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
def run_stage(candidates: list[Candidate], stages: list[Stage], index: int) -> Response:
    """Replace itself by the stage's tier jobs followed by the stage's gate job."""
    stage = stages[index]
    repo = _repository()
    jobs: list[Job | Flow] = []
    outputs: dict[str, Any] = {}
    reused: list[str] = []
    for maker in stage.makers:
        stored = [_reusable(repo, c.candidate_id, maker) for c in candidates]
        if maker.batch:
            if candidates and all(stored):
                outputs[maker.tier] = stored
                reused.extend(c.candidate_id for c in candidates)
            elif candidates:
                batch_job = maker.make(candidates)
                jobs.append(batch_job)
                outputs[maker.tier] = batch_job.output
            else:
                outputs[maker.tier] = []
            continue
        per_candidate: list[Any] = []
        for candidate, previous in zip(candidates, stored, strict=True):
            if previous is not None:
                per_candidate.append(previous)
                reused.append(candidate.candidate_id)
            else:
                tier_job = maker.make(candidate)
                jobs.append(tier_job)
                per_candidate.append(tier_job.output)
        outputs[maker.tier] = per_candidate
    gate = gate_stage(candidates, outputs, stages, index, sorted(set(reused)))
    gate.name = f"gate {index} ({', '.join(stage.tiers)})"
    return Response(replace=Flow([*jobs, gate], output=gate.output, name=f"stage {index}"))


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
def gate_stage(
    candidates: list[Candidate],
    outputs: dict[str, Any],
    stages: list[Stage],
    index: int,
    reused: list[str],
) -> Response:
    """Judge each candidate, write its tier records, and add the next stage."""
    stage = stages[index]
    repo = _repository()
    summary = StageSummary(stage=index, tiers=stage.tiers, n_in=len(candidates), reused=reused)
    survivors: list[Candidate] = []
    stage_docs: list[dict[str, dict[str, Any]]] = []
    for i, candidate in enumerate(candidates):
        docs: dict[str, dict[str, Any]] = {}
        for tier, tier_outputs in outputs.items():
            doc = tier_outputs[i] if tier_outputs is not None and i < len(tier_outputs) else None
            data = _as_dict(doc)
            if data is None:  # the tier's job crashed or was killed: nothing came back
                data = {
                    "tier": tier,
                    "candidate_id": candidate.candidate_id,
                    "status": TierStatus.FAILED.value,
                    "reason": "tier job did not finish (crashed, killed or out of walltime)",
                }
            docs[tier] = data
        stage_docs.append(docs)
    # each tier's document class names the fields kept out of the record (e.g. grids)
    excluded_fields = {m.tier: m.document_class.record_exclude for m in stage.makers}
    batch = _batch_decisions(stage.gate, stage_docs)
    for i, (candidate, docs) in enumerate(zip(candidates, stage_docs, strict=True)):
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
            repo.set_tier(data)
        {
            TierStatus.PASSED: summary.passed,
            TierStatus.REJECTED: summary.rejected,
            TierStatus.FAILED: summary.failed,
            TierStatus.PENDING: summary.pending,
        }[status].append(candidate.candidate_id)
        if status is TierStatus.PASSED:
            survivors.append(candidate)
    if survivors and index + 1 < len(stages):
        next_stage = run_stage(survivors, stages, index + 1)
        next_stage.name = f"stage {index + 1}"
        return Response(output=summary, addition=next_stage)
    # Only an emptied funnel stops what follows it (jobs a user attached to the funnel's
    # output); under FireWorks stop_children defuses them, so a funnel that kept some
    # candidates to the end finishes COMPLETED, one that lost all ends DEFUSED.
    return Response(output=summary, stop_children=not survivors)
