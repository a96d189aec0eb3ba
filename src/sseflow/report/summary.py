"""The funnel summary: plain functions on candidate records (no database, no jobflow).

:func:`summarize` reads candidate records (dicts as stored in the ``candidates``
collection) once and returns a :class:`FunnelSummary`: per tier how many candidates
entered, passed, were rejected, failed or are pending, why they were rejected or failed
(reasons grouped), the compute spent, and the top candidates.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from sseflow import __version__
from sseflow.common.document import TierStatus
from sseflow.store.rank import (  # tier_order: public here too
    INGEST,
    RANKING_RULE,
    RankedCandidate,
    TierOrder,
    rank_records,
    tier_order,
)

#: Tiers that share one stage (one gate) in sseflow's funnels, even when every
#: candidate passed both (then the records alone cannot tell).
KNOWN_STAGES: tuple[tuple[str, ...], ...] = (("soap_clustering", "atomsets"),)
__all__ = [
    "KNOWN_STAGES",
    "RANKING_RULE",
    "ComputeSummary",
    "FunnelSummary",
    "ReasonCount",
    "StageSummary",
    "TierSummary",
    "TopCandidate",
    "group_reasons",
    "normalize_reason",
    "stage_label",
    "summarize",
    "tier_order",
]

#: A top candidate of the report (one row of the ranked shortlist).
TopCandidate = RankedCandidate

_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?!\w|\.\d)")
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:/[^\s/:'\"]+){2,}/?")
_ID = re.compile(r"\b(?:sse|file)-[0-9a-f]{12}\b")


class ReasonCount(BaseModel):
    """Candidates that left a tier for the same kind of reason."""

    reason: str = Field(..., description="Reason with numbers as '#', paths '<path>', ids '<id>'.")
    count: int
    example: str = Field(..., description="One reason as recorded.")


class ComputeSummary(BaseModel):
    """Compute spent in one tier.

    Batch tiers (documents with ``batch_wall_time_s``) count each batch job once.
    """

    n_timed: int = Field(0, description="Timed units: documents, or batch jobs.")
    wall_time_s_total: float = 0.0
    wall_time_s_median: float | None = None
    wall_time_s_max: float | None = None
    n_with_memory: int = 0
    peak_memory_mb_median: float | None = None
    peak_memory_mb_max: float | None = None


class TierSummary(BaseModel):
    """What became of the candidates that entered one tier."""

    tier: str
    entered: int = 0
    passed: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    other: int = Field(0, description="Documents with a status sseflow does not know.")
    rejected_reasons: list[ReasonCount] = Field(default_factory=list)
    failed_reasons: list[ReasonCount] = Field(default_factory=list)
    compute: ComputeSummary = Field(default_factory=ComputeSummary)


class StageSummary(BaseModel):
    """What became of the candidates that entered one stage (tiers judged by one gate).

    A candidate rejected by the ML gate counts once here, though both ML tiers record
    the rejection; compute is the sum over the stage's tiers.
    """

    stage: int = Field(..., description="1 = first stage after ingest; 0 = ingest.")
    tiers: list[str]
    entered: int = 0
    passed: int = 0
    rejected: int = 0
    failed: int = 0
    pending: int = 0
    other: int = 0
    rejected_reasons: list[ReasonCount] = Field(default_factory=list)
    failed_reasons: list[ReasonCount] = Field(default_factory=list)
    pending_reasons: list[ReasonCount] = Field(default_factory=list)
    wall_time_s_total: float = 0.0


class FunnelSummary(BaseModel):
    """Funnel summary of a set of candidate records."""

    generated_at: datetime
    sseflow_version: str = __version__
    n_candidates: int = 0
    n_inputs: int = Field(0, description="Input structures, duplicates included.")
    status_counts: dict[str, int] = Field(default_factory=dict, description="Overall status.")
    tier_order: list[str] = Field(default_factory=list)
    tiers: list[TierSummary] = Field(default_factory=list)
    stages: list[StageSummary] = Field(
        default_factory=list, description="Tiers judged by one gate counted together."
    )
    top_candidates: list[RankedCandidate] = Field(default_factory=list)
    p_si_by_outcome: dict[str, list[float]] = Field(
        default_factory=dict, description="ML-stage outcome -> P_SI values (figure)."
    )
    bvse_ea_ev_by_outcome: dict[str, list[float]] = Field(
        default_factory=dict, description="BVSE outcome -> gated E_a values, eV (figure)."
    )
    ranking_rule: str = RANKING_RULE


def normalize_reason(reason: str) -> str:
    """Return a reason with numbers as '#', file paths as '<path>', ids as '<id>'.

    ``"ea_1d_ev = 0.634 eV > 0.6 eV"`` and ``"ea_1d_ev = 0.71 eV > 0.6 eV"`` both become
    ``"ea_1d_ev = # eV > # eV"``, so they are counted together.
    """
    text = " ".join(str(reason).split())
    text = _ID.sub("<id>", _PATH.sub("<path>", text))
    return _NUMBER.sub("#", text)


def group_reasons(reasons: Iterable[str | None]) -> list[ReasonCount]:
    """Group reasons by :func:`normalize_reason`, most frequent first."""
    counts: Counter[str] = Counter()
    examples: dict[str, str] = {}
    for reason in reasons:
        text = reason if reason else "(no reason recorded)"
        key = normalize_reason(text)
        counts[key] += 1
        examples.setdefault(key, text)
    return [
        ReasonCount(reason=key, count=n, example=examples[key])
        for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _TierAccumulator:
    """Counts, reasons and compute of one tier."""

    def __init__(self, tier: str):
        self.tier = tier
        self.statuses: Counter[str] = Counter()
        self.reasons: dict[str, list[str | None]] = defaultdict(list)
        self.wall_times: list[float] = []
        self.batches: dict[str, float] = {}
        self.jobs: dict[str, float] = {}
        self.memory: list[float] = []

    def add(self, doc: Mapping[str, Any]) -> None:
        status = str(doc.get("status") or TierStatus.PENDING.value)
        self.statuses[status] += 1
        if status != TierStatus.PASSED.value:
            self.reasons[status].append(doc.get("reason"))
        # one job that scored many candidates (a batch tier) is one unit of compute:
        # its batch_wall_time_s when recorded, else the sum of the shares it recorded
        batch_time = _number(doc.get("batch_wall_time_s"))
        wall = _number(doc.get("wall_time_s"))
        job = doc.get("job_uuid")
        if batch_time is not None:
            key = str(job or f"{doc.get('started_at')}|{batch_time}")
            self.batches[key] = batch_time
        elif job and wall is not None:
            self.jobs[str(job)] = self.jobs.get(str(job), 0.0) + wall
        elif wall is not None:
            self.wall_times.append(wall)
        memory = _number(doc.get("peak_memory_mb"))
        if memory is not None:
            self.memory.append(memory)

    def summary(self) -> TierSummary:
        times = self.wall_times + list(self.jobs.values()) + list(self.batches.values())
        compute = ComputeSummary(
            n_timed=len(times),
            wall_time_s_total=round(sum(times), 3),
            wall_time_s_median=statistics.median(times) if times else None,
            wall_time_s_max=max(times) if times else None,
            n_with_memory=len(self.memory),
            peak_memory_mb_median=statistics.median(self.memory) if self.memory else None,
            peak_memory_mb_max=max(self.memory) if self.memory else None,
        )
        known = {s.value for s in TierStatus}
        return TierSummary(
            tier=self.tier,
            entered=sum(self.statuses.values()),
            passed=self.statuses[TierStatus.PASSED.value],
            rejected=self.statuses[TierStatus.REJECTED.value],
            failed=self.statuses[TierStatus.FAILED.value],
            pending=self.statuses[TierStatus.PENDING.value],
            other=sum(n for s, n in self.statuses.items() if s not in known),
            rejected_reasons=group_reasons(self.reasons[TierStatus.REJECTED.value]),
            failed_reasons=group_reasons(self.reasons[TierStatus.FAILED.value]),
            compute=compute,
        )


class _StageEvidence:
    """Which tiers were judged by one gate: same candidates, same outcome, same reason."""

    def __init__(self) -> None:
        self.presence: dict[str, set[str]] = defaultdict(set)
        self.disagree: set[tuple[str, str]] = set()
        self.shared: set[tuple[str, str]] = set()

    def add(self, record: Mapping[str, Any]) -> None:
        docs = {
            tier: doc
            for tier, doc in (record.get("tiers") or {}).items()
            if tier != INGEST and isinstance(doc, dict)
        }
        cid = str(record.get("candidate_id"))
        for tier in docs:
            self.presence[tier].add(cid)
        for a, b in combinations(sorted(docs), 2):
            status_a, status_b = docs[a].get("status"), docs[b].get("status")
            if status_a != status_b:
                self.disagree.add((a, b))
            elif status_a in (TierStatus.REJECTED.value, TierStatus.PENDING.value):
                same = docs[a].get("reason") == docs[b].get("reason")
                (self.shared if same else self.disagree).add((a, b))

    def together(self, a: str, b: str) -> bool:
        pair = (min(a, b), max(a, b))
        known = any(a in group and b in group for group in KNOWN_STAGES)
        return (
            self.presence[a] == self.presence[b]
            and pair not in self.disagree
            and (pair in self.shared or known)
        )

    def stages(self, order: Sequence[str]) -> list[list[str]]:
        """Group consecutive tiers of ``order`` judged by one gate (ingest alone)."""
        groups: list[list[str]] = []
        for tier in order:
            last = groups[-1] if groups else None
            if (
                last is not None
                and tier != INGEST
                and INGEST not in last
                and all(self.together(tier, other) for other in last)
            ):
                last.append(tier)
            else:
                groups.append([tier])
        return groups


def _stage_summary(
    index: int, tiers: list[str], records: list[Mapping[str, Any]], compute: float
) -> StageSummary:
    statuses: Counter[str] = Counter()
    reasons: dict[str, list[str | None]] = defaultdict(list)
    for record in records:
        docs = [record["tiers"][t] for t in tiers if isinstance(record["tiers"].get(t), dict)]
        if not docs:
            continue
        status = str(docs[0].get("status") or TierStatus.PENDING.value)
        statuses[status] += 1
        reasons[status].append(docs[0].get("reason"))
    known = {s.value for s in TierStatus}
    return StageSummary(
        stage=index,
        tiers=tiers,
        entered=sum(statuses.values()),
        passed=statuses[TierStatus.PASSED.value],
        rejected=statuses[TierStatus.REJECTED.value],
        failed=statuses[TierStatus.FAILED.value],
        pending=statuses[TierStatus.PENDING.value],
        other=sum(n for s, n in statuses.items() if s not in known),
        rejected_reasons=group_reasons(reasons[TierStatus.REJECTED.value]),
        failed_reasons=group_reasons(reasons[TierStatus.FAILED.value]),
        pending_reasons=group_reasons(reasons[TierStatus.PENDING.value]),
        wall_time_s_total=round(compute, 3),
    )


def stage_label(tiers: Sequence[str], short: bool = False) -> str:
    """Return the name of a stage for people: ``ML (soap_clustering + atomsets)``.

    ``short=True`` gives ``ML`` (terminal tables).
    """
    if set(tiers) == {"soap_clustering", "atomsets"}:
        return "ML" if short else "ML (soap_clustering + atomsets)"
    return " + ".join(tiers)


def _collect(
    into: dict[str, list[float]], doc: Mapping[str, Any] | None, fields: tuple[str, ...]
) -> None:
    """Add the first numeric ``fields`` value of ``doc`` under its status."""
    if not doc:
        return
    value = next((v for f in fields if (v := _number(doc.get(f))) is not None), None)
    if value is not None:
        into[str(doc.get("status") or TierStatus.PENDING.value)].append(value)


def summarize(
    records: Iterable[Mapping[str, Any]],
    top_n: int = 10,
    order: Sequence[str] | None = None,
) -> FunnelSummary:
    """Summarize candidate records, reading them once.

    Parameters
    ----------
    records
        Candidate records as stored (``structure`` is not needed; large tier fields
        may be left out).
    top_n
        Number of top candidates (:func:`~sseflow.store.rank.rank_records`).
    order
        Tier order; default derived from the records (:func:`tier_order`). Tiers found
        in the records but missing from ``order`` are appended in derived order.

    Returns
    -------
    FunnelSummary
        Per tier and per stage (tiers judged by one gate, e.g. the two ML tiers,
        counted once), the top candidates.
    """
    tier_evidence = TierOrder()
    stage_evidence = _StageEvidence()
    accumulators: dict[str, _TierAccumulator] = {}
    statuses: Counter[str] = Counter()
    kept: list[Mapping[str, Any]] = []
    p_si: dict[str, list[float]] = defaultdict(list)
    bvse_ea: dict[str, list[float]] = defaultdict(list)
    n_inputs = 0
    for record in records:
        tier_evidence.add(record)
        stage_evidence.add(record)
        statuses[str(record.get("status") or TierStatus.PENDING.value)] += 1
        n_inputs += max(len(record.get("sources") or []), 1)
        tiers = {t: d for t, d in (record.get("tiers") or {}).items() if isinstance(d, dict)}
        for tier, doc in tiers.items():
            accumulators.setdefault(tier, _TierAccumulator(tier)).add(doc)
        kept.append({**record, "tiers": tiers})
        _collect(p_si, tiers.get("atomsets"), ("p_si",))
        _collect(bvse_ea, tiers.get("bvse"), ("ea_ev", "ea_1d_ev"))
    derived = tier_evidence.order()
    final_order = list(dict.fromkeys([*(order or []), *derived]))
    tier_summaries = [
        accumulators[t].summary() if t in accumulators else TierSummary(tier=t) for t in final_order
    ]
    compute = {t.tier: t.compute.wall_time_s_total for t in tier_summaries}
    stages = [
        _stage_summary(i, group, kept, sum(compute[t] for t in group))
        for i, group in enumerate(stage_evidence.stages(final_order))
    ]
    ranked = [c for c in rank_records(kept, order=final_order) if c.rank is not None]
    return FunnelSummary(
        generated_at=datetime.now(UTC),
        n_candidates=len(kept),
        n_inputs=n_inputs,
        status_counts=dict(sorted(statuses.items())),
        tier_order=final_order,
        tiers=tier_summaries,
        stages=stages,
        top_candidates=ranked[: max(top_n, 0)],
        p_si_by_outcome=dict(p_si),
        bvse_ea_ev_by_outcome=dict(bvse_ea),
    )
