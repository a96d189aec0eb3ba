import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sseflow.cli.train import register
from tests.ml.label_tables import obelix_form, simple_form

#: Six real OBELiX training rows with a CIF (one superionic: 11b).
IDS = ["47i", "0iv", "11b", "1e9", "3rx", "5bz"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


runner = CliRunner()


@pytest.mark.parametrize("form", [obelix_form, simple_form])
def test_train_then_evaluate_accepts_both_forms(app, tmp_path, form):
    labels = form(tmp_path / "labels", IDS)
    out = tmp_path / "model"
    args = ["train", str(labels), "--out", str(out), "--epochs", "1", "--seeds", "1", "--no-cv"]
    result = runner.invoke(app, [*args, "--model-version", "cli-test"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_version"] == "cli-test"
    assert manifest["training"]["n_samples"] == 6
    result = runner.invoke(
        app,
        ["evaluate", str(labels), "--model", str(out), "--json", str(tmp_path / "s.json")],
    )
    assert result.exit_code == 0, result.output
    assert "AUC-PR" in result.output and "MCC" in result.output
    assert "confusion matrix" in result.output and "per structure" in result.output
    rows = json.loads((tmp_path / "s.json").read_text())
    assert [r["id"] for r in rows] == IDS
    assert [r["superionic"] for r in rows] == [0, 0, 1, 0, 0, 0]
    assert all(0 <= r["p_si"] <= 1 and r["d_training"] >= 0 for r in rows)


def test_evaluate_csv_to_stdout_with_the_shipped_model(app, tmp_path):
    labels = obelix_form(tmp_path, ["11b", "47i", "7se"])  # 7se: composition only
    result = runner.invoke(app, ["evaluate", str(labels), "--csv", "-"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "," in line]
    rows = list(csv.DictReader(lines))
    assert [r["id"] for r in rows] == ["11b", "47i"]
    assert rows[1]["is_upper_bound"] == "True" and rows[1]["superionic"] == "0"


def _text(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


def test_bad_input(app, tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "not found" in _text(result)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\nx,1\n")
    result = runner.invoke(app, ["evaluate", str(bad)])
    assert result.exit_code == 1 and "needs an id column" in _text(result)
    bad.write_text("id,sigma_s_per_cm,cif_path\nx,1e-3,nothere.cif\n")
    for command in ("evaluate", "train"):
        result = runner.invoke(app, [command, str(bad)])
        assert result.exit_code == 1 and "line 2 (id 'x')" in _text(result)


@pytest.mark.slow
def test_evaluate_prints_no_tensorflow_noise(tmp_path):
    labels = simple_form(tmp_path, ["11b", "47i"])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "sseflow", "evaluate", str(labels)]
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert "AUC-PR" in quiet.stdout
    assert "oneDNN" not in quiet.stderr and "absl" not in quiet.stderr, quiet.stderr
    loud = subprocess.run([*command, "--verbose"], capture_output=True, text=True, env=env)
    assert loud.returncode == 0 and "oneDNN" in loud.stderr
