"""The screening funnel: ingest, then a list of stages, each tier Makers plus a gate.

The funnel moves tier by tier. A stage runs its Makers on every surviving candidate
(one job per candidate for ordinary tiers, one job for all candidates for batch tiers),
then a gate job judges each candidate, writes the tier documents into the candidate
records and, if anyone passed, adds the next stage for the survivors with
``Response(addition=...)``; when nobody is left it stops with
``Response(stop_children=True)``. Stages are data: adding one means passing another
:class:`Stage`; the funnel code does not change.

Re-running the funnel on the same inputs with the same settings reuses finished work:
a tier whose stored document has the same settings hash (and did not fail) is not
recomputed; its stored document is judged again by the (possibly new) gate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jobflow import CURRENT_JOB, Flow, Job, JobConfig, Maker, OnMissing, Response, job
from monty.json import MSONable
from pydantic import BaseModel, Field
from pymatgen.core import Structure

from sseflow.analysis.ingest import IngestSettings, ingest
from sseflow.flows.gates import GateDecision, PassAllGate, bvse_gate
from sseflow.makers.base import TierMaker
from sseflow.makers.bvse import BVSEMaker
from sseflow.provenance import host_name, settings_hash, software_versions, utc_now
from sseflow.schemas.candidate import Candidate
from sseflow.schemas.ingest import IngestDocument
from sseflow.schemas.tier import TierDocument, TierStatus
from sseflow.store.candidates import CandidateRepository, candidate_repository, identity_fields

INGEST_TIER = "ingest"
#: Funnel bookkeeping jobs write candidate records, so they see the job store.
RECORDING = JobConfig(expose_store=True)
GATING = JobConfig(expose_store=True, on_missing_references=OnMissing.NONE)


@dataclass
class Stage(MSONable):
    """One tier (or several tiers run side by side) and the gate that judges them.

    Parameters
    ----------
    makers
        Tier Makers of this stage (see :mod:`sseflow.makers.base`).
    gate
        Object with ``evaluate(docs) -> GateDecision``; default passes every
        candidate whose tiers did not fail. A gate that also has
        ``evaluate_batch(docs_list) -> list[GateDecision]`` judges all candidates of
        the stage together (see :mod:`sseflow.flows.rank_gate`).
    """

    makers: list[TierMaker]
    gate: Any = field(default_factory=PassAllGate)

    @property
    def tiers(self) -> list[str]:
        """Tier names of this stage."""
        return [maker.tier for maker in self.makers]


def default_stages() -> list[Stage]:
    """Return the default funnel: the BVSE tier gated at E_1D <= 0.6 eV."""
    return [Stage(makers=[BVSEMaker()], gate=bvse_gate(0.6, "1D"))]


class StageSummary(BaseModel):
    """How many candidates entered a stage and what became of them."""

    stage: int
    tiers: list[str]
    n_in: int = 0
    passed: list[str] = Field(default_factory=list)
    rejected: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)
    reused: list[str] = Field(default_factory=list, description="Tier results not recomputed.")


class IngestTierDocument(TierDocument):
    """Ingest outcome of one input (accepted or rejected, with the reason)."""

    tier: str = INGEST_TIER
    source_path: str | None = None


def _repository() -> CandidateRepository:
    store = CURRENT_JOB.store
    if store is None:
        raise RuntimeError("funnel jobs need the job store exposed (expose_store=True)")
    return candidate_repository(store)


def _ingest_doc(
    candidate_id: str, status: TierStatus, settings: dict, path: str, reason: str | None = None
) -> IngestTierDocument:
    now = utc_now()
    return IngestTierDocument(
        candidate_id=candidate_id,
        status=status,
        reason=reason,
        settings=settings,
        settings_hash=settings_hash({"tier": INGEST_TIER, **settings}),
        software=software_versions(["pymatgen"]),
        host=host_name(),
        started_at=now,
        finished_at=now,
        source_path=path,
        job_uuid=CURRENT_JOB.job.uuid if CURRENT_JOB.job else None,
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
    if (
        stored
        and stored.get("settings_hash") == maker.tier_settings_hash()
        and stored.get("status") != TierStatus.FAILED.value
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
    batch = _batch_decisions(stage.gate, stage_docs)
    for i, (candidate, docs) in enumerate(zip(candidates, stage_docs, strict=True)):
        failed = _failed(docs)
        if failed:
            decision = GateDecision(
                False, "; ".join(f"{d['tier']}: {d.get('reason')}" for d in failed)
            )
            status = TierStatus.FAILED
        else:
            decision = stage.gate.evaluate(docs) if batch is None else batch[i]
            status = TierStatus.PASSED if decision.passed else TierStatus.REJECTED
        for data in docs.values():
            data = {k: v for k, v in data.items() if k != "grid"}
            if data.get("status") != TierStatus.FAILED.value:
                data["status"] = status.value
                data["reason"] = decision.reason
            repo.set_tier(data)
        {
            TierStatus.PASSED: summary.passed,
            TierStatus.REJECTED: summary.rejected,
            TierStatus.FAILED: summary.failed,
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


@dataclass
class ScreeningFunnelMaker(Maker):
    """Build the funnel Flow: ingest, then each :class:`Stage` in turn.

    Parameters
    ----------
    name
        Flow name.
    stages
        Ordered stages; default: BVSE gated at E_1D <= 0.6 eV.
    ingest_settings
        Validation rules for inputs (atom limit, distances, charge tolerance).
    """

    name: str = "screening funnel"
    stages: list[Stage] = field(default_factory=default_stages)
    ingest_settings: IngestSettings = field(default_factory=IngestSettings)

    def make(self, inputs: list[str | Path | Structure]) -> Flow:
        """Return the funnel Flow for structure files, folders or Structures."""
        resolved = [x if isinstance(x, Structure) else str(Path(x).resolve()) for x in inputs]
        ingest_job = ingest_inputs(resolved, asdict(self.ingest_settings))
        ingest_job.name = "ingest"
        first = run_stage(ingest_job.output.accepted, self.stages, 0)
        first.name = "stage 0"
        return Flow([ingest_job, first], output=first.output, name=self.name)
