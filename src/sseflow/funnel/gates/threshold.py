"""Gates on one number or one flag of a tier document (e.g. the BVSE barrier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from monty.json import MSONable

from sseflow.funnel.gates.base import GateDecision


@dataclass
class ThresholdGate(MSONable):
    """Pass when ``docs[tier][field]`` lies within [min_value, max_value].

    Parameters
    ----------
    tier
        Tier whose document is read.
    field
        Numeric field, e.g. ``ea_1d_ev``.
    max_value, min_value
        Inclusive bounds; None means unbounded.
    unit
        Unit printed in rejection reasons.
    """

    tier: str
    field: str
    max_value: float | None = None
    min_value: float | None = None
    unit: str = ""

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Compare the field with the bounds; a missing value is a rejection."""
        value = (docs.get(self.tier) or {}).get(self.field)
        unit = f" {self.unit}" if self.unit else ""
        if value is None:
            return GateDecision(False, f"{self.tier}.{self.field} is not available")
        if self.max_value is not None and value > self.max_value:
            return GateDecision(False, f"{self.field} = {value:.3f}{unit} > {self.max_value}{unit}")
        if self.min_value is not None and value < self.min_value:
            return GateDecision(False, f"{self.field} = {value:.3f}{unit} < {self.min_value}{unit}")
        return GateDecision(True)


@dataclass
class FlagGate(MSONable):
    """Pass when the boolean ``docs[tier][field]`` is true (e.g. a cluster selection)."""

    tier: str
    field: str

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Pass when the flag is set."""
        if (docs.get(self.tier) or {}).get(self.field):
            return GateDecision(True)
        return GateDecision(False, f"{self.tier}.{self.field} is false")


def bvse_gate(max_ea_ev: float = 0.6, dimension: Literal["1D", "2D", "3D"] = "1D") -> ThresholdGate:
    """Return the BVSE gate: pass when the ``dimension`` percolation barrier <= max_ea_ev.

    A candidate without percolation in that dimension (barrier None) is rejected.
    """
    if dimension not in ("1D", "2D", "3D"):
        raise ValueError(f"dimension must be 1D, 2D or 3D, not {dimension!r}")
    return ThresholdGate(
        tier="bvse", field=f"ea_{dimension.lower()}_ev", max_value=max_ea_ev, unit="eV"
    )
