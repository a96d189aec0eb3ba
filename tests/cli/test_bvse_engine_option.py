"""``--bvse-engine``: the BVSE engine is a recorded, hashed setting of the funnel."""

import json

from typer.testing import CliRunner

from sseflow.cli import app
from tests.conftest import EXAMPLES

runner = CliRunner()


def _bvse_record(data: str) -> dict:
    listed = runner.invoke(app, ["candidates", "--data-dir", data, "--json"])
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    shown = runner.invoke(app, ["show", row["candidate_id"], "--data-dir", data])
    return json.loads(shown.output)["tiers"]["bvse"]


def test_engine_option_selects_records_and_hashes_the_engine(tmp_path):
    data = str(tmp_path / "db")
    cif = str(EXAMPLES / "Li2S_antifluorite.cif")
    assert runner.invoke(app, ["screen", cif, "--data-dir", data]).exit_code == 0
    native = _bvse_record(data)
    assert native["engine"] == "native" and native["settings"]["engine"] == "native"
    result = runner.invoke(app, ["screen", cif, "--data-dir", data, "--bvse-engine", "bvlain"])
    assert result.exit_code == 0, result.output
    bvlain = _bvse_record(data)
    # another engine is another settings hash: computed again, not reused
    assert bvlain["engine"] == "bvlain" and "engine" not in bvlain["settings"]
    assert bvlain["settings_hash"] != native["settings_hash"]
    assert 0 < bvlain["ea_1d_ev"] - native["ea_1d_ev"] <= 0.01


def test_unknown_engine_is_refused(tmp_path):
    cif = str(EXAMPLES / "Li2S_antifluorite.cif")
    result = runner.invoke(
        app, ["screen", cif, "--data-dir", str(tmp_path / "db"), "--bvse-engine", "fast"]
    )
    assert result.exit_code == 2 and "is not one of native, bvlain" in result.output
