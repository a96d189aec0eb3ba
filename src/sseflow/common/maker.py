"""What every tier Maker shares: its settings, its document, its provenance, safe execution.

A tier Maker is a jobflow :class:`~jobflow.Maker` dataclass with

- ``name``: the job name;
- ``tier`` (class attribute): the key of the tier's document in the candidate record;
- ``document_class`` (class attribute): the :class:`~sseflow.common.document.TierDocument`
  subclass its jobs return; the funnel reads ``document_class.record_exclude`` to keep
  large fields (e.g. the BVSE grid) out of the candidate record;
- ``batch`` (class attribute): ``False`` when ``make(candidate)`` builds a job for one
  :class:`~sseflow.common.candidate.Candidate`; ``True`` when ``make(candidates)``
  builds one job for a list of candidates whose output is a list of documents in the
  same order (for tiers that need all candidates at once, e.g. clustering);
- every other dataclass field is a setting, recorded with the result and hashed so a
  re-run with the same settings reuses finished work. A field named in
  ``flat_settings`` holds a settings object whole (e.g. ``BVSEMaker.bvse``); its fields
  are recorded and hashed at the top level, as they were before the object was held
  whole, so stored results keep their settings hash.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from jobflow import CURRENT_JOB, Maker

from sseflow.common.candidate import as_candidates
from sseflow.common.document import TierDocument, TierStatus
from sseflow.provenance import (
    host_name,
    plain_settings,
    settings_hash,
    software_versions,
    utc_now,
)

DocT = TypeVar("DocT", bound=TierDocument)


class TierFailure(RuntimeError):
    """A calculation failed in a way that is a property of the candidate.

    Raise it (with a clear message) from a tier's compute function; the tier records
    ``status='failed'`` with that message as the reason and the batch goes on.
    """


def _plain(value: Any) -> Any:
    """Return a settings value as plain JSON-ready data (objects by their fields)."""
    if hasattr(value, "as_dict"):
        return plain_settings(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _settings_class(maker_class: type, field_name: str) -> type:
    """Return the class of the settings object a Maker holds in ``field_name``."""
    for field in dataclasses.fields(maker_class):
        if field.name == field_name:
            if field.default_factory is not dataclasses.MISSING:
                return type(field.default_factory())
            return type(field.default)
    raise AttributeError(f"{maker_class.__name__} has no field {field_name!r}")


def _as_settings(settings_class: type, value: Any) -> Any:
    """Return ``value`` as a ``settings_class`` object (accepts a mapping, e.g. from YAML)."""
    if isinstance(value, settings_class):
        return value
    if isinstance(value, dict):
        values = {k: v for k, v in value.items() if not k.startswith("@")}
        return settings_class(**values)
    raise TypeError(f"expected {settings_class.__name__} or a mapping, got {type(value).__name__}")


def nest_flat_settings(maker_class: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Move keyword settings that belong to a settings object held whole into it.

    ``BVSEMaker(resolution_angstrom=0.3)`` becomes
    ``BVSEMaker(bvse=BVSESettings(resolution_angstrom=0.3))``: funnel YAML files,
    workflows stored on a LaunchPad and scripts written before the Makers held their
    settings objects whole keep working.
    """
    names = getattr(maker_class, "flat_settings", ())
    if not names or not dataclasses.is_dataclass(maker_class):
        return kwargs
    own = {field.name for field in dataclasses.fields(maker_class)}
    values = dict(kwargs)
    for name in names:
        settings_class = _settings_class(maker_class, name)
        keys = {field.name for field in dataclasses.fields(settings_class)}
        moved = {k: values.pop(k) for k in list(values) if k in keys and k not in own}
        if moved:
            base = values.get(name)
            base = settings_class() if base is None else _as_settings(settings_class, base)
            values[name] = dataclasses.replace(base, **moved)
    return values


