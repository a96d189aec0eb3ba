"""Which candidates wait (``pending``) for which stage, and whether it can run now.

``sseflow resume`` and :func:`sseflow.resume` run, for every group of candidates
recorded ``pending`` for a tier, the funnel from that tier's stage
(:meth:`~sseflow.funnel.maker.ScreeningFunnelMaker.resume`). This module finds the
groups and refuses clearly when a stage still cannot run or is not in the funnel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sseflow.common.candidate import Candidate
from sseflow.funnel.deferred import DeferredTierMaker
from sseflow.funnel.maker import ScreeningFunnelMaker


class ResumeError(ValueError):
    """The waiting candidates cannot be resumed with this funnel here (says why)."""


@dataclass
class WaitingGroup:
    """Candidates that wait for one tier, and the index of the stage that runs it."""

    tier: str
    stage_index: int
    candidates: list[Candidate]


def waiting_groups(funnel: ScreeningFunnelMaker, repo: Any) -> list[WaitingGroup]:
    """Return the candidates recorded ``pending``, grouped by the tier they wait for.

    Parameters
    ----------
    funnel
        The funnel they were screened with.
    repo
        The :class:`~sseflow.store.candidates.CandidateRepository` of the store.

    Raises
    ------
    ResumeError
        When the funnel has no stage for a tier they wait for, or that stage still
        cannot run here (e.g. Quantum ESPRESSO still not set up).
    """
    waiting: dict[str, list[Candidate]] = {}
    for record in repo.find({"status": "pending", "structure": {"$ne": None}}):
        waiting.setdefault(str(record.get("last_tier")), []).append(Candidate.from_record(record))
    stages = funnel.runnable_stages()
    groups = []
    for tier, candidates in waiting.items():
        try:
            index = funnel.stage_index(tier)
        except ValueError as exc:
            raise ResumeError(
                f"{len(candidates)} candidate(s) wait for the tier {tier!r}, which this "
                "funnel does not run: give the funnel file they were screened with"
            ) from exc
        stuck = [m for m in stages[index].makers if isinstance(m, DeferredTierMaker)]
        if stuck:
            raise ResumeError(
                f"{len(candidates)} candidate(s) wait for {tier}, which still cannot run "
                f"here: {stuck[0].reason}"
            )
        groups.append(WaitingGroup(tier, index, candidates))
    return sorted(groups, key=lambda g: g.stage_index)
