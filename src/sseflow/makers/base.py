"""What every tier Maker shares: its settings, its provenance and safe execution.

A tier Maker is a jobflow :class:`~jobflow.Maker` dataclass with

- ``name``: the job name;
- ``tier`` (class attribute): the key of the tier's document in the candidate record;
- ``batch`` (class attribute): ``False`` when ``make(candidate)`` builds a job for one
  :class:`~sseflow.schemas.candidate.Candidate` whose output is a
  :class:`~sseflow.schemas.tier.TierDocument`; ``True`` when ``make(candidates)`` builds
  a job for a list of candidates whose output is a list of TierDocuments in the same
  order (for tiers that need all candidates at once, e.g. clustering);
- every other dataclass field is a setting, recorded with the result and hashed so a
  re-run with the same settings reuses finished work.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from jobflow import CURRENT_JOB, Maker

from sseflow.provenance import host_name, settings_hash, software_versions, utc_now
from sseflow.schemas.tier import TierDocument, TierStatus

DocT = TypeVar("DocT", bound=TierDocument)


class TierFailure(RuntimeError):
    """A calculation failed in a way that is a property of the candidate.

    Raise it (with a clear message) from a tier's compute function; the tier records
    ``status='failed'`` with that message as the reason and the batch goes on.
    """


@dataclass
class TierMaker(Maker):
    """Base class of Makers that form a tier of the funnel."""

    name: str = "tier"

    tier: ClassVar[str] = "tier"
    batch: ClassVar[bool] = False
    #: Distribution names whose versions are recorded with every result.
    packages: ClassVar[tuple[str, ...]] = ("pymatgen",)

    def tier_settings(self) -> dict[str, Any]:
        """Return the Maker's settings (all dataclass fields except ``name``)."""
        out: dict[str, Any] = {}
        for field in fields(self):
            if field.name == "name":
                continue
            value = getattr(self, field.name)
            out[field.name] = value.as_dict() if hasattr(value, "as_dict") else value
        return out

    def tier_document(
        self, doc_class: type[DocT], candidate_id: str, compute: Callable[[], dict[str, Any]]
    ) -> DocT:
        """Run ``compute`` for one candidate as this tier (see :func:`run_tier`).

        Fills in the tier name, this Maker's settings and packages, and the uuid of the
        running jobflow job (None outside jobflow).
        """
        current = CURRENT_JOB.job
        return run_tier(
            doc_class,
            tier=self.tier,
            candidate_id=candidate_id,
            settings=self.tier_settings(),
            packages=self.packages,
            compute=compute,
            job_uuid=current.uuid if current else None,
        )

    def tier_settings_hash(self) -> str:
        """Return the hash that identifies finished work of this tier with these settings."""
        return settings_hash({"tier": self.tier, **self.tier_settings()})


def run_tier(
    doc_class: type[DocT],
    tier: str,
    candidate_id: str,
    settings: dict[str, Any],
    packages: Iterable[str],
    compute: Callable[[], dict[str, Any]],
    job_uuid: str | None = None,
) -> DocT:
    """Run ``compute`` and wrap its result in a tier document with provenance.

    Parameters
    ----------
    doc_class
        The TierDocument subclass to build.
    tier, candidate_id
        Identify the result.
    settings
        Settings used (recorded and hashed).
    packages
        Distributions whose versions are recorded.
    compute
        Returns the tier-specific fields of ``doc_class``. A :class:`TierFailure` or any
        other exception becomes ``status='failed'`` with the message as reason; a
        ``MemoryError`` is reported as such.

    Returns
    -------
    TierDocument
        ``status='pending'`` on success (the funnel's gate then decides passed or
        rejected), ``'failed'`` otherwise.
    """
    started = utc_now()
    t0 = time.perf_counter()
    values: dict[str, Any] = {}
    status = TierStatus.PENDING
    reason: str | None = None
    try:
        values = compute()
    except TierFailure as exc:
        status, reason = TierStatus.FAILED, str(exc)
    except MemoryError:
        status, reason = TierStatus.FAILED, "out of memory"
    except Exception as exc:  # the batch must go on: record, do not raise
        status = TierStatus.FAILED
        last = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} (at {last.filename}:{last.lineno})"
    return doc_class(
        tier=tier,
        candidate_id=candidate_id,
        status=status,
        reason=reason,
        settings=settings,
        settings_hash=settings_hash({"tier": tier, **settings}),
        software=software_versions(packages),
        host=host_name(),
        started_at=started,
        finished_at=utc_now(),
        wall_time_s=round(time.perf_counter() - t0, 3),
        job_uuid=job_uuid,
        **values,
    )
