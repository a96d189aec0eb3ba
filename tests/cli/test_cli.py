import fcntl
import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from sseflow.cli import app
from sseflow.store import candidate_repository, get_job_store
from tests.conftest import EXAMPLES, REPO, TEST_GATE_EV

runner = CliRunner()
F_SETPIPE_SZ = 1031  # Linux fcntl: set a pipe's capacity


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def flat(result) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(result.output.split())


def records(data_dir) -> list[dict]:
    store = get_job_store(data_dir=data_dir, read_only=True)
    store.connect()
    return list(candidate_repository(store, read_only=True).find({}))


def test_screen_candidates_show_and_exit_codes(tmp_path):
    data = str(tmp_path / "db")
    result = invoke(
        "screen",
        EXAMPLES / "Li2S_antifluorite.cif",
        EXAMPLES / "obelix_jqc.cif",
        "--data-dir",
        data,
        "--max-ea",
        TEST_GATE_EV,
    )
    assert result.exit_code == 0, result.output
    assert "running bvse Li2S" in flat(result)
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


def test_closing_summary_counts_what_the_store_holds(tmp_path):
    data = tmp_path / "db"
    broken = tmp_path / "broken.cif"
    broken.write_text("data_broken\n_cell_length_a 5\nloop_\n_atom_site_label\nLi1\n")
    result = invoke(
        "screen",
        EXAMPLES / "Li3N_alpha.cif",
        EXAMPLES / "obelix_gvd.cif",  # the same crystal: merged into one record
        broken,
        "--data-dir",
        data,
        "--workers",
        0,
    )
    assert result.exit_code == 0, result.output
    stored = records(data)
    by_status = {s: sum(r["status"] == s for r in stored) for s in ("passed", "rejected")}
    assert len(stored) == 2 and by_status == {"passed": 1, "rejected": 1}
    summary = flat(result)
    assert "3 input(s) -> 2 candidate record(s): 1 passed, 1 rejected" in summary
    assert "1 merged" in summary


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--resolution", "0"),
        ("--resolution", "5"),
        ("--time-limit", "-5"),
        ("--memory-limit", "0"),
        ("--max-ea", "-1"),
        ("--max-ea", "nan"),
        ("--max-atoms", "0"),
        ("--dimension", "4D"),
        ("--occupancy-mode", "average"),
        ("--workers", "-1"),
    ],
)
def test_screen_options_out_of_range_exit_2_before_any_work(tmp_path, option, value):
    data = tmp_path / "db"
    result = invoke("screen", EXAMPLES / "Li2S_antifluorite.cif", "--data-dir", data, option, value)
    assert result.exit_code == 2, result.output
    assert option in flat(result)
    assert not data.exists()  # nothing was written


@pytest.mark.parametrize(
    ("option", "value"),
    [("--resolution", "0"), ("--time-limit", "-5"), ("--max-ea", "-1"), ("--priority", "x")],
)
def test_submit_options_out_of_range_exit_2(tmp_path, option, value):
    missing = tmp_path / "launchpad.yaml"
    result = invoke("submit", EXAMPLES / "Li2S_antifluorite.cif", "-l", missing, option, value)
    assert result.exit_code == 2, result.output


def test_submit_errors_exit_1_with_the_reason(tmp_path):
    bad = tmp_path / "funnel.yaml"
    bad.write_text("stages:\n  - makers:\n      - class: os.system\n")
    paths = [EXAMPLES / "Li2S_antifluorite.cif"]
    result = invoke("submit", *paths, "--config", bad, "--no-store-check")
    assert result.exit_code == 1 and "not a tier Maker" in flat(result)
    lp = tmp_path / "nope.yaml"
    result = invoke("submit", *paths, "-l", lp, "--no-store-check")
    assert result.exit_code == 1 and "does not exist" in flat(result)
    result = invoke("submit", tmp_path / "missing.cif", "-l", lp)
    assert result.exit_code == 1 and "no such file" in flat(result)


