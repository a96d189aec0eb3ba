"""``sseflow screen``: run the funnel locally on structure files, end with the shortlist."""

from __future__ import annotations

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
    VerboseOption,
    build_funnel,
    check_paths,
    funnel_options,
    resume_base,
)
from sseflow.cli._progress import FunnelProgress
from sseflow.cli._screening import describe_stages, interrupted, print_shortlist, ranked
from sseflow.cli._store import open_store
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, fail
from sseflow.noise import quiet_third_party
from sseflow.store import candidate_repository

ShortlistOption = Annotated[
    int, typer.Option(help="Rows of the closing shortlist (0 = all).", min=0)
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        min=0,
        help="Worker processes for tier jobs (default: this machine's cores; 0 runs them "
        "in this process).",
        show_default=False,
    ),
]


@app.command()
def screen(
    paths: PathsArgument,
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
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
    shortlist: ShortlistOption = 20,
    workers: WorkersOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the screening funnel on PATHS and store one record per structure.

    Default funnel: ML (P_SI >= 0.2; SOAP selection recorded) -> BVSE (E_a <= 0.6 eV; the
    --neb-top lowest go on) -> MLIP CI-NEB (the --dft-top lowest go on) -> DFT CI-NEB
    with Quantum ESPRESSO when it is set up (--qe-pseudo-dir), else those candidates
    wait, recorded pending, for `sseflow resume`. Ends with the ranked shortlist.

    Exit code 0 when the funnel ran (rejections and per-candidate failures are recorded,
    not errors); 1 when no structure file was found or none could be read, the store
    cannot be opened, the funnel configuration is invalid or a funnel job failed (its
    candidates are recorded failed with the cause); 2 for wrong usage or an option the
    funnel has no use for; 128 + the signal number when interrupted (SIGINT, SIGTERM,
    SIGHUP): finished tier results are kept and the same command continues from them.
    """
    from sseflow.funnel.run import FunnelInterrupted, default_workers, screen_inputs

    check_paths(paths)
    options = funnel_options(**locals())
    funnel = build_funnel(config, options, resume_base(data_dir, db_uri, config))
    store = open_store(data_dir, db_uri)
    stages = funnel.runnable_stages()
    n_workers = default_workers() if workers is None else workers
    console.print(f"[bold]sseflow screen[/]: {len(paths)} input path(s), {n_workers} worker(s)")
    console.print(f"stages: {describe_stages(stages)}", highlight=False)
    progress = FunnelProgress(stages, store, console, follow_log=False)
    try:
        with quiet_third_party(verbose), progress:
            outcome = screen_inputs(
                funnel,
                list(paths),
                store,
                workers=n_workers,
                progress=progress.runner_event,
                quiet=not verbose,
            )
    except FunnelInterrupted as exc:
        interrupted(exc)
    ids = [rec["candidate_id"] for rec in outcome.records if rec.get("candidate_id")]
    rows = ranked(candidate_repository(store), ids)
    print_shortlist(rows, shortlist, title="ranked shortlist (best first)")
    counts = ", ".join(f"{n} {status}" for status, n in sorted(outcome.counts.items()))
    merged = f"; {outcome.n_merged} merged into another input's or a stored record" * bool(
        outcome.n_merged
    )
    console.print(
        f"{outcome.n_inputs} input(s) -> {len(outcome.records)} candidate record(s): "
        f"{counts or 'none'}{merged}. Records: `sseflow candidates`, `sseflow show ID`, "
        "`sseflow export --top N`, `sseflow report`."
    )
    if outcome.exit_code:
        fail(outcome.message or "the funnel did not finish", outcome.exit_code)
