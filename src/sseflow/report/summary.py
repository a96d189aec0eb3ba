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
from sseflow.store.fields import KNOWN_TIERS, record_value

INGEST = "ingest"
#: Where the ranking barrier of a candidate comes from, most faithful first.
BARRIER_SOURCES = (
    ("neb_dft", "tiers.neb_dft.barrier_forward_ev"),
    ("neb_mlip", "tiers.neb_mlip.barrier_forward_ev"),
    ("bvse", "tiers.bvse.ea_ev"),
    ("bvse", "tiers.bvse.ea_1d_ev"),
)
RANKING_RULE = (
    "deepest tier passed (in tier order), then the most faithful barrier available "
    "(neb_dft, else neb_mlip, else the gated BVSE E_a), lowest first; then candidate id"
)

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


class TopCandidate(BaseModel):
    """One row of the top-candidates table."""

    rank: int
    candidate_id: str
    formula: str | None = None
    status: str | None = None
    deepest_passed_tier: str | None = None
    last_tier: str | None = None
    barrier_ev: float | None = Field(None, description="Ranking barrier, eV.")
    barrier_source: str | None = Field(None, description="Tier of barrier_ev.")
    bvse_ea_ev: float | None = None
    p_si: float | None = None
    neb_mlip_barrier_ev: float | None = None
    neb_dft_barrier_ev: float | None = None


