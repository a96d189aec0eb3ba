"""Calibration of MLIP migration barriers against DFT: fit, leave-one-out check, apply.

Universal potentials soften the energy surface and under-predict migration barriers
(Deng et al., npj Comput. Mater. 2025); how much depends on the potential. A
calibration maps a potential's CI-NEB barrier to the DFT (Quantum ESPRESSO) barrier of
the same hop: ``E_dft ~ slope * E_mlip + intercept``, fitted by least squares on pairs
of barriers computed for the same hops and supercells. The form of the line is one of
:data:`CALIBRATION_MODELS` - none (identity), a constant shift, a constant scale or a
free line - chosen by leave-one-out error on the pairs (with five or six pairs a free
line can do worse than a shift, and no correction at all can be best); the error
recorded for the calibration is the nested leave-one-out error of that whole procedure
(the form chosen again without the pair being predicted).

Two sources of pairs:

- the benchmark shipped with sseflow (``benchmarks/neb_mlip_dft.py``, results in
  ``benchmarks/results/neb_mlip_dft.jsonl``; the fit is shipped as
  ``sseflow/neb/data/mlip_dft_calibration.json``), used by default;
- the user's own candidates that have both a ``neb_mlip`` and a converged ``neb_dft``
  record (``sseflow calibrate-neb`` refits from the store and writes a file that
  ``MLIPNEBMaker(calibration=path)`` reads).

Every calibration carries its provenance: the data it was fitted on, the fit, the
residuals and a leave-one-out check (MAE, largest error, Spearman rank correlation of
the calibrated barriers with DFT). Compounds used to check the method against published
values (thesis Table 2.2) are never part of a fit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Fewest MLIP/DFT pairs a calibration is fitted on.
MIN_PAIRS = 5
#: The calibration shipped with sseflow (fitted on the shipped benchmark).
SHIPPED_CALIBRATION = Path(__file__).parent / "data" / "mlip_dft_calibration.json"


class CalibrationError(ValueError):
    """A calibration cannot be fitted or read (too few pairs, unreadable file)."""


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Return the Spearman rank correlation of two sequences (average ranks for ties)."""
    from scipy.stats import spearmanr

    return float(spearmanr(np.asarray(x, dtype=float), np.asarray(y, dtype=float)).statistic)


#: Forms of the calibration line ``E_dft = slope * E_mlip + intercept``, fewest fitted
#: parameters first: ``identity`` (no correction), ``shift`` (slope 1), ``scale``
#: (intercept 0), ``linear`` (both free). A tie in leave-one-out error goes to the
#: earlier form.
CALIBRATION_MODELS: tuple[str, ...] = ("identity", "shift", "scale", "linear")

_MODEL_TEXT = {
    "identity": "E_dft = E_mlip (no correction)",
    "shift": "E_dft = E_mlip + intercept (least squares)",
    "scale": "E_dft = slope * E_mlip (least squares)",
    "linear": "E_dft = slope * E_mlip + intercept (least squares)",
}


def fit_line(mlip_ev: ArrayLike, dft_ev: ArrayLike, model: str = "linear") -> tuple[float, float]:
    """Return ``(slope, intercept)`` of the least-squares line DFT ~ MLIP of form ``model``.

    Parameters
    ----------
    mlip_ev, dft_ev
        Barriers of the same hops (eV).
    model
        One of :data:`CALIBRATION_MODELS`.

    Examples
    --------
    >>> slope, intercept = fit_line([0.1, 0.2, 0.3], [0.2, 0.3, 0.4], "shift")
    >>> slope, round(intercept, 6)
    (1.0, 0.1)
    """
    x = np.asarray(mlip_ev, dtype=float)
    y = np.asarray(dft_ev, dtype=float)
    if model == "identity":
        return 1.0, 0.0
    if model == "shift":
        return 1.0, float(np.mean(y - x))
    if model == "scale":
        return float(np.sum(x * y) / np.sum(x * x)), 0.0
    if model == "linear":
        slope, intercept = np.polyfit(x, y, 1)
        return float(slope), float(intercept)
    raise CalibrationError(f"unknown calibration model {model!r}; one of {CALIBRATION_MODELS}")


def leave_one_out(
    mlip_ev: ArrayLike, dft_ev: ArrayLike, model: str = "linear"
) -> NDArray[np.float64]:
    """Return the leave-one-out predictions: pair ``i`` predicted by the fit without it."""
    x = np.asarray(mlip_ev, dtype=float)
    y = np.asarray(dft_ev, dtype=float)
    predictions = np.empty_like(y)
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        slope, intercept = fit_line(x[keep], y[keep], model)
        predictions[i] = slope * x[i] + intercept
    return predictions


