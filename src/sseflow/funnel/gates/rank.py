"""A gate that passes the N best candidates of a stage (e.g. MLIP first, DFT for the top-N).

A threshold gate judges each candidate alone; a rank needs the whole stage. Gates may
therefore implement ``evaluate_batch(docs_list) -> list[GateDecision]`` (one entry per
candidate, same order); the funnel's gate job calls it, when present, with the
documents of every candidate of the stage whose tiers did not fail (failed candidates
are never ranked). ``evaluate(docs)`` judges a stage of one candidate.

The rank is taken over the candidates that entered this stage in this funnel run. A
candidate whose tier result was reused from an earlier run is ranked again together
with the others; candidates screened in other runs are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monty.json import MSONable

from sseflow.funnel.gates.base import GateDecision


@dataclass
class RankGate(MSONable):
    """Pass the ``top_n`` candidates with the lowest (or highest) ``docs[tier][field]``.

    Parameters
    ----------
    tier
        Tier whose document is read, e.g. ``neb_mlip``.
    field
        Numeric field to rank by, e.g. ``barrier_forward_ev``.
    top_n
        How many candidates pass (at most).
    max_value, min_value
        Optional inclusive bounds applied before ranking: a candidate outside them is
        rejected even when fewer than ``top_n`` remain.
    lowest_first
        Rank ascending (True: lowest barrier is best) or descending.
    unit
        Unit printed in rejection reasons.

    Notes
    -----
    A candidate without the field (None) is rejected. Ties are broken by candidate id,
    so the outcome does not depend on input order.
    """

    tier: str
    field: str
    top_n: int
    max_value: float | None = None
    min_value: float | None = None
    lowest_first: bool = True
    unit: str = ""

    def __post_init__(self) -> None:
        if int(self.top_n) != self.top_n or self.top_n < 1:
            raise ValueError(f"top_n must be a positive integer, got {self.top_n!r}")
        self.top_n = int(self.top_n)

    @property
    def _name(self) -> str:
        return f"{self.tier}.{self.field}"

    def _out_of_bounds(self, value: float) -> str | None:
        unit = f" {self.unit}" if self.unit else ""
        if self.max_value is not None and value > self.max_value:
            return f"{self.field} = {value:.3f}{unit} > {self.max_value}{unit}"
        if self.min_value is not None and value < self.min_value:
            return f"{self.field} = {value:.3f}{unit} < {self.min_value}{unit}"
        return None

    def evaluate_batch(self, docs_list: list[dict[str, dict[str, Any]]]) -> list[GateDecision]:
        """Judge all candidates of a stage at once.

        Parameters
        ----------
        docs_list
            One ``docs`` mapping (tier name -> document dict) per candidate.

        Returns
        -------
        list of GateDecision
            Same order as ``docs_list``.
        """
        decisions: list[GateDecision | None] = [None] * len(docs_list)
        ranked: list[tuple[float, str, int]] = []
        for i, docs in enumerate(docs_list):
            doc = docs.get(self.tier) or {}
            value = doc.get(self.field)
            if value is None:
                decisions[i] = GateDecision(False, f"{self._name} is not available")
                continue
            bound = self._out_of_bounds(float(value))
            if bound is not None:
                decisions[i] = GateDecision(False, bound)
                continue
            key = float(value) if self.lowest_first else -float(value)
            ranked.append((key, str(doc.get("candidate_id", "")), i))
        ranked.sort()
        order = "lowest" if self.lowest_first else "highest"
        for rank, (_, _, i) in enumerate(ranked, start=1):
            if rank <= self.top_n:
                decisions[i] = GateDecision(True)
            else:
                decisions[i] = GateDecision(
                    False,
                    f"rank {rank} of {len(ranked)} by {self._name} ({order} first); "
                    f"top {self.top_n} pass",
                )
        return [d for d in decisions if d is not None]

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Judge one candidate as if it were alone in its stage."""
        return self.evaluate_batch([docs])[0]
