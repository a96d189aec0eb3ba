"""The funnel summary on hand-built records (plain dicts, as stored)."""

import json

import pytest

from sseflow.report import summarize, write_report
from sseflow.report.chart import plot_funnel
from sseflow.report.markdown import format_duration, render_markdown
from sseflow.report.summary import group_reasons, normalize_reason, tier_order
from sseflow.report.writer import neb_hops_loader


def doc(status, minute, reason=None, **numbers):
    return {
        "status": status,
        "reason": reason,
        "started_at": f"2026-01-05T09:{minute:02d}:00Z",
        **numbers,
    }


def record(cid, formula, status, tiers, sources=1):
    return {
        "candidate_id": cid,
        "formula": formula,
        "status": status,
        "last_tier": list(tiers)[-1],
        "sources": [{"path": f"{cid}-{i}.cif"} for i in range(sources)],
        "tiers": tiers,
    }


@pytest.fixture
def records():
    """Six candidates through ingest -> atomsets (batch) -> bvse -> neb_mlip."""
    batch = {"job_uuid": "batch-1", "batch_wall_time_s": 40.0, "wall_time_s": 0.01}
    return [
        record(
            "sse-a",
            "Li3N",
            "passed",
            {
                "ingest": doc("passed", 0),
                "atomsets": doc("passed", 1, p_si=0.8, **batch),
                "bvse": doc("passed", 2, ea_ev=0.19, wall_time_s=10.0, peak_memory_mb=300.0),
                "neb_mlip": doc("passed", 5, barrier_forward_ev=0.30, wall_time_s=100.0),
            },
            sources=2,
        ),
        record(
            "sse-b",
            "Li2S",
            "passed",
            {
                "ingest": doc("passed", 0),
                "atomsets": doc("passed", 1, p_si=0.6, **batch),
                "bvse": doc("passed", 3, ea_ev=0.34, wall_time_s=20.0, peak_memory_mb=500.0),
                "neb_mlip": doc("passed", 6, barrier_forward_ev=0.20, wall_time_s=300.0),
            },
        ),
        record(
            "sse-c",
            "Li7BiO6",
            "rejected",
            {
                "ingest": doc("passed", 0),
                "atomsets": doc("passed", 1, p_si=0.7, **batch),
                "bvse": doc(
                    "rejected",
                    3,
                    "ea_1d_ev = 0.606 eV > 0.6 eV",
                    ea_ev=0.606,
                    wall_time_s=30.0,
                    peak_memory_mb=400.0,
                ),
            },
        ),
        record(
            "sse-d",
            "Li6PS5Cl",
            "rejected",
            {
                "ingest": doc("passed", 0),
                "atomsets": doc("passed", 1, p_si=0.9, **batch),
                "bvse": doc("rejected", 4, "ea_1d_ev = 0.912 eV > 0.6 eV", ea_ev=0.912),
            },
        ),
        record(
            "sse-e",
            "Li3PS4",
            "failed",
            {
                "ingest": doc("passed", 0),
                "atomsets": doc("failed", 1, "MEGNet | featurization failed", **batch),
            },
        ),
        record(
            "file-0123456789ab",
            None,
            "rejected",
            {"ingest": doc("rejected", 0, "unreadable CIF file: ValueError: bad /data/x/y.cif")},
        ),
    ]


def test_tier_order_follows_the_data_then_known_order():
    custom = [
        {
            "tiers": {
                "ingest": doc("passed", 9),  # ingest is re-stamped on every run: still first
                "bvse": doc("passed", 2),
                "density": doc("passed", 1),  # a user tier that runs before BVSE
                "neb_dft": doc("passed", 4),
            }
        },
        {"tiers": {"ingest": doc("passed", 0), "soap_clustering": {"status": "passed"}}},
    ]
    # density must precede bvse (data); soap_clustering has no timing: known order
    assert tier_order(custom) == ["ingest", "soap_clustering", "density", "bvse", "neb_dft"]
    # neb_mlip seen after neb_dft on most candidates: the data wins over the known order
    swapped = [
        {"tiers": {"neb_dft": doc("passed", 1), "neb_mlip": doc("passed", 2)}},
        {"tiers": {"neb_dft": doc("passed", 1), "neb_mlip": doc("passed", 3)}},
        {"tiers": {"neb_dft": doc("passed", 5), "neb_mlip": doc("passed", 3)}},
    ]
    assert tier_order(swapped) == ["neb_dft", "neb_mlip"]
    # no timestamps: sseflow's known order
    untimed = [{"tiers": {t: {"status": "passed"} for t in ("neb_dft", "bvse", "zeta", "ingest")}}]
    assert tier_order(untimed) == ["ingest", "bvse", "neb_dft", "zeta"]


