"""``sseflow report``: write the funnel summary, top candidates and chart (read-only)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sseflow.cli._store import describe_store, open_candidates
from sseflow.cli.app import DataDirOption, DbUriOption, console, fail


class ChartFormat(StrEnum):
    """Image format of the funnel chart."""

    PNG = "png"
    SVG = "svg"


def report(
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for report.md, summary.json, funnel.png.")
    ] = Path("sseflow-report"),
    top: Annotated[int, typer.Option(help="Number of top candidates.")] = 10,
    chart_format: Annotated[ChartFormat, typer.Option(help="Chart image format.")] = (
        ChartFormat.PNG
    ),
    tiers: Annotated[
        str | None,
        typer.Option(help="Tier order, comma-separated (default: derived from the records)."),
    ] = None,
) -> None:
    """Write the funnel report: tiers, reasons, compute, top candidates, chart.

    Per tier: how many candidates entered, passed, were rejected, failed or are
    pending; why they were rejected or failed (grouped); the wall time and memory spent.
    Then the top candidates. Never writes to the database.
    """
    # imported here: matplotlib should not slow down every other command
    from sseflow.report import REPORT_EXCLUDED_FIELDS, write_report
    from sseflow.report.markdown import format_duration

    if top < 0:
        fail("--top must be >= 0", 2)
    order = [t.strip() for t in tiers.split(",") if t.strip()] if tiers else None
    repo = open_candidates(data_dir, db_uri)
    projection = dict.fromkeys(REPORT_EXCLUDED_FIELDS, 0)
    try:
        summary, files = write_report(
            repo.find({}, projection=projection),
            out,
            top_n=top,
            order=order,
            chart_format=chart_format.value,
            source=describe_store(data_dir, db_uri),
        )
    except OSError as exc:
        fail(f"cannot write the report to {out}: {exc}")
    table = Table(title=f"{summary.n_candidates} candidates")
    for column in ("tier", "entered", "passed", "rejected", "failed", "pending", "wall time"):
        table.add_column(column, justify="left" if column == "tier" else "right")
    for t in summary.tiers:
        table.add_row(
            t.tier,
            str(t.entered),
            str(t.passed),
            str(t.rejected),
            str(t.failed),
            str(t.pending + t.other),
            format_duration(t.compute.wall_time_s_total if t.compute.n_timed else None),
        )
    console.print(table)
    console.print(f"report: {files.markdown}, {files.summary_json}, {files.chart}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the sseflow CLI."""
    app.command("report")(report)