class FunnelSummary(BaseModel):
    """Funnel summary of a set of candidate records."""

    generated_at: datetime
    sseflow_version: str = __version__
    n_candidates: int = 0
    n_inputs: int = Field(0, description="Input structures, duplicates included.")
    status_counts: dict[str, int] = Field(default_factory=dict, description="Overall status.")
    tier_order: list[str] = Field(default_factory=list)
    tiers: list[TierSummary] = Field(default_factory=list)
    top_candidates: list[TopCandidate] = Field(default_factory=list)
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


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def tier_order(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the tiers present in ``records`` in funnel order, derived from the data.

    ``ingest`` comes first. Tier A must come before tier B when, on more candidates that
    have both, A started first (``started_at``) than the other way round. Among the
    tiers whose predecessors are all placed, the next is the earliest in sseflow's known
    order (:data:`sseflow.store.fields.KNOWN_TIERS`; unknown tiers after, by name).
    Contradictory evidence (a cycle) is broken by the known order.
    """
    return _TierOrder().add_all(records).order()


class _TierOrder:
    """Accumulates the started_at evidence of :func:`tier_order`, one record at a time."""

    def __init__(self) -> None:
        self.tiers: set[str] = set()
        self.before: Counter[tuple[str, str]] = Counter()

    def add(self, record: Mapping[str, Any]) -> None:
        tiers = record.get("tiers") or {}
        self.tiers.update(tiers)
        timed = sorted(
            (when, tier)
            for tier, doc in tiers.items()
            if tier != INGEST  # re-stamped on every run; always first anyway
            and isinstance(doc, dict)
            and (when := _time(doc.get("started_at"))) is not None
        )
        for (t_a, a), (t_b, b) in combinations(timed, 2):
            if t_a < t_b:
                self.before[(a, b)] += 1

    def add_all(self, records: Iterable[Mapping[str, Any]]) -> _TierOrder:
        for record in records:
            self.add(record)
        return self

    def order(self) -> list[str]:
        def priority(tier: str) -> tuple[int, str]:
            known = KNOWN_TIERS.index(tier) if tier in KNOWN_TIERS else len(KNOWN_TIERS)
            return known, tier

        remaining = {t for t in self.tiers if t != INGEST}
        predecessors = {
            t: {o for o in remaining if o != t and self.before[(o, t)] > self.before[(t, o)]}
            for t in remaining
        }
        placed = [INGEST] if INGEST in self.tiers else []
        while remaining:
            ready = [t for t in remaining if not predecessors[t] & remaining] or list(remaining)
            nxt = min(ready, key=priority)
            placed.append(nxt)
            remaining.remove(nxt)
        return placed


class _TierAccumulator:
    """Counts, reasons and compute of one tier."""

    def __init__(self, tier: str):
        self.tier = tier
        self.statuses: Counter[str] = Counter()
        self.reasons: dict[str, list[str | None]] = defaultdict(list)
        self.wall_times: list[float] = []
        self.batches: dict[str, float] = {}
        self.memory: list[float] = []

    def add(self, doc: Mapping[str, Any]) -> None:
        status = str(doc.get("status") or TierStatus.PENDING.value)
        self.statuses[status] += 1
        if status in (TierStatus.REJECTED.value, TierStatus.FAILED.value):
            self.reasons[status].append(doc.get("reason"))
        batch_time = _number(doc.get("batch_wall_time_s"))
        if batch_time is not None:  # one batch job scored many candidates: count it once
            key = str(doc.get("job_uuid") or f"{doc.get('started_at')}|{batch_time}")
            self.batches[key] = batch_time
        else:
            wall = _number(doc.get("wall_time_s"))
            if wall is not None:
                self.wall_times.append(wall)
        memory = _number(doc.get("peak_memory_mb"))
        if memory is not None:
            self.memory.append(memory)

    def summary(self) -> TierSummary:
        times = self.wall_times + list(self.batches.values())
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


def _top_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return the few values of a record that ranking and the top table need."""
    tiers = record.get("tiers") or {}
    barrier, source = None, None
    for tier, path in BARRIER_SOURCES:
        value = _number(record_value(dict(record), path))
        if value is not None:
            barrier, source = value, tier
            break
    bvse = tiers.get("bvse") or {}
    return {
        "candidate_id": record.get("candidate_id"),
        "formula": record.get("formula"),
        "status": record.get("status"),
        "last_tier": record.get("last_tier"),
        "passed": [
            t
            for t, doc in tiers.items()
            if isinstance(doc, dict) and doc.get("status") == TierStatus.PASSED.value
        ],
        "barrier_ev": barrier,
        "barrier_source": source,
        "bvse_ea_ev": _number(bvse.get("ea_ev", bvse.get("ea_1d_ev"))),
        "p_si": _number((tiers.get("atomsets") or {}).get("p_si")),
        "neb_mlip_barrier_ev": _number((tiers.get("neb_mlip") or {}).get("barrier_forward_ev")),
        "neb_dft_barrier_ev": _number((tiers.get("neb_dft") or {}).get("barrier_forward_ev")),
    }


def rank_candidates(
    rows: Sequence[Mapping[str, Any]], order: Sequence[str], top_n: int
) -> list[TopCandidate]:
    """Return the best ``top_n`` candidates by :data:`RANKING_RULE`.

    Candidates that did not pass ingest are not ranked.
    """
    depth = {tier: i for i, tier in enumerate(order)}
    ranked = []
    for row in rows:
        passed = [t for t in row["passed"] if t in depth]
        if not passed:
            continue
        deepest = max(passed, key=depth.__getitem__)
        barrier = row["barrier_ev"]
        key = (-depth[deepest], barrier is None, barrier or 0.0, str(row["candidate_id"]))
        ranked.append((key, deepest, row))
    ranked.sort(key=lambda item: item[0])
    fields = set(TopCandidate.model_fields)
    return [
        TopCandidate(
            rank=i + 1,
            deepest_passed_tier=deepest,
            **{k: v for k, v in row.items() if k in fields},
        )
        for i, (_, deepest, row) in enumerate(ranked[: max(top_n, 0)])
    ]


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
        Number of top candidates.
    order
        Tier order; default derived from the records (:func:`tier_order`). Tiers found
        in the records but missing from ``order`` are appended in derived order.

    Returns
    -------
    FunnelSummary
    """
    tier_evidence = _TierOrder()
    accumulators: dict[str, _TierAccumulator] = {}
    statuses: Counter[str] = Counter()
    rows = []
    n_inputs = 0
    for record in records:
        tier_evidence.add(record)
        statuses[str(record.get("status") or TierStatus.PENDING.value)] += 1
        n_inputs += max(len(record.get("sources") or []), 1)
        for tier, doc in (record.get("tiers") or {}).items():
            if isinstance(doc, dict):
                accumulators.setdefault(tier, _TierAccumulator(tier)).add(doc)
        rows.append(_top_row(record))
    derived = tier_evidence.order()
    final_order = list(dict.fromkeys([*(order or []), *derived]))
    return FunnelSummary(
        generated_at=datetime.now(UTC),
        n_candidates=len(rows),
        n_inputs=n_inputs,
        status_counts=dict(sorted(statuses.items())),
        tier_order=final_order,
        tiers=[
            accumulators[t].summary() if t in accumulators else TierSummary(tier=t)
            for t in final_order
        ],
        top_candidates=rank_candidates(rows, final_order, top_n),
    )