def loo_mae_by_model(mlip_ev: ArrayLike, dft_ev: ArrayLike) -> dict[str, float]:
    """Return the leave-one-out MAE (eV) of every form in :data:`CALIBRATION_MODELS`."""
    y = np.asarray(dft_ev, dtype=float)
    return {
        model: float(np.mean(np.abs(leave_one_out(mlip_ev, y, model) - y)))
        for model in CALIBRATION_MODELS
    }


def _lowest_error_model(errors: dict[str, float]) -> str:
    """Return the form with the lowest MAE in ``errors`` (eV; ties: fewest parameters)."""
    best = min(errors.values())
    return next(m for m in CALIBRATION_MODELS if errors[m] <= best + 1e-12)


def select_model(mlip_ev: ArrayLike, dft_ev: ArrayLike) -> str:
    """Return the form with the lowest leave-one-out MAE (ties: the fewest parameters)."""
    return _lowest_error_model(loo_mae_by_model(mlip_ev, dft_ev))


def nested_leave_one_out(mlip_ev: ArrayLike, dft_ev: ArrayLike) -> NDArray[np.float64]:
    """Return leave-one-out predictions of the whole procedure, choice of form included.

    Pair ``i`` is predicted by the form :func:`select_model` picks on the other pairs,
    fitted on them: the honest error of a calibration whose form was chosen on its own
    data.
    """
    x = np.asarray(mlip_ev, dtype=float)
    y = np.asarray(dft_ev, dtype=float)
    predictions = np.empty_like(y)
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        model = select_model(x[keep], y[keep])
        slope, intercept = fit_line(x[keep], y[keep], model)
        predictions[i] = slope * x[i] + intercept
    return predictions


@dataclass
class BarrierCalibration:
    """A linear calibration of one potential's barriers to DFT (energies in eV).

    Attributes
    ----------
    potential
        Potential name as recorded by the NEB tier (e.g. ``"SevenNet-0"``).
    slope, intercept
        ``E_calibrated = slope * E_mlip + intercept``.
    model
        Form of the line (:data:`CALIBRATION_MODELS`).
    n_pairs
        Number of MLIP/DFT pairs fitted.
    source
        Where the pairs came from (the benchmark file, or the store and its query).
    pairs
        The pairs: ``{"id", "mlip_ev", "dft_ev"}`` each.
    residual_rms_ev
        Root-mean-square residual of the fit on its own pairs.
    loo_mae_ev, loo_max_error_ev, loo_spearman
        Leave-one-out check: each pair predicted by the procedure run on the others
        (when the form was chosen from the data, it is chosen again: nested).
    raw_mae_ev, raw_spearman
        The same numbers for the uncalibrated barriers.
    loo_mae_by_model
        Leave-one-out MAE of every form (eV), from which ``model`` was chosen.
    """

    potential: str
    slope: float
    intercept: float
    n_pairs: int
    source: str
    pairs: list[dict[str, Any]] = field(default_factory=list)
    residual_rms_ev: float | None = None
    loo_mae_ev: float | None = None
    loo_max_error_ev: float | None = None
    loo_spearman: float | None = None
    raw_mae_ev: float | None = None
    raw_spearman: float | None = None
    model: str = "linear"
    loo_mae_by_model: dict[str, float] | None = None

    def apply(self, barrier_ev: float) -> float:
        """Return the calibrated barrier (eV)."""
        return self.slope * barrier_ev + self.intercept

    def provenance(self) -> dict[str, Any]:
        """Return what the record keeps about this calibration (no pair list)."""
        out = asdict(self)
        out.pop("pairs")
        out["model"] = _MODEL_TEXT.get(self.model, self.model)
        return out


def fit_calibration(
    potential: str,
    pairs: list[dict[str, Any]],
    source: str,
    min_pairs: int = MIN_PAIRS,
    model: str = "auto",
) -> BarrierCalibration:
    """Fit a calibration on ``pairs`` (``{"id", "mlip_ev", "dft_ev"}``) and check it.

    Parameters
    ----------
    potential
        Name of the potential whose barriers are calibrated.
    pairs
        MLIP and DFT barriers of the same hops (eV).
    source
        Where the pairs come from (recorded).
    min_pairs
        Fewest pairs fitted.
    model
        A form of :data:`CALIBRATION_MODELS`, or ``"auto"``: the form with the lowest
        leave-one-out MAE, its check then nested (the form chosen again per left-out
        pair).

    Raises
    ------
    CalibrationError
        Fewer than ``min_pairs`` pairs, all MLIP barriers equal, or an unknown form.
    """
    if len(pairs) < max(min_pairs, 3):
        raise CalibrationError(
            f"{potential}: {len(pairs)} MLIP/DFT pairs, at least {max(min_pairs, 3)} needed"
        )
    x = np.array([p["mlip_ev"] for p in pairs], dtype=float)
    y = np.array([p["dft_ev"] for p in pairs], dtype=float)
    if np.ptp(x) < 1e-6:
        raise CalibrationError(f"{potential}: all MLIP barriers are equal, nothing to fit")
    if model != "auto" and model not in CALIBRATION_MODELS:
        raise CalibrationError(
            f"unknown calibration model {model!r}; one of {CALIBRATION_MODELS} or 'auto'"
        )
    errors_by_model = loo_mae_by_model(x, y)
    chosen = _lowest_error_model(errors_by_model) if model == "auto" else model
    slope, intercept = fit_line(x, y, chosen)
    residual = slope * x + intercept - y
    loo = nested_leave_one_out(x, y) if model == "auto" else leave_one_out(x, y, chosen)
    return BarrierCalibration(
        potential=potential,
        slope=slope,
        intercept=intercept,
        model=chosen,
        loo_mae_by_model=errors_by_model,
        n_pairs=len(pairs),
        source=source,
        pairs=list(pairs),
        residual_rms_ev=float(np.sqrt(np.mean(residual**2))),
        loo_mae_ev=float(np.mean(np.abs(loo - y))),
        loo_max_error_ev=float(np.max(np.abs(loo - y))),
        loo_spearman=spearman(loo, y),
        raw_mae_ev=float(np.mean(np.abs(x - y))),
        raw_spearman=spearman(x, y),
    )


