"""The funnel rank of candidate records (plain functions on record dicts).

Rule: the deepest tier passed first (in funnel order); then each candidate's most
faithful barrier available - its DFT CI-NEB barrier (``neb_dft``), else its MLIP CI-NEB
barrier (``neb_mlip``), else its gated BVSE E_a - lowest first; candidates without any
barrier after those, by P_SI, highest first; ties by candidate id. Candidates that passed
no tier (rejected at ingest) are not ranked.

Rank 1 is the best candidate. The rank is computed from the records it is taken over
(the candidates of one ``screen`` run, of a query, of the whole store), so it is a
position, not a stored number: ``sseflow candidates`` (sorted by rank by default),
``sseflow report``, ``sseflow export``, the closing table of ``sseflow screen`` and
:func:`sseflow.screen` all use :func:`rank_records`.

Funnel order: :func:`tier_order`, from the records themselves (which tier started
before which), falling back to sseflow's known order
(:data:`~sseflow.store.fields.KNOWN_TIERS`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from sseflow.store.fields import KNOWN_TIERS

INGEST = "ingest"
PASSED = "passed"
FAILED = "failed"

#: Fields of the MLIP tier's document ranked on, first present wins (the calibrated
#: barrier of the MLIP tier, when it records one, before the raw CI-NEB barrier).
MLIP_BARRIER_FIELDS: tuple[str, ...] = ("barrier_calibrated_ev", "barrier_forward_ev")

#: Where the ranking barrier comes from, most faithful first: (source, tier, fields).
BARRIER_SOURCES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("neb_dft", "neb_dft", ("barrier_forward_ev",)),
    ("neb_mlip", "neb_mlip", MLIP_BARRIER_FIELDS),
    ("bvse", "bvse", ("ea_ev", "ea_1d_ev")),
)
RANKING_RULE = (
    "deepest tier passed (in funnel order), then the most faithful barrier available "
    "(neb_dft, else neb_mlip, else the gated BVSE E_a), lowest first; without a barrier, "
    "P_SI, highest first; then candidate id"
)


#: Large record fields ranking never reads: leave them out of the query
#: (``projection=dict.fromkeys(HEAVY_FIELDS, 0)``).
HEAVY_FIELDS = (
    "structure",
    "tiers.neb_mlip.hops",
    "tiers.neb_dft.hops",
    "tiers.neb_mlip.unit_cell",
    "tiers.neb_dft.unit_cell",
    "tiers.qe_relax.structure",
    "tiers.atomsets.features",
    "tiers.soap_clustering.descriptor_settings",
)


class RankedCandidate(BaseModel):
    """One candidate in rank order, with the numbers of every tier."""

    rank: int | None = Field(None, description="1 = best; None when no tier was passed.")
    candidate_id: str
    formula: str | None = None
    status: str | None = None
    last_tier: str | None = None
    reason: str | None = None
    deepest_passed_tier: str | None = None
    barrier_ev: float | None = Field(None, description="Ranking barrier, eV.")
    barrier_source: str | None = Field(None, description="neb_dft, neb_mlip or bvse.")
    p_si: float | None = None
    soap_selected: bool | None = None
    band_gap_ev: float | None = None
    bvse_ea_ev: float | None = None
    neb_mlip_barrier_ev: float | None = None
    neb_dft_barrier_ev: float | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


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


class TierOrder:
    """Accumulates the evidence of :func:`tier_order`, one record at a time."""

    def __init__(self) -> None:
        self.tiers: set[str] = set()
        self.before: Counter[tuple[str, str]] = Counter()

    def add(self, record: Mapping[str, Any]) -> None:
        """Count which tier of ``record`` started before which."""
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

    def add_all(self, records: Iterable[Mapping[str, Any]]) -> TierOrder:
        """Add every record; return self."""
        for record in records:
            self.add(record)
        return self

    def order(self) -> list[str]:
        """Return the tiers in funnel order."""

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


def tier_order(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Return the tiers present in ``records`` in funnel order, derived from the data.

    ``ingest`` comes first. Tier A must come before tier B when, on more candidates that
    have both, A started first (``started_at``) than the other way round. Among the
    tiers whose predecessors are all placed, the next is the earliest in sseflow's known
    order (:data:`sseflow.store.fields.KNOWN_TIERS`; unknown tiers after, by name).
    Contradictory evidence (a cycle) is broken by the known order.
    """
    return TierOrder().add_all(records).order()


def _usable(doc: Any) -> dict[str, Any]:
    """Return a tier document whose numbers count, or an empty one.

    A failed tier's numbers do not count: a NEB stopped by a step or time limit keeps
    its last band's numbers, which are no barrier.
    """
    if not isinstance(doc, dict) or doc.get("status") == FAILED:
        return {}
    return doc


