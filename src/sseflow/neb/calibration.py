"""Calibration of MLIP migration barriers against DFT: fit, leave-one-out check, apply.

Universal potentials soften the energy surface and under-predict migration barriers
(Deng et al., npj Comput. Mater. 2025); how much depends on the potential. A
calibration maps a potential's CI-NEB barrier to the DFT (Quantum ESPRESSO) barrier of
the same hop: ``E_dft ~ slope * E_mlip + intercept``, fitted by least squares on pairs
of barriers computed for the same hops and supercells.

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


def fit_linear(mlip_ev: ArrayLike, dft_ev: ArrayLike) -> tuple[float, float]:
    """Return ``(slope, intercept)`` of the least-squares line DFT ~ MLIP (eV)."""
    x = np.asarray(mlip_ev, dtype=float)
    y = np.asarray(dft_ev, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    return float(slope), float(intercept)


def leave_one_out(mlip_ev: ArrayLike, dft_ev: ArrayLike) -> NDArray[np.float64]:
    """Return the leave-one-out predictions: pair ``i`` predicted by the fit without it."""
    x = np.asarray(mlip_ev, dtype=float)
    y = np.asarray(dft_ev, dtype=float)
    predictions = np.empty_like(y)
    for i in range(len(x)):
        keep = np.arange(len(x)) != i
        slope, intercept = fit_linear(x[keep], y[keep])
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
    n_pairs
        Number of MLIP/DFT pairs fitted.
    source
        Where the pairs came from (the benchmark file, or the store and its query).
    pairs
        The pairs: ``{"id", "mlip_ev", "dft_ev"}`` each.
    residual_rms_ev
        Root-mean-square residual of the fit on its own pairs.
    loo_mae_ev, loo_max_error_ev, loo_spearman
        Leave-one-out check: each pair predicted by the fit on the others.
    raw_mae_ev, raw_spearman
        The same numbers for the uncalibrated barriers.
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

    def apply(self, barrier_ev: float) -> float:
        """Return the calibrated barrier (eV)."""
        return self.slope * barrier_ev + self.intercept

    def provenance(self) -> dict[str, Any]:
        """Return what the record keeps about this calibration (no pair list)."""
        out = asdict(self)
        out.pop("pairs")
        out["model"] = "E_dft = slope * E_mlip + intercept (least squares)"
        return out


def fit_calibration(
    potential: str, pairs: list[dict[str, Any]], source: str, min_pairs: int = MIN_PAIRS
) -> BarrierCalibration:
    """Fit a linear calibration on ``pairs`` (``{"id", "mlip_ev", "dft_ev"}``) and check it.

    Raises
    ------
    CalibrationError
        Fewer than ``min_pairs`` pairs, or all MLIP barriers equal.
    """
    if len(pairs) < max(min_pairs, 3):
        raise CalibrationError(
            f"{potential}: {len(pairs)} MLIP/DFT pairs, at least {max(min_pairs, 3)} needed"
        )
    x = np.array([p["mlip_ev"] for p in pairs], dtype=float)
    y = np.array([p["dft_ev"] for p in pairs], dtype=float)
    if np.ptp(x) < 1e-6:
        raise CalibrationError(f"{potential}: all MLIP barriers are equal, nothing to fit")
    slope, intercept = fit_linear(x, y)
    residual = slope * x + intercept - y
    loo = leave_one_out(x, y)
    return BarrierCalibration(
        potential=potential,
        slope=slope,
        intercept=intercept,
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