@dataclass
class CalibrationSet:
    """Calibrations of several potentials, as stored in one JSON file."""

    calibrations: dict[str, BarrierCalibration]
    description: str = ""

    def get(self, potential: str) -> BarrierCalibration | None:
        """Return the calibration of ``potential`` (None when there is none)."""
        return self.calibrations.get(potential)

    def to_json(self, path: str | Path) -> Path:
        """Write the set to ``path`` (JSON)."""
        data = {
            "description": self.description,
            "calibrations": {name: asdict(c) for name, c in self.calibrations.items()},
        }
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")
        return path

    @classmethod
    def from_json(cls, path: str | Path) -> CalibrationSet:
        """Read a set written by :meth:`to_json`."""
        try:
            data = json.loads(Path(path).read_text())
            calibrations = {
                name: BarrierCalibration(**values) for name, values in data["calibrations"].items()
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CalibrationError(f"cannot read calibration file {path}: {exc}") from exc
        return cls(calibrations, data.get("description", ""))


def load_calibration(source: str | None) -> CalibrationSet | None:
    """Return the calibration set named by a Maker setting.

    ``"shipped"``: the fit on the benchmark shipped with sseflow; a path: a file
    written by ``sseflow calibrate-neb``; None: no calibration.
    """
    if source is None:
        return None
    if source == "shipped" and not SHIPPED_CALIBRATION.exists():
        return CalibrationSet({}, "no calibration shipped with this installation")
    path = SHIPPED_CALIBRATION if source == "shipped" else Path(source)
    return CalibrationSet.from_json(path)


def _hop_lengths(tier: dict[str, Any]) -> list[float]:
    return sorted(round(h["hop"]["length_angstrom"], 2) for h in tier.get("hops") or [])


def _potential_name(tier: dict[str, Any]) -> str | None:
    potential = tier.get("potential") or {}
    if potential.get("name"):
        return str(potential["name"])
    if str(tier.get("calculator") or "").startswith("CHGNet"):
        return "CHGNet"  # records written before the potential was recorded
    return None


def pairs_from_records(
    records: list[dict[str, Any]],
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Collect MLIP/DFT barrier pairs from candidate records (``tiers.neb_mlip/neb_dft``).

    A candidate gives a pair when both NEB tiers converged and computed hops of the
    same lengths (the same hops); its MLIP barrier is paired with its DFT barrier
    under the name of the potential that computed it.

    Returns
    -------
    pairs
        Potential name -> pairs ``{"id", "mlip_ev", "dft_ev"}``.
    skipped
        One line per candidate with both tiers that gave no pair, and why.
    """
    pairs: dict[str, list[dict[str, Any]]] = {}
    skipped: list[str] = []
    for record in records:
        tiers = record.get("tiers") or {}
        mlip, dft = tiers.get("neb_mlip"), tiers.get("neb_dft")
        if not mlip or not dft:
            continue
        cid = record.get("candidate_id", "?")
        name = _potential_name(mlip)
        if not (mlip.get("converged") and dft.get("converged")):
            skipped.append(f"{cid}: a NEB tier did not converge")
        elif name is None:
            skipped.append(f"{cid}: the neb_mlip record does not say which potential")
        elif _hop_lengths(mlip) != _hop_lengths(dft):
            skipped.append(f"{cid}: the MLIP and DFT tiers computed different hops")
        else:
            pairs.setdefault(name, []).append(
                {
                    "id": cid,
                    "mlip_ev": mlip["barrier_forward_ev"],
                    "dft_ev": dft["barrier_forward_ev"],
                }
            )
    return pairs, skipped