def ranking_barrier(record: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """Return the most faithful barrier of a record (eV) and the tier it comes from."""
    tiers = record.get("tiers") or {}
    for source, tier, fields in BARRIER_SOURCES:
        doc = _usable(tiers.get(tier))
        for field in fields:
            value = _number(doc.get(field))
            if value is not None:
                return value, source
    return None, None


def ranked_row(record: Mapping[str, Any]) -> RankedCandidate:
    """Return the numbers of one record that the rank and the shortlist show (no rank)."""
    tiers = record.get("tiers") or {}
    barrier, source = ranking_barrier(record)
    bvse = _usable(tiers.get("bvse"))
    atomsets = _usable(tiers.get("atomsets"))
    soap = _usable(tiers.get("soap_clustering"))
    mlip = _usable(tiers.get("neb_mlip"))
    mlip_barrier = next(
        (v for f in MLIP_BARRIER_FIELDS if (v := _number(mlip.get(f))) is not None), None
    )
    selected = soap.get("selected")
    return RankedCandidate(
        candidate_id=str(record.get("candidate_id")),
        formula=record.get("formula"),
        status=record.get("status"),
        last_tier=record.get("last_tier"),
        reason=record.get("reason"),
        barrier_ev=barrier,
        barrier_source=source,
        p_si=_number(atomsets.get("p_si")),
        soap_selected=selected if isinstance(selected, bool) else None,
        band_gap_ev=_number(atomsets.get("band_gap_ev")),
        bvse_ea_ev=_number(bvse.get("ea_ev", bvse.get("ea_1d_ev"))),
        neb_mlip_barrier_ev=mlip_barrier,
        neb_dft_barrier_ev=_number(_usable(tiers.get("neb_dft")).get("barrier_forward_ev")),
    )


def _passed(record: Mapping[str, Any]) -> list[str]:
    return [
        tier
        for tier, doc in (record.get("tiers") or {}).items()
        if isinstance(doc, dict) and doc.get("status") == PASSED
    ]


def rank_records(
    records: Iterable[Mapping[str, Any]], order: Sequence[str] | None = None
) -> list[RankedCandidate]:
    """Return every record as a :class:`RankedCandidate`, best first (see module docstring).

    Parameters
    ----------
    records
        Candidate records as stored (``structure`` and NEB images are not needed).
    order
        Funnel order of the tiers; default :func:`tier_order` of ``records``. Tiers of
        the records missing from ``order`` follow in derived order.

    Returns
    -------
    list of RankedCandidate
        Ranked candidates first (rank 1, 2, ...), then those that passed no tier
        (rank None, by candidate id).

    Examples
    --------
    >>> records = [
    ...     {"candidate_id": "sse-a", "tiers": {"ingest": {"status": "passed"},
    ...      "bvse": {"status": "rejected", "ea_ev": 0.7}}},
    ...     {"candidate_id": "sse-b", "tiers": {"ingest": {"status": "passed"},
    ...      "bvse": {"status": "passed", "ea_ev": 0.4}}},
    ... ]
    >>> [(c.rank, c.candidate_id, c.deepest_passed_tier) for c in rank_records(records)]
    [(1, 'sse-b', 'bvse'), (2, 'sse-a', 'ingest')]
    """
    records = list(records)
    derived = tier_order(records)
    full = list(dict.fromkeys([*(order or []), *derived]))
    depth = {tier: i for i, tier in enumerate(full)}
    keyed: list[tuple[tuple[Any, ...], RankedCandidate]] = []
    unranked: list[RankedCandidate] = []
    for record in records:
        row = ranked_row(record)
        passed = [t for t in _passed(record) if t in depth]
        if not passed:
            unranked.append(row)
            continue
        deepest = max(passed, key=depth.__getitem__)
        row.deepest_passed_tier = deepest
        # each candidate's most faithful barrier, compared by value (a DFT-rejected
        # 0.55 eV ranks below a pending 0.2 eV MLIP barrier); none: after, by P_SI
        no_barrier = row.barrier_ev is None
        value = 0.0 if row.barrier_ev is None else row.barrier_ev
        p_si = -(row.p_si if row.p_si is not None else -1.0)
        keyed.append(((-depth[deepest], no_barrier, value, p_si, row.candidate_id), row))
    keyed.sort(key=lambda item: item[0])
    ranked = []
    for i, (_, row) in enumerate(keyed, start=1):
        row.rank = i
        ranked.append(row)
    return ranked + sorted(unranked, key=lambda r: r.candidate_id)