def test_counts_reasons_and_compute_per_tier(records):
    summary = summarize(records, top_n=3)
    assert summary.n_candidates == 6 and summary.n_inputs == 7
    assert summary.status_counts == {"failed": 1, "passed": 2, "rejected": 3}
    assert summary.tier_order == ["ingest", "atomsets", "bvse", "neb_mlip"]
    tiers = {t.tier: t for t in summary.tiers}
    ingest, atomsets, bvse, neb = (tiers[t] for t in summary.tier_order)
    assert (ingest.entered, ingest.passed, ingest.rejected) == (6, 5, 1)
    assert ingest.rejected_reasons[0].reason == "unreadable CIF file: ValueError: bad <path>"
    assert (atomsets.entered, atomsets.passed, atomsets.failed) == (5, 4, 1)
    assert atomsets.failed_reasons[0].example == "MEGNet | featurization failed"
    # one batch job scored all five: its 40 s count once, not five times
    assert atomsets.compute.n_timed == 1 and atomsets.compute.wall_time_s_total == 40.0
    assert (bvse.entered, bvse.passed, bvse.rejected) == (4, 2, 2)
    (reason,) = bvse.rejected_reasons
    assert (reason.reason, reason.count) == ("ea_1d_ev = # eV > # eV", 2)
    assert bvse.compute.n_timed == 3 and bvse.compute.wall_time_s_total == 60.0
    assert bvse.compute.wall_time_s_median == 20.0 and bvse.compute.wall_time_s_max == 30.0
    assert bvse.compute.peak_memory_mb_max == 500.0 and bvse.compute.n_with_memory == 3
    assert neb.compute.wall_time_s_total == 400.0 and neb.compute.peak_memory_mb_max is None


def test_top_candidates_by_deepest_tier_then_barrier(records):
    top = summarize(records, top_n=10).top_candidates
    # sse-b and sse-a passed neb_mlip (0.20 < 0.30 eV); then the BVSE-rejected ones by
    # barrier; sse-e failed at atomsets; the unreadable file never passed ingest
    assert [c.candidate_id for c in top] == ["sse-b", "sse-a", "sse-c", "sse-d", "sse-e"]
    assert top[0].barrier_source == "neb_mlip" and top[0].barrier_ev == 0.20
    assert top[0].bvse_ea_ev == 0.34 and top[0].p_si == 0.6
    assert top[2].deepest_passed_tier == "atomsets" and top[2].barrier_source == "bvse"
    assert [c.rank for c in top] == [1, 2, 3, 4, 5]
    assert len(summarize(records, top_n=2).top_candidates) == 2
    # an explicit order wins over the derived one
    flipped = summarize(records, order=["ingest", "bvse", "atomsets"])
    assert flipped.tier_order == ["ingest", "bvse", "atomsets", "neb_mlip"]


def test_reason_grouping():
    assert normalize_reason("sites 3 and 7 are only 0.51 A apart") == (
        "sites # and # are only # A apart"
    )
    assert normalize_reason("ea_1d_ev = 0.7 eV > 0.6 eV.") == "ea_1d_ev = # eV > # eV."
    assert normalize_reason("BVSE > 600 s for sse-85b893ce5c51") == "BVSE > # s for <id>"
    groups = group_reasons(["a = 1", "a = 2", None, "b"])
    assert [(g.reason, g.count) for g in groups] == [
        ("a = #", 2),
        ("(no reason recorded)", 1),
        ("b", 1),
    ]


def test_empty_records():
    summary = summarize([])
    assert summary.n_candidates == 0 and summary.tiers == [] and summary.top_candidates == []
    assert "No candidate passed ingest." in render_markdown(summary)


