"""What a gate is: it decides, from a stage's tier documents, whether a candidate goes on.

A gate receives ``docs``: tier name -> that tier's document as a dict (for the stage's
tiers), and returns a :class:`GateDecision`. Gates are MSONable dataclasses so that a
funnel (and its settings) serialises into jobflow/FireWorks documents. A gate that
ranks candidates against each other also implements ``evaluate_batch`` (a
:class:`BatchGate`); the funnel calls it with every candidate of the stage whose tiers
did not fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from monty.json import MSONable


@dataclass
class GateDecision:
    """Whether a candidate passes, and why not."""

    passed: bool
    reason: str | None = None


@runtime_checkable
class Gate(Protocol):
    """Judges one candidate from its tier documents (tier name -> document dict)."""

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Return whether the candidate passes, and why not."""
        ...


@runtime_checkable
class BatchGate(Gate, Protocol):
    """Judges all candidates of a stage together (e.g. a rank)."""

    def evaluate_batch(self, docs_list: list[dict[str, dict[str, Any]]]) -> list[GateDecision]:
        """Return one decision per candidate, in the order of ``docs_list``."""
        ...


@dataclass
class PassAllGate(MSONable):
    """Every candidate whose tier did not fail passes (a computing-only stage)."""

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Pass unconditionally (failures are handled by the funnel before gates)."""
        return GateDecision(True)
