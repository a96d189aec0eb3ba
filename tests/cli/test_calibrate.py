"""``sseflow calibrate-neb`` refits the MLIP calibration on records of the store."""

import json

from typer.testing import CliRunner

from sseflow.cli import app
from sseflow.neb.calibration import load_calibration
from sseflow.store import candidate_repository, get_job_store

runner = CliRunner()


def neb_tier(barrier, potential=None, converged=True, length=2.855):
    tier = {
        "status": "passed",
        "converged": converged,
        "barrier_forward_ev": barrier,
        "hops": [{"hop": {"length_angstrom": length}}],
    }
    if potential:
        tier["potential"] = {"name": potential}
    return tier


def store_with_pairs(store_dir, n):
    store = get_job_store(data_dir=store_dir)
    store.connect()
    collection = candidate_repository(store).collection
    for i in range(n):
        mlip = 0.1 + 0.08 * i
        collection.insert_one(
            {
                "candidate_id": f"c{i}",
                "tiers": {
                    "neb_mlip": neb_tier(mlip, "SevenNet-0"),
                    "neb_dft": neb_tier(1.2 * mlip + 0.03),
                },
            }
        )
    collection.insert_one(
        {
            "candidate_id": "other-hop",
            "tiers": {
                "neb_mlip": neb_tier(0.2, "SevenNet-0"),
                "neb_dft": neb_tier(0.3, length=4.0),
            },
        }
    )


def test_refit_from_store(store_dir, tmp_path):
    store_with_pairs(store_dir, 6)
    out = tmp_path / "calibration.json"
    result = runner.invoke(app, ["calibrate-neb", "--data-dir", str(store_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "other-hop: the MLIP and DFT tiers computed different hops" in result.output
    fit = load_calibration(str(out)).get("SevenNet-0")
    assert fit.n_pairs == 6 and abs(fit.slope - 1.2) < 1e-9 and abs(fit.intercept - 0.03) < 1e-9
    assert "candidate records of embedded store" in fit.source
    assert json.loads(out.read_text())["calibrations"]["SevenNet-0"]["pairs"][0]["id"] == "c0"


def test_too_few_pairs_write_nothing(store_dir, tmp_path):
    store_with_pairs(store_dir, 3)
    out = tmp_path / "calibration.json"
    result = runner.invoke(app, ["calibrate-neb", "--data-dir", str(store_dir), "--out", str(out)])
    assert result.exit_code == 1
    assert "at least 5 needed" in result.output and "shipped calibration stays" in result.output
    assert not out.exists()