def test_write_report_folder(records, tmp_path):
    summary, files = write_report(records, tmp_path / "rep", top_n=3, source="test records")
    assert files.chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(files.summary_json.read_text())
    assert data["n_candidates"] == 6 and data["top_candidates"][0]["candidate_id"] == "sse-b"
    text = files.markdown.read_text()
    assert "![funnel](funnel.png)" in text and "from test records" in text
    assert "| bvse | 4 | 2 | 2 | 0 | 0 |" in text
    assert "MEGNet \\| featurization failed" in text  # pipes escaped in table cells
    assert "| 1 | sse-b | Li2S | passed | neb_mlip | 0.200 | neb_mlip |" in text
    svg = plot_funnel(summary, tmp_path / "funnel.svg")
    assert svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(ValueError, match="png or svg"):
        write_report(records, tmp_path / "x", chart_format="gif")


def test_format_duration():
    assert format_duration(None) == "-"
    assert format_duration(12.34) == "12.3 s"
    assert format_duration(600) == "10.0 min"
    assert format_duration(9000) == "2.50 h"


def ml_record(cid, status, reason=None, p_si=0.5, share=2.0, **more):
    """A candidate through the two ML tiers (one gate: same status and reason)."""
    ml = {"status": status, "reason": reason, "job_uuid": "ml-batch", "wall_time_s": share}
    tiers = {
        "ingest": doc("passed", 0),
        "soap_clustering": {**ml, "selected": status == "passed", "batch_wall_time_s": 12.0},
        "atomsets": {**ml, "p_si": p_si},
        **more,
    }
    return record(cid, cid, status if not more else "passed", tiers)


def test_the_ml_gate_and_batch_time_count_once_per_stage(tmp_path):
    why = "policy 'any': P_SI = 0.10 < 0.5 and not selected by clustering"
    hop = {"barrier_forward_ev": 0.3, "relative_energies_ev": [0.0, 0.2, 0.3, 0.1, 0.0]}
    records = [
        ml_record("sse-a", "rejected", why, p_si=0.1),
        ml_record("sse-b", "rejected", why, p_si=0.2),
        ml_record("sse-c", "passed", p_si=0.9, bvse=doc("passed", 3, ea_ev=0.3)),
        ml_record(
            "sse-d",
            "passed",
            p_si=0.8,
            bvse=doc("passed", 3, ea_ev=0.2),
            neb_mlip=doc("passed", 5, barrier_forward_ev=0.3, hops=[hop]),
        ),
        ml_record(
            "sse-e",
            "passed",
            p_si=0.7,
            bvse=doc("passed", 3, ea_ev=0.25),
            neb_mlip=doc("passed", 5, barrier_forward_ev=0.2),
            neb_dft=doc("pending", 7, "waiting for neb_dft: QE not set up; run it later with: x"),
        ),
    ]
    summary = summarize(records)
    stages = {tuple(s.tiers): s for s in summary.stages}
    ml = stages[("soap_clustering", "atomsets")]
    assert (ml.entered, ml.passed, ml.rejected) == (5, 3, 2)  # once, not once per ML tier
    assert [(r.reason, r.count) for r in ml.rejected_reasons] == [
        ("policy 'any': P_SI = # < # and not selected by clustering", 2)
    ]
    # the clustering batch (12 s) and the AtomSets batch (5 shares of 2 s) count once each
    tiers = {t.tier: t for t in summary.tiers}
    assert tiers["soap_clustering"].compute.n_timed == 1
    assert tiers["atomsets"].compute.n_timed == 1
    assert tiers["atomsets"].compute.wall_time_s_total == 10.0
    assert ml.wall_time_s_total == 22.0
    dft = stages[("neb_dft",)]
    assert dft.pending == 1 and dft.pending_reasons[0].count == 1
    assert summary.p_si_by_outcome == {"rejected": [0.1, 0.2], "passed": [0.9, 0.8, 0.7]}
    assert sorted(summary.bvse_ea_ev_by_outcome["passed"]) == [0.2, 0.25, 0.3]
    # figures, linked from report.md; NEB profiles of the top candidates with hops
    _, files = write_report(records, tmp_path, hops_loader=neb_hops_loader(records))
    assert set(files.figures) == {
        "P_SI histogram",
        "BVSE E_a distribution",
        "NEB energy profiles of the top candidates",
    }
    text = files.markdown.read_text()
    for path in files.figures.values():
        assert path.read_bytes()[:4] == b"\x89PNG" and f"]({path.name})" in text
    assert "| ML (soap_clustering + atomsets) | 5 | 3 | 2 | 0 | 0 |" in text
