"""Render a :class:`~sseflow.report.summary.FunnelSummary` as a Markdown report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sseflow.report.summary import FunnelSummary, ReasonCount, stage_label


def format_duration(seconds: float | None) -> str:
    """Return a wall time as '12.3 s', '45.2 min' or '3.10 h'."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return " ".join(str(value).replace("|", "\\|").split())


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _reasons(title: str, reasons: list[ReasonCount]) -> list[str]:
    if not reasons:
        return []
    total = sum(r.count for r in reasons)
    rows = [(r.count, r.reason, r.example) for r in reasons]
    return [f"{title} ({total}):", "", *_table(("count", "reason", "example"), rows), ""]


def render_markdown(
    summary: FunnelSummary,
    chart_file: str | None = "funnel.png",
    source: str | None = None,
    figures: Mapping[str, str] | None = None,
) -> str:
    """Return the report as Markdown.

    Parameters
    ----------
    summary
        The funnel summary.
    chart_file
        Chart image path relative to the report (None: no image).
    source
        Where the records came from (shown in the header; no credentials).
    figures
        Caption -> image path relative to the report (P_SI histogram, BVSE E_a
        distribution, NEB profiles), linked in the "Figures" section.
    """
    s = summary
    when = s.generated_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# sseflow funnel report", ""]
    origin = f" from {source}" if source else ""
    lines.append(f"Generated {when} by sseflow {s.sseflow_version}{origin}.")
    overall = ", ".join(f"{status} {n}" for status, n in s.status_counts.items()) or "none"
    lines += [
        "",
        f"{s.n_candidates} candidates from {s.n_inputs} input structures "
        f"(duplicates merged). Overall status: {overall}.",
        "",
    ]
    if chart_file:
        lines += [f"![funnel]({chart_file})", ""]

    lines += [
        "## Stages",
        "",
        "In funnel order; tiers judged by one gate (e.g. the two ML tiers) form one stage "
        "and each candidate counts once. Pending: waiting for a stage that could not run "
        "(e.g. DFT without Quantum ESPRESSO set up; `sseflow resume` runs it).",
        "",
    ]
    rows: list[tuple[Any, ...]] = [
        (
            stage_label(st.tiers),
            st.entered,
            st.passed,
            st.rejected,
            st.failed,
            st.pending + st.other,
            format_duration(st.wall_time_s_total if st.entered else None),
        )
        for st in s.stages
    ]
    lines += _table(
        ("stage", "entered", "passed", "rejected", "failed", "pending", "wall time"), rows
    )
    lines += ["", "## Why candidates left", ""]
    left_any = False
    for st in s.stages:
        block = (
            _reasons("Rejected", st.rejected_reasons)
            + _reasons("Failed", st.failed_reasons)
            + _reasons("Pending", st.pending_reasons)
        )
        if block:
            left_any = True
            lines += [f"### {stage_label(st.tiers)}", "", *block]
    if not left_any:
        lines += ["No candidate was rejected or failed.", ""]
    lines += [
        "Numbers in reasons are shown as `#`, file paths as `<path>`, ids as `<id>`; "
        "the example is one reason as recorded.",
        "",
        "## Tiers",
        "",
    ]
    rows = [
        (t.tier, t.entered, t.passed, t.rejected, t.failed, t.pending + t.other) for t in s.tiers
    ]
    lines += _table(("tier", "entered", "passed", "rejected", "failed", "pending"), rows)
    lines += ["", "## Compute spent", ""]
    rows = [
        (
            t.tier,
            t.compute.n_timed,
            format_duration(t.compute.wall_time_s_total if t.compute.n_timed else None),
            _cell(t.compute.wall_time_s_median, 2),
            _cell(t.compute.wall_time_s_max, 2),
            _cell(t.compute.peak_memory_mb_median, 0),
            _cell(t.compute.peak_memory_mb_max, 0),
        )
        for t in s.tiers
    ]
    lines += _table(
        (
            "tier",
            "timed",
            "total wall time",
            "median (s)",
            "max (s)",
            "peak memory median (MB)",
            "max (MB)",
        ),
        rows,
    )
    lines += [
        "",
        "Wall time as recorded by each tier; a batch tier (one job for many candidates) "
        "counts each batch job once. Memory where the tier records it.",
        "",
    ]
    if figures:
        lines += ["## Figures", ""]
        for caption, image in figures.items():
            lines += [f"### {caption}", "", f"![{caption}]({image})", ""]
    lines += [
        f"## Top {len(s.top_candidates)} candidates",
        "",
        f"Ranked by {s.ranking_rule}.",
        "",
    ]
    rows = [
        (
            c.rank,
            c.candidate_id,
            c.formula,
            c.status,
            c.deepest_passed_tier,
            c.barrier_ev,
            c.barrier_source,
            c.bvse_ea_ev,
            c.p_si,
            _selected(c.soap_selected),
            c.neb_mlip_barrier_ev,
            c.neb_dft_barrier_ev,
        )
        for c in s.top_candidates
    ]
    header = (
        "rank",
        "candidate_id",
        "formula",
        "status",
        "deepest passed",
        "barrier (eV)",
        "from",
        "BVSE E_a (eV)",
        "P_SI",
        "SOAP",
        "NEB mlip (eV)",
        "NEB dft (eV)",
    )
    lines += _table(header, rows) if rows else ["No candidate passed ingest."]
    return "\n".join(lines) + "\n"


def _selected(value: bool | None) -> str | None:
    return None if value is None else ("selected" if value else "no")
