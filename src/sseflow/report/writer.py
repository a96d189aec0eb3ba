"""Write a funnel report folder: report.md, summary.json, the funnel chart and figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sseflow.report.chart import plot_funnel
from sseflow.report.figures import plot_bvse_distribution, plot_neb_profiles, plot_p_si_histogram
from sseflow.report.markdown import render_markdown
from sseflow.report.summary import FunnelSummary, summarize
from sseflow.store.rank import HEAVY_FIELDS

#: Large tier fields a report never reads (left out of the database query).
REPORT_EXCLUDED_FIELDS = HEAVY_FIELDS
#: NEB tiers whose energy profiles the report draws.
PROFILE_TIERS = ("neb_mlip", "neb_dft")
#: How many of the top candidates get an NEB profile panel (those with a NEB result).
MAX_PROFILES = 9

#: Returns, for candidate ids, ``{candidate_id: {tier: [hop dicts with
#: barrier_forward_ev and relative_energies_ev]}}`` (see :func:`neb_hops_loader`).
HopsLoader = Callable[[list[str]], Mapping[str, Mapping[str, list[Mapping[str, Any]]]]]


@dataclass
class ReportFiles:
    """Paths of a written report."""

    markdown: Path
    summary_json: Path
    chart: Path
    figures: dict[str, Path] = field(default_factory=dict)


def neb_hops_loader(records: Iterable[Mapping[str, Any]]) -> HopsLoader:
    """Return a loader reading NEB hops from in-memory records (for tests and the API)."""
    by_id = {str(r.get("candidate_id")): r for r in records}

    def load(ids: list[str]) -> dict[str, dict[str, list[Mapping[str, Any]]]]:
        out: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
        for cid in ids:
            tiers = (by_id.get(cid) or {}).get("tiers") or {}
            hops = {t: (tiers.get(t) or {}).get("hops") or [] for t in PROFILE_TIERS}
            out[cid] = {t: h for t, h in hops.items() if h}
        return out

    return load


def _limiting_profile(hops: list[Mapping[str, Any]]) -> list[float] | None:
    """Relative image energies of the rate-limiting (highest forward barrier) hop."""
    usable = [h for h in hops if h.get("relative_energies_ev")]
    if not usable:
        return None
    hop = max(usable, key=lambda h: float(h.get("barrier_forward_ev") or 0.0))
    return [float(e) for e in hop["relative_energies_ev"]]


def write_report(
    records: Iterable[Mapping[str, Any]],
    out_dir: str | Path,
    top_n: int = 10,
    order: Sequence[str] | None = None,
    chart_format: str = "png",
    source: str | None = None,
    hops_loader: HopsLoader | None = None,
) -> tuple[FunnelSummary, ReportFiles]:
    """Summarize ``records`` and write the report folder.

    Files: ``report.md``, ``summary.json``, ``funnel.<fmt>`` (candidates per stage),
    ``p_si.<fmt>`` (P_SI histogram), ``bvse_ea.<fmt>`` (BVSE E_a distribution) and
    ``neb_profiles.<fmt>`` (energy profiles of the top candidates with a CI-NEB result),
    each figure only when there is data for it; report.md links them.

    Parameters
    ----------
    records
        Candidate records (read once; NEB hops may be left out, see ``hops_loader``).
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
    hops_loader
        Reads the NEB hops of the top candidates (kept out of the bulk query); None
        draws no NEB profiles.

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
    figures: dict[str, Path] = {}
    if summary.p_si_by_outcome:
        figures["P_SI histogram"] = plot_p_si_histogram(
            summary.p_si_by_outcome, out / f"p_si.{chart_format}"
        )
    if summary.bvse_ea_ev_by_outcome:
        figures["BVSE E_a distribution"] = plot_bvse_distribution(
            summary.bvse_ea_ev_by_outcome, out / f"bvse_ea.{chart_format}"
        )
    with_neb = [
        c
        for c in summary.top_candidates
        if c.neb_mlip_barrier_ev is not None or c.neb_dft_barrier_ev is not None
    ][:MAX_PROFILES]
    if hops_loader is not None and with_neb:
        hops = hops_loader([c.candidate_id for c in with_neb])
        profiles = []
        for c in with_neb:
            curves = {
                tier: profile
                for tier, tier_hops in (hops.get(c.candidate_id) or {}).items()
                if (profile := _limiting_profile(list(tier_hops))) is not None
            }
            if curves:
                title = f"{c.rank}. {c.formula} {c.candidate_id}"
                profiles.append({"title": title, "curves": curves})
        if profiles:
            figures["NEB energy profiles of the top candidates"] = plot_neb_profiles(
                profiles, out / f"neb_profiles.{chart_format}"
            )
    summary_json = out / "summary.json"
    summary_json.write_text(summary.model_dump_json(indent=2))
    markdown = out / "report.md"
    markdown.write_text(
        render_markdown(
            summary,
            chart_file=chart.name,
            source=source,
            figures={caption: path.name for caption, path in figures.items()},
        )
    )
    return summary, ReportFiles(
        markdown=markdown, summary_json=summary_json, chart=chart, figures=figures
    )