def _accepting_structures(make: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Maker's ``make`` so that it also takes pymatgen Structures."""

    @functools.wraps(make)
    def make_from_structures(self: Any, candidate: Any, *args: Any, **kwargs: Any) -> Any:
        return make(self, as_candidates(candidate), *args, **kwargs)

    return make_from_structures


class _TierMakerType(type):
    """Lets a Maker be built with the fields of its settings objects given flat."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(*args, **nest_flat_settings(cls, kwargs))


@dataclasses.dataclass
class TierMaker(Maker, metaclass=_TierMakerType):
    """Base class of Makers that form a tier of the funnel.

    Examples
    --------
    A Maker holds its settings object whole; its fields may also be given flat:

    >>> from sseflow.bvse import BVSEMaker, BVSESettings
    >>> BVSEMaker(resolution_angstrom=0.3) == BVSEMaker(bvse=BVSESettings(resolution_angstrom=0.3))
    True
    """

    name: str = "tier"

    tier: ClassVar[str] = "tier"
    batch: ClassVar[bool] = False
    #: Document class the Maker's jobs return.
    document_class: ClassVar[type[TierDocument]] = TierDocument
    #: Distribution names whose versions are recorded with every result.
    packages: ClassVar[tuple[str, ...]] = ("pymatgen",)
    #: Fields holding a settings object whose fields are recorded at the top level.
    flat_settings: ClassVar[tuple[str, ...]] = ()
    #: Fields holding a settings object recorded as one nested mapping (e.g. ``qe``).
    nested_settings: ClassVar[tuple[str, ...]] = ()
    #: Settings that do not change the result (left out of the record and the hash).
    runtime_fields: ClassVar[tuple[str, ...]] = ()
    #: Settings added after results were stored: hashed only when not at their default,
    #: so results computed before (with the default behaviour) stay reusable.
    hashed_if_changed: ClassVar[dict[str, Any]] = {}
    #: Settings added later with a default that changes the behaviour: a Maker
    #: serialised before they existed gets these values back when it is deserialised
    #: (the behaviour, and so the settings hash, of its time).
    legacy_defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        """Rebuild a serialised Maker (see ``legacy_defaults``)."""
        return super().from_dict({**cls.legacy_defaults, **d})

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # every tier's make() takes a Structure (or a list of them for batch tiers) as
        # well as a Candidate: ``BVSEMaker().make(structure)`` works in a notebook
        if "make" in cls.__dict__:
            cls.make = _accepting_structures(cls.__dict__["make"])  # type: ignore[method-assign]

    def __post_init__(self) -> None:
        # settings objects may arrive as mappings (YAML, JSON): make them objects
        for name in (*self.flat_settings, *self.nested_settings):
            settings_class = _settings_class(type(self), name)
            setattr(self, name, _as_settings(settings_class, getattr(self, name)))

    def tier_settings(self) -> dict[str, Any]:
        """Return the settings recorded with a result and hashed (JSON-ready)."""
        out: dict[str, Any] = {}
        for field in dataclasses.fields(self):
            if field.name == "name" or field.name in self.runtime_fields:
                continue
            value = getattr(self, field.name)
            if field.name in self.flat_settings:
                out.update({k: _plain(v) for k, v in vars(value).items()})
            else:
                out[field.name] = _plain(value)
        for name, default in self.hashed_if_changed.items():
            if name in out and out[name] == default:
                del out[name]
        for name in self.runtime_fields:
            out.pop(name, None)
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


def tier_document(
    doc_class: type[DocT],
    *,
    tier: str,
    candidate_id: str,
    status: TierStatus,
    settings: dict[str, Any],
    packages: Iterable[str],
    started_at: datetime,
    wall_time_s: float,
    reason: str | None = None,
    job_uuid: str | None = None,
    **values: Any,
) -> DocT:
    """Return a tier document with its provenance (the one place documents are built).

    Parameters
    ----------
    doc_class
        The TierDocument subclass to build.
    tier, candidate_id
        Identify the result.
    status, reason
        Outcome and why (for rejections and failures).
    settings
        Settings used (recorded and hashed with the tier name).
    packages
        Distributions whose versions are recorded.
    started_at, wall_time_s
        UTC start time and wall time (s).
    job_uuid
        uuid of the jobflow job that made it.
    values
        Tier-specific fields of ``doc_class``.
    """
    return doc_class(
        tier=tier,
        candidate_id=candidate_id,
        status=status,
        reason=reason,
        settings=settings,
        settings_hash=settings_hash({"tier": tier, **settings}),
        software=software_versions(packages),
        host=host_name(),
        started_at=started_at,
        finished_at=utc_now(),
        wall_time_s=round(wall_time_s, 3),
        job_uuid=job_uuid,
        **values,
    )


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
    job_uuid
        uuid of the jobflow job that runs it.

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
    return tier_document(
        doc_class,
        tier=tier,
        candidate_id=candidate_id,
        status=status,
        reason=reason,
        settings=settings,
        packages=packages,
        started_at=started,
        wall_time_s=time.perf_counter() - t0,
        job_uuid=job_uuid,
        **values,
    )
