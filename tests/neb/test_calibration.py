"""Calibration of MLIP barriers against DFT: fit, leave-one-out, provenance, disagreement."""

import numpy as np
import pytest

from sseflow.neb.calibration import (
    CalibrationError,
    CalibrationSet,
    fit_calibration,
    leave_one_out,
    load_calibration,
)
from sseflow.neb.jobs import calibrated_fields, disagreement


def pairs(slope=1.3, intercept=0.05, noise=0.0):
    mlip = np.array([0.15, 0.22, 0.30, 0.41, 0.55, 0.62])
    dft = slope * mlip + intercept + noise * np.array([1, -1, 1, -1, 1, -1])
    return [
        {"id": f"c{i}", "mlip_ev": x, "dft_ev": y}
        for i, (x, y) in enumerate(zip(mlip, dft, strict=True))
    ]


def test_exact_line_is_recovered_and_checked_leave_one_out():
    fit = fit_calibration("SevenNet-0", pairs(), source="synthetic")
    assert fit.slope == pytest.approx(1.3) and fit.intercept == pytest.approx(0.05)
    assert fit.loo_mae_ev == pytest.approx(0.0, abs=1e-9)
    assert fit.loo_spearman == pytest.approx(1.0)
    assert fit.raw_mae_ev > 0.1
    assert fit.apply(0.3) == pytest.approx(0.44)


def test_leave_one_out_sees_noise_the_fit_hides():
    data = pairs(noise=0.02)
    fit = fit_calibration("CHGNet", data, source="synthetic")
    assert fit.loo_mae_ev > fit.residual_rms_ev * 0.9
    x = [p["mlip_ev"] for p in data]
    y = [p["dft_ev"] for p in data]
    assert len(leave_one_out(x, y)) == len(data)


def test_too_few_pairs_are_refused():
    with pytest.raises(CalibrationError, match="at least 5"):
        fit_calibration("CHGNet", pairs()[:3], source="synthetic")


def test_calibration_file_round_trip_and_record_fields(tmp_path):
    fit = fit_calibration("SevenNet-0", pairs(), source="synthetic")
    path = CalibrationSet({"SevenNet-0": fit}, "test set").to_json(tmp_path / "c.json")
    loaded = load_calibration(str(path))
    fields = calibrated_fields(loaded, "SevenNet-0", 0.3)
    assert fields["barrier_calibrated_ev"] == pytest.approx(0.44)
    assert fields["calibration"]["source"] == "synthetic"
    assert fields["calibration"]["n_pairs"] == 6 and "pairs" not in fields["calibration"]
    other = calibrated_fields(loaded, "CHGNet", 0.3)
    assert (
        other["barrier_calibrated_ev"] is None and "no calibration" in other["calibration"]["note"]
    )
    assert calibrated_fields(None, "CHGNet", 0.3) == {
        "barrier_calibrated_ev": None,
        "calibration": None,
    }
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(CalibrationError, match="cannot read"):
        load_calibration(str(tmp_path / "bad.json"))


def test_disagreement_uses_calibrated_barriers_when_all_have_one():
    both = {
        "A": {"barrier_forward_ev": 0.20, "barrier_calibrated_ev": 0.30, "converged": True},
        "B": {"barrier_forward_ev": 0.35, "barrier_calibrated_ev": 0.33, "converged": True},
    }
    out = disagreement(both, 0.1)
    assert out["potential_spread_of"] == "barrier_calibrated_ev"
    assert out["potential_spread_ev"] == pytest.approx(0.03)
    assert out["potentials_disagree"] is False
    both["B"]["barrier_calibrated_ev"] = None
    out = disagreement(both, 0.1)
    assert out["potential_spread_of"] == "barrier_forward_ev" and out["potentials_disagree"]
    lonely = disagreement({"A": both["A"], "B": {"converged": False}}, 0.1)
    assert lonely["potentials_disagree"] is None and lonely["potential_spread_ev"] is None
