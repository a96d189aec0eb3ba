"""Write a funnel report folder: report.md, summary.json and the funnel chart."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sseflow.report.chart import plot_funnel
from sseflow.report.markdown import render_markdown
from sseflow.report.summary import FunnelSummary, summarize

#: Large tier fields a report never reads (left out of the database query).
REPORT_EXCLUDED_FIELDS = (
    "structure",
    "tiers.neb_mlip.hops",
    "tiers.neb_dft.hops",
    "tiers.neb_mlip.unit_cell",
    "tiers.neb_dft.unit_cell",
    "tiers.qe_relax.structure",
    "tiers.atomsets.features",
)


@dataclass
class ReportFiles:
    """Paths of a written report."""

    markdown: Path
    summary_json: Path
    chart: Path


def write_report(
    records: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    top_n: int = 10,
    order: Sequence[str] | None = None,
    chart_format: str = "png",
    source: str | None = None,
) -> tuple[FunnelSummary, ReportFiles]:
    """Summarize ``records`` and write ``report.md``, ``summary.json`` and ``funnel.<fmt>``.

    Parameters
    ----------
    records
        Candidate records (read once).
    out_dir
        Folder for the report (created; existing report files are replaced).
    top_n
        Number of top candidates.
    order
        Tier order (default: derived from the records).
    chart_format
        ``png`` or ``svg``.
    source
        Where the records came from, for the report header (no credentials).

    Returns
    -------
    summary, files
    """
    if chart_format not in ("png", "svg"):
        raise ValueError(f"chart_format must be png or svg, not {chart_format!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(records, top_n=top_n, order=order)
    chart = plot_funnel(summary, out / f"funnel.{chart_format}")
    summary_json = out / "summary.json"
    summary_json.write_text(summary.model_dump_json(indent=2))
    markdown = out / "report.md"
    markdown.write_text(render_markdown(summary, chart_file=chart.name, source=source))
    return summary, ReportFiles(markdown=markdown, summary_json=summary_json, chart=chart)