def test_config_file_errors_exit_1(tmp_path):
    bad = tmp_path / "funnel.yaml"
    bad.write_text("stages:\n  - makers:\n      - class: sseflow.makers.nope.Missing\n")
    result = invoke("screen", EXAMPLES / "Li3N_alpha.cif", "--config", bad, "--data-dir", tmp_path)
    assert result.exit_code == 1
    assert "cannot import" in flat(result)
    marker = tmp_path / "ran"
    bad.write_text(
        "stages:\n  - makers:\n      - class: subprocess.Popen\n"
        f"        settings: {{args: [touch, {marker}]}}\n"
    )
    result = invoke("screen", EXAMPLES / "Li3N_alpha.cif", "--config", bad, "--data-dir", tmp_path)
    assert result.exit_code == 1 and "not a tier Maker" in flat(result)
    assert not marker.exists()
    bad.write_text(
        "stages:\n  - makers: [{class: sseflow.bvse.BVSEMaker}]\n"
        "    gate: {class: sseflow.funnel.gates.ThresholdGate, "
        "settings: {tier: bvse, field: ea_1d_evv, max_value: 0.6}}\n"
    )
    data = tmp_path / "db"
    result = invoke("screen", EXAMPLES / "Li3N_alpha.cif", "--config", bad, "--data-dir", data)
    assert result.exit_code == 1 and "did you mean ea_1d_ev" in flat(result)
    assert not data.exists()


def test_no_structure_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no structures here")
    data = tmp_path / "db"
    result = invoke("screen", empty, "--data-dir", data)
    assert result.exit_code == 1 and "no structure file" in flat(result)
    assert not data.exists()
    unreadable = tmp_path / "bad"
    unreadable.mkdir()
    (unreadable / "a.cif").write_text("not a cif")
    (unreadable / "b.vasp").write_text("Li\n1.0\n")
    result = invoke("screen", unreadable, "--data-dir", data, "--workers", 0)
    assert result.exit_code == 1 and "none of the 2 input(s) yielded a structure" in flat(result)
    assert {r["status"] for r in records(data)} == {"rejected"}  # each recorded with why


def test_a_stage_that_crashes_exits_1_and_fails_its_candidates(tmp_path):
    config = tmp_path / "funnel.yaml"
    config.write_text("stages:\n  - makers: [{class: tests.funnel.plugins.BrokenMaker}]\n")
    data = tmp_path / "db"
    result = invoke("screen", EXAMPLES / "Li3N_alpha.cif", "--config", config, "--data-dir", data)
    assert result.exit_code == 1
    assert "stage 0 (broken) could not start" in flat(result)
    (record,) = records(data)
    assert record["status"] == "failed" and "unexpected keyword argument" in record["reason"]


def test_a_closed_pipe_is_not_an_error(screened_store):
    """``sseflow candidates | head -c 10``: the reader leaves early, exit code 0, no noise."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "sseflow", "candidates", "--data-dir", str(screened_store)]
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)  # smaller than the output: the writer waits
    proc = subprocess.Popen(
        [*cmd, "--json", "--structure"], env=env, stdout=write_end, stderr=subprocess.PIPE
    )
    os.close(write_end)
    assert len(os.read(read_end, 10)) == 10
    os.close(read_end)  # as `head -c 10` does
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err and b"Broken pipe" not in err


def test_records_persist_across_processes(tmp_path):
    env = {**os.environ, "SSEFLOW_DATA_DIR": str(tmp_path / "shared-db")}
    env["PYTHONPATH"] = str(REPO / "src")
    cmd = [sys.executable, "-m", "sseflow", "screen", str(EXAMPLES / "Li3N_alpha.cif")]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    query = [sys.executable, "-m", "sseflow", "candidates", "--json", "--formula", "Li3N"]
    second = subprocess.run(query, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    (record,) = [json.loads(line) for line in second.stdout.splitlines()]
    assert record["tiers"]["bvse"]["ea_1d_ev"] < 0.3
