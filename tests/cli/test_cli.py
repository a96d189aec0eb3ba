import json
import os
import subprocess
import sys

from typer.testing import CliRunner

from sseflow.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()
#: The funnel as it was before the ML and NEB stages: BVSE alone.
BVSE_ONLY = ("--skip", "ml", "--until", "bvse")


def test_screen_candidates_show_and_exit_codes(tmp_path):
    data = str(tmp_path / "db")
    result = runner.invoke(
        app,
        [
            "screen",
            str(EXAMPLES / "Li2S_antifluorite.cif"),
            str(EXAMPLES / "obelix_jqc.cif"),
            "--data-dir",
            data,
            *BVSE_ONLY,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "1/1 BVSE" in result.output and "ranked shortlist" in result.output
    listed = runner.invoke(app, ["candidates", "--data-dir", data, "--max-ea", "0.4", "--json"])
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.output.splitlines()]
    assert [r["formula"] for r in rows] == ["Li2S"]
    rejected = runner.invoke(
        app, ["candidates", "--data-dir", data, "--tier", "bvse", "--status", "rejected", "--json"]
    )
    assert [json.loads(x)["formula"] for x in rejected.output.splitlines()] == ["Li7BiO6"]
    shown = runner.invoke(app, ["show", rows[0]["candidate_id"], "--data-dir", data])
    assert shown.exit_code == 0 and json.loads(shown.output)["tiers"]["bvse"]["status"] == "passed"
    assert runner.invoke(app, ["show", "sse-000000000000", "--data-dir", data]).exit_code == 1
    assert (
        runner.invoke(app, ["screen", str(tmp_path / "missing.cif"), "--data-dir", data]).exit_code
        == 1
    )
    assert runner.invoke(app, ["screen", "--nonsense"]).exit_code == 2


def test_config_file_errors_exit_1(tmp_path):
    bad = tmp_path / "funnel.yaml"
    bad.write_text("stages:\n  - makers:\n      - class: sseflow.makers.nope.Missing\n")
    result = runner.invoke(
        app,
        [
            "screen",
            str(EXAMPLES / "Li3N_alpha.cif"),
            "--config",
            str(bad),
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 1
    assert "cannot import" in result.output


def test_records_persist_across_processes(tmp_path):
    env = {**os.environ, "SSEFLOW_DATA_DIR": str(tmp_path / "shared-db")}
    cmd = [sys.executable, "-m", "sseflow", "screen", str(EXAMPLES / "Li3N_alpha.cif"), *BVSE_ONLY]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    query = [sys.executable, "-m", "sseflow", "candidates", "--json", "--formula", "Li3N"]
    second = subprocess.run(query, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    (record,) = [json.loads(line) for line in second.stdout.splitlines()]
    assert record["tiers"]["bvse"]["ea_1d_ev"] < 0.3
