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
    """Write the funnel report: stages, reasons, compute, figures, top candidates.

    Per stage (tiers judged by one gate counted once): how many candidates entered,
    passed, were rejected, failed or are pending, and why (grouped); per tier the wall
    time and memory spent; figures (funnel, P_SI histogram, BVSE E_a distribution, NEB
    energy profiles of the top candidates) linked from report.md. Never writes to the
    database.
    """
    # imported here: matplotlib should not slow down every other command
    from sseflow.report import REPORT_EXCLUDED_FIELDS, write_report
    from sseflow.report.markdown import format_duration
    from sseflow.report.summary import stage_label
    from sseflow.report.writer import PROFILE_TIERS

    if top < 0:
        fail("--top must be >= 0", 2)
    order = [t.strip() for t in tiers.split(",") if t.strip()] if tiers else None
    repo = open_candidates(data_dir, db_uri)
    projection = dict.fromkeys(REPORT_EXCLUDED_FIELDS, 0)

    def load_hops(ids: list[str]) -> dict[str, dict[str, list]]:
        fields = [f"tiers.{t}.hops" for t in PROFILE_TIERS]
        wanted = dict.fromkeys([*fields, "candidate_id"], 1)
        found = repo.find({"candidate_id": {"$in": ids}}, projection=wanted)
        return {
            r["candidate_id"]: {
                t: (r.get("tiers", {}).get(t) or {}).get("hops") or [] for t in PROFILE_TIERS
            }
            for r in found
        }

    try:
        summary, files = write_report(
            repo.find({}, projection=projection),
            out,
            top_n=top,
            order=order,
            chart_format=chart_format.value,
            source=describe_store(data_dir, db_uri),
            hops_loader=load_hops,
        )
    except OSError as exc:
        fail(f"cannot write the report to {out}: {exc}")
    table = Table(title=f"{summary.n_candidates} candidates")
    for column in ("stage", "entered", "passed", "rejected", "failed", "pending", "wall time"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for st in summary.stages:
        table.add_row(
            stage_label(st.tiers, short=True),
            str(st.entered),
            str(st.passed),
            str(st.rejected),
            str(st.failed),
            str(st.pending + st.other),
            format_duration(st.wall_time_s_total if st.entered else None),
        )
    console.print(table)
    images = ", ".join(str(p) for p in [files.chart, *files.figures.values()])
    console.print(f"report: {files.markdown}, {files.summary_json}; figures: {images}")


def register(app: typer.Typer) -> None:
    """Add ``report`` to the sseflow CLI."""
    app.command("report")(report)
