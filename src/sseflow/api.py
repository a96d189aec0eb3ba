"""One call to run the funnel from Python, and its results for notebooks.

>>> import sseflow                                              # doctest: +SKIP
>>> results = sseflow.screen(["my_cifs/"], until="bvse")       # doctest: +SKIP
>>> results.to_dataframe().head()                              # doctest: +SKIP

:func:`screen` builds the same funnel as ``sseflow screen`` (the default funnel, or a
YAML file, with the same options applied the same way: :mod:`sseflow.funnel.options`),
runs it with jobflow on the embedded store (or MongoDB) and returns
:class:`ScreeningResults`: the candidates of this run in funnel rank, their records,
and ``to_dataframe()``. :func:`resume` runs the stage that pending candidates wait for.
Third-party logging is hidden unless ``verbose=True``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pymatgen.core import Structure

from sseflow.store.rank import HEAVY_FIELDS, RankedCandidate, rank_records

if TYPE_CHECKING:
    import pandas as pd
    from jobflow import JobStore

    from sseflow.funnel.maker import ScreeningFunnelMaker
    from sseflow.store.candidates import CandidateRepository


@dataclasses.dataclass
class ScreeningResults:
    """The candidates of one funnel run, in funnel rank (best first).

    Attributes
    ----------
    candidate_ids
        Every input's candidate id (accepted first, then rejected at ingest).
    funnel
        The funnel that ran.
    store
        The job store holding the records (``candidates`` collection).
    """

    candidate_ids: list[str]
    funnel: ScreeningFunnelMaker
    store: JobStore

    @property
    def repository(self) -> CandidateRepository:
        """The candidate records of the store (read-only)."""
        from sseflow.store.candidates import candidate_repository

        return candidate_repository(self.store, read_only=True)

    def ranked(self) -> list[RankedCandidate]:
        """Return the candidates of this run in funnel rank, with their numbers."""
        records = self.repository.find(
            {"candidate_id": {"$in": self.candidate_ids}},
            projection=dict.fromkeys(HEAVY_FIELDS, 0),
        )
        return rank_records(records)

    def record(self, candidate_id: str) -> dict[str, Any]:
        """Return one full candidate record (structure and tier documents).

        Raises
        ------
        KeyError
            For an id that is not a candidate of this run.
        """
        if candidate_id not in self.candidate_ids:
            raise KeyError(candidate_id)
        record = self.repository.get(candidate_id)
        if record is None:
            raise KeyError(candidate_id)
        return record

    def structure(self, candidate_id: str) -> Structure | None:
        """Return a candidate's structure as ingested (None if rejected at ingest)."""
        data = self.record(candidate_id).get("structure")
        return Structure.from_dict(data) if data else None

    @property
    def pending(self) -> list[RankedCandidate]:
        """Candidates that wait for a stage that could not run here (see :func:`resume`)."""
        return [row for row in self.ranked() if row.status == "pending"]

    def to_dataframe(self) -> pd.DataFrame:
        """Return one row per candidate, in rank order, indexed by candidate id.

        Columns: rank, formula, status, last_tier, reason, deepest_passed_tier,
        barrier_ev (the ranking barrier) and barrier_source, p_si, soap_selected,
        band_gap_ev, bvse_ea_ev, neb_mlip_barrier_ev, neb_dft_barrier_ev (eV).
        """
        import pandas as pd

        rows = [row.model_dump() for row in self.ranked()]
        columns = list(RankedCandidate.model_fields)
        return pd.DataFrame(rows, columns=columns).set_index("candidate_id")

    def __len__(self) -> int:
        return len(self.candidate_ids)

    def __iter__(self) -> Iterator[RankedCandidate]:
        return iter(self.ranked())


def _store(data_dir: str | Path | None, db_uri: str | None) -> JobStore:
    from sseflow.store import get_job_store

    store = get_job_store(data_dir=Path(data_dir) if data_dir else None, uri=db_uri)
    store.connect()
    return store


def _run(flow: Any, store: JobStore, verbose: bool, workers: int | None) -> dict:
    """Run ``flow`` with :func:`sseflow.funnel.run.run_funnel`; return its responses.

    Raises
    ------
    RuntimeError
        When a funnel job (not a tier: those are recorded failed) did not run.
    """
    from sseflow.funnel.run import run_funnel
    from sseflow.noise import quiet_third_party

    with quiet_third_party(verbose):
        result = run_funnel(flow, store, workers=workers, quiet=not verbose)
    if result.errors:
        raise RuntimeError(result.error_message)
    return result.responses


