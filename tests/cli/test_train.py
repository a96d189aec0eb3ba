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
#: Real OBELiX rows for training: 4 + 1 superionic, 8 + 1 not; dj2 and 7se without a CIF.
TRAIN_IDS = ["11b", "1kq", "13q", "cy2", "47i", "0iv", "1e9", "3rx", "5bz", "4kt", "883"]
TRAIN_IDS += ["b4c", "dj2", "7se"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


runner = CliRunner()


@pytest.mark.parametrize("form", [obelix_form, simple_form])
def test_train_then_evaluate_accepts_both_forms(app, tmp_path, form):
    labels = form(tmp_path / "labels", TRAIN_IDS)
    out = tmp_path / "model"
    small = ["--atomsets", "1", "--pooled", "1", "--max-epochs", "1", "--seeds", "1"]
    small += ["--variant", "V0:CAN", "--inner-folds", "2", "--composition", "2", "--trees", "20"]
    result = runner.invoke(app, ["train", str(labels), "--out", str(out), *small])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_version"] == "psi_user"
    assert manifest["training"]["n_samples"] == 14  # composition-only rows train too
    assert manifest["training"]["n_with_structure"] == 12
    assert manifest["feature_settings"]["simplification"] == "CAN"
    result = runner.invoke(
        app,
        ["evaluate", str(labels), "--model", str(out), "--json", str(tmp_path / "s.json")],
    )
    assert result.exit_code == 0, result.output
    assert "AUC-PR" in result.output and "MCC" in result.output
    assert "confusion matrix" in result.output and "per structure" in result.output
    rows = json.loads((tmp_path / "s.json").read_text())
    assert len(rows) == 12 and rows[0]["id"] == "11b" and rows[0]["superionic"] == 1
    assert all(0 <= r["p_si"] <= 1 and r["d_training"] >= 0 for r in rows)
    assert all(r["p_si_composition"] is not None for r in rows)
    # the user's model was trained on these rows: each composition is its own neighbour
    assert all(r["d_composition"] == 0 for r in rows)


def test_evaluate_csv_to_stdout_with_the_shipped_model(app, tmp_path):
    labels = obelix_form(tmp_path, ["11b", "47i", "7se"])  # 7se: composition only
    result = runner.invoke(app, ["evaluate", str(labels), "--csv", "-"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if "," in line]
    rows = list(csv.DictReader(lines))
    assert [r["id"] for r in rows] == ["11b", "47i"]
    assert "1 row(s) without a structure not scored" in " ".join(result.stderr.split())
    assert rows[1]["is_upper_bound"] == "True" and rows[1]["superionic"] == "0"
    assert float(rows[0]["d_composition"]) == 0  # a training composition of psi_v3


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
    bad.write_text("id,sigma_s_per_cm,cif_path,composition\nx,1e-3,,Li2S\n")
    result = runner.invoke(app, ["evaluate", str(bad)])
    assert result.exit_code == 1 and "no row of the table has a structure" in _text(result)


@pytest.mark.slow
def test_evaluate_prints_no_tensorflow_noise(tmp_path):
    labels = simple_form(tmp_path, ["11b", "47i"])
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    # the previous default model needs TensorFlow (V1 features): its noise must not show
    old_model = REPO / "src" / "sseflow" / "data" / "models" / "atomsets_v1_camns"
    command = [sys.executable, "-m", "sseflow", "evaluate", str(labels), "--model", str(old_model)]
    quiet = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    assert "AUC-PR" in quiet.stdout
    assert "oneDNN" not in quiet.stderr and "absl" not in quiet.stderr, quiet.stderr
    loud = subprocess.run([*command, "--verbose"], capture_output=True, text=True, env=env)
    # TensorFlow's oneDNN notice depends on the CPU (absent on some AMD EPYC hosts); its
    # absl logging notice shows on every CPU
    noise = ("oneDNN" in loud.stderr) or ("absl" in loud.stderr)
    assert loud.returncode == 0 and noise, loud.stderr[-2000:]


def test_train_reads_several_tables_as_one(app, tmp_path):
    first = simple_form(tmp_path / "a", TRAIN_IDS[:7])
    second = obelix_form(tmp_path / "b", TRAIN_IDS[7:])
    out = tmp_path / "model"
    small = ["--atomsets", "0", "--pooled", "1", "--seeds", "1", "--variant", "V0:CAN"]
    small += ["--inner-folds", "2", "--composition", "1", "--trees", "10"]
    result = runner.invoke(app, ["train", str(first), str(second), "--out", str(out), *small])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["training"]["n_samples"] == 14
    assert manifest["training"]["label_table"] == [str(first), str(second)]
    # the same id in two tables is refused before anything is computed
    again = obelix_form(tmp_path / "c", ["11b"])
    result = runner.invoke(app, ["train", str(first), str(again), "--out", str(out), *small])
    assert result.exit_code == 1 and "'11b' is in both" in _text(result)


@pytest.mark.slow
def test_train_with_the_shipped_split_adds_your_rows(app, tmp_path):
    """A user's measurement of a compound (here a repeat of OBELiX's 11b under its own
    id, measured faster) trains together with the 478 shipped rows."""
    mine = tmp_path / "mine"
    mine.mkdir()
    cif = mine / "my-11b.cif"
    cif.write_text((REPO / "src/sseflow/data/obelix/cifs/11b.cif").read_text())
    (mine / "labels.csv").write_text(f"id,sigma_s_per_cm,cif_path\nmy-11b,2.5e-3,{cif}\n")
    out = tmp_path / "model"
    small = ["--atomsets", "0", "--pooled", "1", "--seeds", "1", "--variant", "V0:CAN"]
    small += ["--inner-folds", "2", "--composition", "1", "--trees", "10"]
    args = ["train", str(mine / "labels.csv"), "--with-shipped", "--out", str(out), *small]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    training = json.loads((out / "manifest.json").read_text())["training"]
    assert training["n_samples"] == 479 and training["n_with_structure"] == 255
    assert training["label_table"][1].endswith("obelix/train.csv")
