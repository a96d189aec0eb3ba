import csv
import json
import shutil
from pathlib import Path

import typer
from typer.testing import CliRunner

from sseflow.cli.train import register

OBELIX = Path(__file__).resolve().parents[2] / "src/sseflow/data/obelix"


def small_label_table(tmp_path: Path) -> Path:
    """Six real OBELiX training rows (2 superionic) with their CIFs."""
    with open(OBELIX / "train.csv", newline="") as handle:
        rows = {r["ID"]: r for r in csv.DictReader(handle)}
    ids = ["47i", "0iv", "11b", "1e9", "3rx", "5bz"]
    (tmp_path / "cifs").mkdir()
    for i in ids:
        shutil.copy(OBELIX / "cifs" / f"{i}.cif", tmp_path / "cifs")
    path = tmp_path / "labels.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ID", "sigma_s_per_cm"])
        for i in ids:
            writer.writerow([i, rows[i]["Ionic conductivity (S cm-1)"]])
    return path


def test_train_then_evaluate(tmp_path):
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    labels = small_label_table(tmp_path)
    out = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "train",
            str(labels),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--seeds",
            "1",
            "--no-cv",
            "--model-version",
            "cli-test",
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model_version"] == "cli-test"
    assert manifest["training"]["n_samples"] == 6
    result = runner.invoke(app, ["evaluate", str(labels), "--model", str(out)])
    assert result.exit_code == 0, result.output
    assert "AUC-PR" in result.output and "MCC" in result.output
    assert "confusion matrix" in result.output


def test_bad_input(tmp_path):
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\nx,1\n")
    result = runner.invoke(app, ["evaluate", str(bad)])
    assert result.exit_code == 1
