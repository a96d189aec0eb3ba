"""Tier Makers and gates for the funnel tests, importable by worker processes.

They are real tiers (plain jobflow Makers returning tier documents), each with one
deliberate behaviour: report the process that ran it, raise outside ``run_tier`` (no
document at all), kill its own process, fail to build its jobs, or a gate that raises.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from jobflow import CURRENT_JOB, job

from sseflow.common.document import TierDocument
from sseflow.common.maker import TierMaker
from sseflow.funnel.gates.base import GateDecision


class PidDocument(TierDocument):
    """Which process computed the tier, and the structure's density."""

    pid: int | None = None
    density_g_per_cm3: float | None = None


@dataclass
class PidMaker(TierMaker):
    """Records the process id; ``crash`` formulas raise, ``kill`` formulas SIGKILL the process.

    A raise here happens outside ``tier_document``, so the job ends with no output, as a
    tier with a bug would; a kill ends its process, as a segfault or the OOM killer would.
    """

    name: str = "pid"
    sleep_s: float = 0.0
    crash: list[str] = field(default_factory=list)
    kill: list[str] = field(default_factory=list)

    tier: ClassVar[str] = "pid"
    document_class: ClassVar[type[TierDocument]] = PidDocument
    runtime_fields: ClassVar[tuple[str, ...]] = ("sleep_s", "crash", "kill")

    def make(self, candidate: Any):
        new_job = pid_job(candidate, self)
        new_job.name = f"pid {candidate.formula}"
        return new_job


@job
def pid_job(candidate: Any, maker: PidMaker) -> PidDocument:
    if candidate.formula in maker.crash:
        raise RuntimeError(f"deliberate crash on {candidate.formula}")
    if candidate.formula in maker.kill:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(maker.sleep_s)
    assert CURRENT_JOB.job is not None
    return maker.tier_document(
        PidDocument,
        candidate.candidate_id,
        lambda: {"pid": os.getpid(), "density_g_per_cm3": float(candidate.structure.density)},
    )


@dataclass
class BrokenMaker(TierMaker):
    """A tier whose ``make`` fails: the stage cannot build its jobs."""

    name: str = "broken"
    tier: ClassVar[str] = "broken"

    def make(self, candidate: Any):
        raise TypeError("BrokenMaker.make() got an unexpected keyword argument 'x'")


@dataclass
class RaisingGate:
    """A gate that raises on every candidate (a bug in a user's gate)."""

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        raise ZeroDivisionError("deliberate gate bug")
