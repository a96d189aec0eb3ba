"""``sseflow resume``: run the stage that candidates recorded ``pending`` wait for.

A candidate is ``pending`` when it reached a stage that could not run where it was
screened (the DFT stage without Quantum ESPRESSO set up). Its record says why and gives
the command to run: ``sseflow resume --data-dir ... --qe-pseudo-dir DIR``. This command
finds those candidates in the store, rebuilds the same funnel (default, or ``--config``)
and runs it from the stage each candidate waits for; nothing before it runs again.
"""

from __future__ import annotations

from sseflow.cli._funnel import (
    ConfigOption,
    QEMpiOption,
    QEPseudoOption,
    QEPwOption,
    VerboseOption,
    build_funnel,
    funnel_options,
    resume_base,
)
from sseflow.cli._screening import execute, interrupted, print_shortlist, ranked
from sseflow.cli._store import open_store
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, fail
from sseflow.cli.screen import ShortlistOption, WorkersOption
from sseflow.store import candidate_repository


@app.command()
def resume(
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    config: ConfigOption = None,
    qe_pw_command: QEPwOption = None,
    qe_mpi_command: QEMpiOption = None,
    qe_pseudo_dir: QEPseudoOption = None,
    shortlist: ShortlistOption = 20,
    workers: WorkersOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the stages that candidates recorded pending wait for, from where they stopped.

    Give the funnel they were screened with (--config, or none for the default funnel)
    and what the stage needs (e.g. --qe-pseudo-dir for the DFT stage). Exit code 0 when
    the stages ran or nothing waits; 1 when the stage still cannot run here, or the
    funnel has no stage for what the candidates wait for.
    """
    from sseflow.funnel.resume import ResumeError, waiting_groups
    from sseflow.funnel.run import FunnelInterrupted

    options = funnel_options(**locals())
    funnel = build_funnel(config, options, resume_base(data_dir, db_uri, config))
    store = open_store(data_dir, db_uri)
    try:
        groups = waiting_groups(funnel, candidate_repository(store))
    except ResumeError as exc:
        fail(str(exc))
    if not groups:
        console.print("no candidate waits (none is recorded pending): nothing to resume")
        return
    stages = funnel.runnable_stages()
    ids: list[str] = []
    for group in groups:
        n = len(group.candidates)
        ids += [c.candidate_id for c in group.candidates]
        console.print(
            f"[bold]sseflow resume[/]: {n} candidate(s) waiting for {group.tier}: running "
            f"the funnel from stage {group.stage_index + 1} of {len(stages)}"
        )
        flow = funnel.resume(group.candidates, group.tier)
        try:
            result = execute(
                flow, store, stages, verbose, group.stage_index, n_candidates=n, workers=workers
            )
        except FunnelInterrupted as exc:
            interrupted(exc)
        if result.errors:
            fail(result.error_message)
    rows = ranked(candidate_repository(store), ids)
    print_shortlist(rows, shortlist, title="resumed candidates, ranked (best first)")
