"""``sseflow report`` on a real funnel run (embedded store)."""

import json

from typer.testing import CliRunner

from sseflow.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_report_from_a_funnel_run(screened_store, tmp_path):
    out = tmp_path / "report"
    result = run("report", "--data-dir", screened_store, "--out", out, "--top", "2")
    assert result.exit_code == 0, result.output
    assert (out / "funnel.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    # 5 inputs: Li3N twice (merged), Li2S, Li7BiO6 and a broken file
    assert summary["n_candidates"] == 4 and summary["n_inputs"] == 5
    assert summary["tier_order"] == ["ingest", "bvse"]
    ingest, bvse = summary["tiers"]
    assert (ingest["entered"], ingest["passed"], ingest["rejected"]) == (4, 3, 1)
    assert "unreadable CIF" in ingest["rejected_reasons"][0]["example"]
    assert (bvse["entered"], bvse["passed"], bvse["rejected"], bvse["failed"]) == (3, 2, 1, 0)
    assert bvse["rejected_reasons"][0]["reason"] == "ea_1d_ev = # eV > # eV"
    assert bvse["compute"]["n_timed"] == 3 and bvse["compute"]["wall_time_s_total"] > 0
    assert bvse["compute"]["peak_memory_mb_max"] > 0
    top = summary["top_candidates"]
    assert [c["formula"] for c in top] == ["Li3N", "Li2S"]
    assert top[0]["barrier_source"] == "bvse" and top[0]["barrier_ev"] < 0.3
    text = (out / "report.md").read_text()
    assert "## Why candidates left" in text and "| Li3N |" in text
    assert f"embedded store {screened_store}" in text


def test_report_options_and_errors(screened_store, tmp_path):
    out = tmp_path / "svg"
    result = run(
        "report",
        "--data-dir",
        screened_store,
        "-o",
        out,
        "--chart-format",
        "svg",
        "--tiers",
        "bvse",
    )
    assert result.exit_code == 0, result.output
    assert (out / "funnel.svg").exists() and not (out / "funnel.png").exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tier_order"] == ["bvse", "ingest"]  # as asked, the rest appended
    assert "![funnel](funnel.svg)" in (out / "report.md").read_text()
    assert run("report", "--data-dir", tmp_path / "missing", "-o", out).exit_code == 1
    assert run("report", "--data-dir", screened_store, "--chart-format", "gif").exit_code == 2
    assert run("report", "--data-dir", screened_store, "--top", "-1").exit_code == 2
