"""``sseflow screen``: run the funnel locally on structure files, end with the shortlist."""

from __future__ import annotations

from typing import Annotated

import typer

from sseflow.cli._funnel import (
    ConfigOption,
    DftTopOption,
    DimensionOption,
    MaxAtomsOption,
    MaxEaOption,
    MemoryLimitOption,
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
from sseflow.cli._screening import describe_stages, execute, print_shortlist, ranked
from sseflow.cli._store import open_store
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, fail
from sseflow.store import candidate_repository

ShortlistOption = Annotated[
    int, typer.Option(help="Rows of the closing shortlist (0 = all).", min=0)
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
    max_atoms: MaxAtomsOption = None,
    ml_policy: MLPolicyOption = None,
    p_si_threshold: PSIThresholdOption = None,
    neb_top_n: NebTopOption = None,
    mlip_walltime_s: MlipWalltimeOption = None,
    dft_top_k: DftTopOption = None,
    qe_pw_command: QEPwOption = None,
    qe_mpi_command: QEMpiOption = None,
    qe_pseudo_dir: QEPseudoOption = None,
    shortlist: ShortlistOption = 20,
    verbose: VerboseOption = False,
) -> None:
    """Run the screening funnel on PATHS and store one record per structure.

    Default funnel: ML (SOAP selection + P_SI + band gap) -> BVSE (E_a <= 0.6 eV; the
    --neb-top lowest go on) -> MLIP CI-NEB (the --dft-top lowest go on) -> DFT CI-NEB
    with Quantum ESPRESSO when it is set up (--qe-pseudo-dir), else those candidates
    wait, recorded pending, for `sseflow resume`. Ends with the ranked shortlist.

    Exit code 0 when the funnel ran (rejections and per-candidate failures are recorded,
    not errors); 1 when no input was found, the store cannot be opened, the funnel
    configuration is invalid or the funnel itself crashed; 2 for an option the funnel
    has no use for.
    """
    check_paths(paths)
    options = funnel_options(**locals())
    funnel = build_funnel(config, options, resume_base(data_dir, db_uri, config))
    store = open_store(data_dir, db_uri)
    stages = funnel.runnable_stages()
    console.print(f"[bold]sseflow screen[/]: {len(paths)} input path(s)")
    console.print(f"stages: {describe_stages(stages)}", highlight=False)
    flow = funnel.make(list(paths))
    responses = execute(flow, store, stages, verbose=verbose)
    ingest_uuid = flow.jobs[0].uuid
    if ingest_uuid not in responses:
        fail("the funnel did not run (ingest failed); run again with --verbose for the log")
    ingest_doc = responses[ingest_uuid][1].output
    ids = [c.candidate_id for c in ingest_doc.accepted] + [
        r.candidate_id for r in ingest_doc.rejected
    ]
    rows = ranked(candidate_repository(store), ids)
    print_shortlist(rows, shortlist, title="ranked shortlist (best first)")
    n_dup = len(ingest_doc.duplicates)
    console.print(
        f"{len(ingest_doc.accepted)} accepted, {len(ingest_doc.rejected)} rejected at ingest, "
        f"{n_dup} duplicate(s) merged. Records: `sseflow candidates`, `sseflow show ID`, "
        "`sseflow export --top N`, `sseflow report`."
    )