def _funnel(
    config: str | Path | None,
    funnel: ScreeningFunnelMaker | None,
    data_dir: str | Path | None,
    db_uri: str | None,
    options: dict[str, Any],
) -> ScreeningFunnelMaker:
    """Return the funnel of ``funnel`` or ``config`` (default) with ``options`` applied."""
    from sseflow.funnel.options import FunnelOptions, apply_options, build_funnel
    from sseflow.funnel.qe_setup import resume_base

    values = dict(options)
    if "skip" in values:
        values["skip"] = tuple(values["skip"])
    funnel_options = FunnelOptions(labels={n: n for n in values}, **values)
    resume_command = resume_base(data_dir, db_uri, config)
    if funnel is None:
        return build_funnel(config, funnel_options, resume_command)
    maker = apply_options(funnel, funnel_options, "the given funnel")
    return dataclasses.replace(maker, resume_command=resume_command)


def screen(
    inputs: Sequence[str | Path | Structure] | str | Path | Structure,
    *,
    config: str | Path | None = None,
    funnel: ScreeningFunnelMaker | None = None,
    data_dir: str | Path | None = None,
    db_uri: str | None = None,
    verbose: bool = False,
    workers: int | None = None,
    **options: Any,
) -> ScreeningResults:
    """Run the screening funnel on structures and return the ranked results.

    Parameters
    ----------
    inputs
        Files, folders (CIF, POSCAR, JSON) and/or pymatgen Structures.
    config
        Funnel YAML (default: the default funnel, :mod:`sseflow.funnel.defaults`).
    funnel
        A funnel Maker to run instead of ``config`` (options still apply).
    data_dir, db_uri
        Where records go (default: ``SSEFLOW_DATA_DIR`` / ``SSEFLOW_DB_URI``, then
        ``./sseflow-data``).
    verbose
        Show third-party logs.
    workers
        Worker processes for tier jobs (default: this machine's cores; 0 runs them in
        this process). Tier Makers must then be importable classes (not defined in
        ``__main__`` or a notebook cell): use ``workers=0`` for those.
    options
        Any field of :class:`~sseflow.funnel.options.FunnelOptions`, e.g.
        ``until="bvse"``, ``skip=("ml",)``, ``neb_top_n=3``, ``max_ea_ev=0.5``,
        ``qe_pseudo_dir="/path/pslibrary"``. An option the funnel has no use for raises
        :class:`~sseflow.funnel.options.FunnelOptionError`.

    Returns
    -------
    ScreeningResults

    Raises
    ------
    RuntimeError
        When the funnel did not run (ingest or another funnel job failed).
    """
    if isinstance(inputs, str | Path | Structure):
        inputs = [inputs]
    maker = _funnel(config, funnel, data_dir, db_uri, options)
    store = _store(data_dir, db_uri)
    flow = maker.make(list(inputs))
    responses = _run(flow, store, verbose, workers)
    ingest_uuid = flow.jobs[0].uuid
    if ingest_uuid not in responses:
        raise RuntimeError("the funnel did not run (ingest failed); run with verbose=True")
    doc = responses[ingest_uuid][1].output
    ids = doc.accepted_ids + [r.candidate_id for r in doc.rejected]
    return ScreeningResults(candidate_ids=list(dict.fromkeys(ids)), funnel=maker, store=store)


def resume(
    *,
    config: str | Path | None = None,
    data_dir: str | Path | None = None,
    db_uri: str | None = None,
    verbose: bool = False,
    workers: int | None = None,
    **options: Any,
) -> ScreeningResults:
    """Run the stage that candidates recorded ``pending`` wait for (``sseflow resume``).

    Parameters
    ----------
    config, data_dir, db_uri, verbose, workers
        As for :func:`screen` (give the funnel the candidates were screened with).
    options
        Settings the stage needs, e.g. ``qe_pseudo_dir="/path/pslibrary"``.

    Raises
    ------
    sseflow.funnel.resume.ResumeError
        When a waiting stage still cannot run here, or the funnel has no stage for it.
    """
    from sseflow.funnel.resume import waiting_groups
    from sseflow.store.candidates import candidate_repository

    maker = _funnel(config, None, data_dir, db_uri, options)
    store = _store(data_dir, db_uri)
    ids: list[str] = []
    for group in waiting_groups(maker, candidate_repository(store)):
        _run(maker.resume(group.candidates, group.tier), store, verbose, workers)
        ids += [c.candidate_id for c in group.candidates]
    return ScreeningResults(candidate_ids=ids, funnel=maker, store=store)
