"""``sseflow screen``: run the funnel locally on structure files.

Execution (worker processes, signals, exit status, the counts of the closing summary)
is :func:`sseflow.funnel.run.screen_inputs`; this module prints.
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Annotated

import typer

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
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, err_console, fail, id_table

if TYPE_CHECKING:
    from jobflow import Job

    from sseflow.funnel.run import ScreenOutcome

WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Worker processes for tier jobs (default: this machine's cores; 0 runs them "
        "in this process).",
        show_default=False,
    ),
]
#: Jobs not worth a progress line (bookkeeping that takes milliseconds).
_QUIET_JOBS = ("record ", "store_inputs")


def _progress(event: str, job: Job) -> None:
    if event == "start" and not job.name.startswith(_QUIET_JOBS):
        console.print(f"  [dim]running[/] {job.name}")
    elif event == "failed":
        console.print(f"  [red]failed[/] {job.name}")


def _print_outcome(outcome: ScreenOutcome) -> None:
    table = id_table("candidate_id", "formula", "status", "last tier", "BVSE E_1D (eV)", "reason")
    for rec in outcome.records:
        ea = (rec.get("tiers") or {}).get("bvse", {}).get("ea_1d_ev")
        table.add_row(
            rec.get("candidate_id", "?"),
            rec.get("formula") or "-",
            rec.get("status", "?"),
            rec.get("last_tier") or "-",
            "-" if ea is None else f"{ea:.3f}",
            (rec.get("reason") or "")[:70],
        )
    if outcome.records:
        console.print(table)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    merged = f"; {outcome.n_merged} merged into another input's or a stored record" * bool(
        outcome.n_merged
    )
    console.print(
        f"{outcome.n_inputs} input(s) -> {len(outcome.records)} candidate record(s): "
        f"{counts or 'none'}{merged}. Records: `sseflow candidates`, `sseflow show ID`."
    )


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
    workers: WorkersOption = None,
    bvse_engine: BVSEEngineOption = "native",
) -> None:
    """Run the screening funnel on PATHS and store one record per structure.

    Exit code 0 when the funnel ran (rejections and per-candidate failures are recorded,
    not errors); 1 when no structure file was found or none could be read, the store
    cannot be opened, the funnel configuration is invalid or a funnel job failed (its
    candidates are recorded failed with the cause); 2 on wrong usage; 128 + the signal
    number when interrupted (SIGINT, SIGTERM, SIGHUP): finished tier results are kept
    and the same command continues from them.
    """
    from sseflow.funnel.run import FunnelInterrupted, default_workers, screen_inputs

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
    n_workers = default_workers() if workers is None else workers
    console.print(
        f"[bold]sseflow screen[/]: {len(paths)} input path(s), {len(funnel.stages)} stage(s), "
        f"{n_workers} worker(s)"
    )
    try:
        outcome = screen_inputs(funnel, list(paths), store, workers=n_workers, progress=_progress)
    except FunnelInterrupted as exc:
        err_console.print(
            f"[bold red]interrupted[/] ({signal.Signals(exc.signum).name}): tier results "
            "finished so far are stored; run the same command again to continue."
        )
        raise typer.Exit(128 + exc.signum) from None
    _print_outcome(outcome)
    if outcome.exit_code:
        fail(outcome.message or "the funnel did not finish", outcome.exit_code)
