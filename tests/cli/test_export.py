"""``sseflow export`` on a real funnel run (embedded store)."""

import csv

from typer.testing import CliRunner

from sseflow.cli import app
from sseflow.ingest.batch import ingest

runner = CliRunner()


def test_export_top_candidates_as_cif(screened_store, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["export", "--data-dir", str(screened_store), "--top", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert [r["formula"] for r in rows] == ["Li3N", "Li2S"] and rows[0]["rank"] == "1"
    for row in rows:
        cif = out / row["folder"] / "input.cif"
        assert ingest([cif]).accepted[0].candidate_id == row["candidate_id"]
        assert (out / row["folder"] / "ordered.cif").exists()  # ordered input: itself
    nothing = runner.invoke(
        app, ["export", "--data-dir", str(screened_store), "--tier", "neb_mlip", "-o", str(out)]
    )
    assert nothing.exit_code == 1 and "nothing to export" in nothing.output
    bad = runner.invoke(
        app, ["export", "--data-dir", str(screened_store), "-o", str(out), "-f", "pdb"]
    )
    assert bad.exit_code == 2
