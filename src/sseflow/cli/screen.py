"""``sseflow screen``: run the funnel locally on structure files."""

from __future__ import annotations

import logging
import warnings

from jobflow import run_locally

from sseflow.cli._funnel import (
    BVSEEngineOption,
    ConfigOption,
    DimensionOption,
    MaxAtomsOption,
    MaxEaOption,
    MemoryLimitOption,
    OccupancyOption,
    PathsArgument,
    ResolutionOption,
    TimeLimitOption,
    check_paths,
    funnel_from_options,
)
from sseflow.cli._store import open_store
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, fail, id_table
from sseflow.store import candidate_repository


class _ProgressFilter(logging.Filter):
    """Show jobflow's 'Starting job' lines as short progress lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("Starting job - "):
            name = message.removeprefix("Starting job - ").rsplit(" (", 1)[0]
            console.print(f"  [dim]running[/] {name}")
        return False


def _run_with_progress(flow: object, store: object) -> dict:
    logger = logging.getLogger("jobflow")
    progress = _ProgressFilter()
    handler = logging.StreamHandler()
    handler.addFilter(progress)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # jobflow's use of monty's cd
            return run_locally(flow, store=store, create_folders=False, log=False)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@app.command()
def screen(
    paths: PathsArgument,
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    config: ConfigOption = None,
    max_ea: MaxEaOption = 0.6,
    dimension: DimensionOption = "1D",
    occupancy_mode: OccupancyOption = "weighted",
    resolution: ResolutionOption = 0.2,
    time_limit: TimeLimitOption = 600,
    memory_limit: MemoryLimitOption = 8,
    max_atoms: MaxAtomsOption = 1000,
    bvse_engine: BVSEEngineOption = "native",
) -> None:
    """Run the screening funnel on PATHS and store one record per structure.

    Exit code 0 when the funnel ran (rejections and per-candidate failures are recorded,
    not errors); 1 when no input was found, the store cannot be opened, the funnel
    configuration is invalid or the funnel itself crashed.
    """
    check_paths(paths)
    funnel = funnel_from_options(
        config,
        max_ea,
        dimension,
        occupancy_mode,
        resolution,
        time_limit,
        memory_limit,
        max_atoms,
        bvse_engine=bvse_engine,
    )
    store = open_store(data_dir, db_uri)
    flow = funnel.make(list(paths))
    console.print(
        f"[bold]sseflow screen[/]: {len(paths)} input path(s), {len(funnel.stages)} stage(s)"
    )
    responses = _run_with_progress(flow, store)
    ingest_uuid = flow.jobs[0].uuid
    if ingest_uuid not in responses:
        fail("the funnel did not run (ingest failed); see the log above")
    ingest_doc = responses[ingest_uuid][1].output
    ids = [c.candidate_id for c in ingest_doc.accepted] + [
        r.candidate_id for r in ingest_doc.rejected
    ]
    repo = candidate_repository(store)
    table = id_table("candidate_id", "formula", "status", "last tier", "BVSE E_1D (eV)", "reason")
    for cid in ids:
        rec = repo.get(cid) or {}
        bvse = rec.get("tiers", {}).get("bvse", {})
        ea = bvse.get("ea_1d_ev")
        table.add_row(
            cid,
            rec.get("formula") or "-",
            rec.get("status", "?"),
            rec.get("last_tier") or "-",
            "-" if ea is None else f"{ea:.3f}",
            (rec.get("reason") or "")[:70],
        )
    console.print(table)
    n_dup = len(ingest_doc.duplicates)
    console.print(
        f"{len(ingest_doc.accepted)} accepted, {len(ingest_doc.rejected)} rejected at ingest, "
        f"{n_dup} duplicate(s) merged. Records: `sseflow candidates`, `sseflow show ID`."
    )
