"""``sseflow submit``: add the funnel to a FireWorks LaunchPad for ``rlaunch``/``qlaunch``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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
from sseflow.cli.app import app, console, fail
from sseflow.settings import get_settings
from sseflow.store.readonly import read_only_message


@app.command()
def submit(
    paths: PathsArgument,
    launchpad_file: Annotated[
        Path | None,
        typer.Option(
            "--launchpad",
            "-l",
            help="my_launchpad.yaml (default: FireWorks' LAUNCHPAD_LOC / CONFIG_FILE_DIR).",
            show_default=False,
        ),
    ] = None,
    category: Annotated[
        str | None, typer.Option(help="FireWorks _category: only workers of it run the jobs.")
    ] = None,
    priority: Annotated[int | None, typer.Option(help="FireWorks _priority.")] = None,
    fworker_name: Annotated[
        str | None, typer.Option("--fworker", help="FireWorks _fworker: one named worker.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Workflow name on the LaunchPad.")] = None,
    store_check: Annotated[
        bool,
        typer.Option(
            help="Check jobflow's JOB_STORE here has the candidates/data stores on a server."
        ),
    ] = True,
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
    """Add the screening funnel for PATHS to a FireWorks LaunchPad.

    Workers (`rlaunch rapidfire`, or `qlaunch` through the queue) run the jobs and write
    the same candidate records as `sseflow screen`, into jobflow's JOB_STORE
    (JOBFLOW_CONFIG_FILE, see config/jobflow.yaml). Input paths must be readable by the
    workers. Exit code 0 when the workflow was added; 1 when an input is missing, the
    LaunchPad or the store configuration is unusable, or the funnel YAML is invalid.
    """
    from sseflow.hpc import (
        LaunchPadConfigError,
        WorkerStoreError,
        check_worker_store,
        describe_launchpad,
        load_launchpad,
        submit_funnel,
    )

    if get_settings().read_only:
        fail(read_only_message("submit a funnel (its workers write records; SSEFLOW_READ_ONLY)"))
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
    if store_check:
        try:
            check_worker_store()
        except WorkerStoreError as exc:
            fail(f"{exc} (skip with --no-store-check if the workers are configured differently)")
    try:
        launchpad = load_launchpad(launchpad_file)
    except LaunchPadConfigError as exc:
        fail(str(exc))
    result = submit_funnel(
        paths,
        launchpad,
        funnel=funnel,
        category=category,
        priority=priority,
        fworker_name=fworker_name,
        workflow_name=name,
    )
    console.print(
        f"[bold]sseflow submit[/]: workflow {result.workflow_name!r} with "
        f"{len(result.fw_ids)} Firework(s) (ids {result.fw_ids[0]}-{result.fw_ids[-1]}) "
        f"added to {describe_launchpad(launchpad)}; {len(funnel.stages)} stage(s), "
        f"{result.n_inputs} input path(s)."
    )
    console.print(
        "Run it with `rlaunch -l my_launchpad.yaml -w my_fworker.yaml rapidfire` or "
        "`qlaunch ... rapidfire`; records: `sseflow candidates --db-uri ...`."
    )
