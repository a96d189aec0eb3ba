"""A tier that cannot run here yet: its candidates wait, recorded ``pending``.

The default funnel ends with CI-NEB in Quantum ESPRESSO. On a machine where QE is not
set up (no pseudopotential folder, no pw.x), that stage is a
:class:`DeferredTierMaker`: each candidate that reaches it gets a document with
``status: pending``, ``deferred: true``, the reason, and ``resume_command``, the exact
command that runs the stage later on the same store (``sseflow resume ...``). The gate
keeps such candidates ``pending`` (they are neither passed nor rejected), and
``sseflow resume`` starts the funnel again at that stage for exactly those candidates.

The deferred document has its own settings hash, so when the stage can run, its real
Maker (another hash) computes the tier instead of reusing the placeholder.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from jobflow import CURRENT_JOB, job
from pydantic import Field

from sseflow.common.candidate import Candidate
from sseflow.common.document import TierDocument, TierStatus
from sseflow.common.maker import TierMaker, tier_document
from sseflow.provenance import utc_now


class DeferredDocument(TierDocument):
    """A tier not run yet for one candidate: why, and the command that runs it."""

    deferred: bool = Field(True, description="The tier was not run; the candidate waits.")
    resume_command: str | None = Field(
        None, description="Command that runs this tier later on the same store."
    )


@dataclass
class DeferredTierMaker(TierMaker):
    """Stand-in for a tier that cannot run on this machine (see module docstring).

    Parameters
    ----------
    tier
        Tier the candidates wait for, e.g. ``neb_dft``.
    reason
        Why the tier does not run here (recorded as the candidate's reason).
    resume_command
        Command that runs the tier later on the same store.

    Examples
    --------
    >>> maker = DeferredTierMaker(tier="neb_dft", reason="QE not configured")
    >>> maker.tier_settings()
    {'tier': 'neb_dft'}
    """

    name: str = "deferred"
    tier: str = "neb_dft"  # type: ignore[misc]  # an instance field here, not a ClassVar
    reason: str = "the tier cannot run on this machine"
    resume_command: str | None = None

    batch: ClassVar[bool] = False
    document_class: ClassVar[type[TierDocument]] = DeferredDocument
    packages: ClassVar[tuple[str, ...]] = ()
    #: The reason and the command name paths; the placeholder is the same whatever they say.
    runtime_fields: ClassVar[tuple[str, ...]] = ("reason", "resume_command")

    @job
    def make(self, candidate: Candidate) -> DeferredDocument:
        """Record that ``candidate`` waits for this tier."""
        current = CURRENT_JOB.job
        started, t0 = utc_now(), time.perf_counter()
        return tier_document(
            DeferredDocument,
            tier=self.tier,
            candidate_id=candidate.candidate_id,
            status=TierStatus.PENDING,
            reason=self.full_reason,
            settings=self.tier_settings(),
            packages=self.packages,
            started_at=started,
            wall_time_s=time.perf_counter() - t0,
            job_uuid=current.uuid if current else None,
            resume_command=self.resume_command,
        )

    @property
    def full_reason(self) -> str:
        """Return the reason with the command that resumes the funnel here."""
        if not self.resume_command:
            return f"waiting for {self.tier}: {self.reason}"
        return f"waiting for {self.tier}: {self.reason}; run it later with: {self.resume_command}"
