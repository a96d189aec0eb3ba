"""Run a funnel Flow for people (progress, quiet third parties) and end with the shortlist.

Shared by ``sseflow screen`` and ``sseflow resume``.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from sseflow.cli._progress import FunnelProgress, stage_title
from sseflow.cli._shortlist import resume_commands, shortlist_table
from sseflow.cli.app import console, err_console
from sseflow.noise import quiet_third_party
from sseflow.store.candidates import CandidateRepository
from sseflow.store.rank import HEAVY_FIELDS, RankedCandidate, rank_records

if TYPE_CHECKING:
    from sseflow.funnel.run import FunnelInterrupted, RunResult


def describe_stages(stages: list[Any]) -> str:
    """Return the stages as one line: ``ML -> BVSE -> MLIP CI-NEB -> DFT CI-NEB (waits: ...)``."""
    parts = []
    for stage in stages:
        text = stage_title(stage.tiers)
        deferred = [m for m in stage.makers if getattr(m, "resume_command", None) is not None]
        if deferred:
            text += " (not run here: candidates wait)"
        parts.append(text)
    return " -> ".join(parts)


def execute(
    flow: Any,
    store: Any,
    stages: list[Any],
    verbose: bool = False,
    first_stage: int = 0,
    n_candidates: int | None = None,
    workers: int | None = None,
) -> RunResult:
    """Run ``flow`` here with stage progress bars and third-party noise hidden.

    Tier jobs run on ``workers`` processes (default: this machine's cores; see
    :func:`sseflow.funnel.run.run_funnel`, which also raises
    :class:`~sseflow.funnel.run.FunnelInterrupted` on SIGINT/SIGTERM/SIGHUP).
    """
    from sseflow.funnel.run import run_funnel

    progress = FunnelProgress(stages, store, console, first_stage, n_candidates, follow_log=False)
    with quiet_third_party(verbose), progress:
        return run_funnel(
            flow, store, workers=workers, progress=progress.runner_event, quiet=not verbose
        )


def interrupted(exc: FunnelInterrupted) -> NoReturn:
    """Say that the run was interrupted and exit with ``128 + signal number``."""
    err_console.print(
        f"[bold red]interrupted[/] ({signal.Signals(exc.signum).name}): tier results "
        "finished so far are stored; run the same command again to continue."
    )
    raise typer.Exit(128 + exc.signum) from None


def ranked(repo: CandidateRepository, ids: Iterable[str]) -> list[RankedCandidate]:
    """Return the records of ``ids`` in funnel rank."""
    wanted = list(dict.fromkeys(ids))
    records = repo.find(
        {"candidate_id": {"$in": wanted}},
        projection=dict.fromkeys(HEAVY_FIELDS, 0),
    )
    return rank_records(records)


def print_shortlist(rows: list[RankedCandidate], limit: int, title: str) -> None:
    """Print the ranked shortlist (at most ``limit`` rows, 0 = all) and resume commands."""
    shown = rows if limit <= 0 else rows[:limit]
    console.print(shortlist_table(shown, title=title))
    if len(shown) < len(rows):
        console.print(
            f"... and {len(rows) - len(shown)} more (`sseflow candidates` lists all, by rank)."
        )
    for command in resume_commands(rows):
        n = sum(1 for r in rows if r.status == "pending" and r.reason and command in r.reason)
        console.print(f"{n} candidate(s) wait for a stage that could not run here; run it with:")
        console.print(f"  {command}", soft_wrap=True, highlight=False)
