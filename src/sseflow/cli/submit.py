"""``sseflow submit``: add the funnel to a FireWorks LaunchPad for ``rlaunch``/``qlaunch``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sseflow.cli._funnel import (
    BVSEEngineOption,
    ConfigOption,
    DftTopOption,
    DimensionOption,
    MaxAtomsOption,
    MaxEaOption,
    MemoryLimitOption,
    MlipOrderingsOption,
    MlipWalltimeOption,
    MLPolicyOption,
    NebTopOption,
    OccupancyOption,
    PathsArgument,
    PSIThresholdOption,
    QEMpiOption,
    QEPseudoOption,
    QEPwOption,
    ResolutionOption,
    SkipOption,
    TimeLimitOption,
    UntilOption,
    build_funnel,
    check_paths,
    funnel_options,
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
    until: UntilOption = None,
    skip: SkipOption = None,
    max_ea_ev: MaxEaOption = None,
    dimension: DimensionOption = None,
    occupancy_mode: OccupancyOption = None,
    resolution_angstrom: ResolutionOption = None,
    time_limit_s: TimeLimitOption = None,
    memory_limit_gb: MemoryLimitOption = None,
    bvse_engine: BVSEEngineOption = None,
    max_atoms: MaxAtomsOption = None,
    ml_policy: MLPolicyOption = None,
    p_si_threshold: PSIThresholdOption = None,
    neb_top_n: NebTopOption = None,
    mlip_walltime_s: MlipWalltimeOption = None,
    mlip_orderings: MlipOrderingsOption = None,
    dft_top_k: DftTopOption = None,
    qe_pw_command: QEPwOption = None,
    qe_mpi_command: QEMpiOption = None,
    qe_pseudo_dir: QEPseudoOption = None,
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
    options = funnel_options(**locals())
    # records go to jobflow's JOB_STORE (a MongoDB): its URI stays in the environment
    funnel = build_funnel(config, options, 'sseflow resume --db-uri "$SSEFLOW_DB_URI"')
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
