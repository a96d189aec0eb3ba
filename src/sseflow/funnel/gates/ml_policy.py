"""The ML gate: combine the SOAP clustering tier and the AtomSets tier by a policy.

McHaffie et al. screen with two independent ML views: unsupervised SOAP clustering
(a candidate is *selected* when it falls in a cluster of known fast conductors) and the
supervised AtomSets ensemble (P_SI). The policy decides how they combine:

- ``"p_si_only"`` (default): pass when P_SI >= ``p_si_threshold`` (clustering ignored);
- ``"any"``: pass when the clustering selected the candidate **or** P_SI >=
  ``p_si_threshold``;
- ``"all"``: pass when both hold.

In every policy a candidate whose band gap is known and below ``band_gap_min_ev`` is
rejected (the paper used E_g > 1 eV); set ``band_gap_min_ev=None`` to disable it.
A missing band gap (band-gap prediction switched off) does not reject.

The defaults (``p_si_only``, P_SI >= 0.2, no band-gap test;
:data:`sseflow.ml.policy.DEFAULT_POLICY`) were chosen from out-of-fold numbers of the
shipped P_SI model's recipe on the 254 OBELiX training structures
(``benchmarks/ml_oof.py``, docs/atomsets.md): the policy passing the fewest
non-superionic structures among those keeping >= 90 % of the superionic ones (90 % kept,
22 % of the others passed; chosen on four folds and applied to the fifth: 86 % and 27 %).
A band-gap test at 0.5 eV gave the same numbers and was left off because predicting band
gaps is the slowest part of the ML stage; ``band_gap_min_ev=1.0`` restores the paper's
filter. The threshold belongs to that model: with another ``model_dir``, choose it again.
A missing tier document counts as "not selected" / "no P_SI".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from monty.json import MSONable

from sseflow.funnel.gates.base import GateDecision

Policy = Literal["any", "all", "p_si_only"]


@dataclass
class MLPolicyGate(MSONable):
    """Gate of the ML stage (see module docstring)."""

    policy: Policy = "p_si_only"
    p_si_threshold: float = 0.2
    band_gap_min_ev: float | None = None
    clustering_tier: str = "soap_clustering"
    atomsets_tier: str = "atomsets"

    def __post_init__(self) -> None:
        if self.policy not in ("any", "all", "p_si_only"):
            raise ValueError(f"policy must be 'any', 'all' or 'p_si_only', not {self.policy!r}")
        if not 0.0 <= self.p_si_threshold <= 1.0:
            raise ValueError(f"p_si_threshold must be in [0, 1], got {self.p_si_threshold}")

    def evaluate(self, docs: dict[str, dict[str, Any]]) -> GateDecision:
        """Decide from the clustering and AtomSets documents of one candidate."""
        atomsets = docs.get(self.atomsets_tier) or {}
        clustering = docs.get(self.clustering_tier) or {}
        gap = atomsets.get("band_gap_ev")
        if self.band_gap_min_ev is not None and gap is not None and gap < self.band_gap_min_ev:
            return GateDecision(False, f"band_gap_ev = {gap:.2f} eV < {self.band_gap_min_ev} eV")
        p_si = atomsets.get("p_si")
        p_ok = p_si is not None and p_si >= self.p_si_threshold
        selected = bool(clustering.get("selected"))
        p_text = "P_SI unavailable" if p_si is None else f"P_SI = {p_si:.2f}"
        if self.policy == "p_si_only":
            passed = p_ok
            reason = f"{p_text} < {self.p_si_threshold}"
        elif self.policy == "all":
            passed = p_ok and selected
            reason = (
                f"policy 'all': {p_text} (threshold {self.p_si_threshold}), "
                f"clustering selected = {selected}"
            )
        else:
            passed = p_ok or selected
            reason = (
                f"policy 'any': {p_text} < {self.p_si_threshold} and not selected by clustering"
            )
        return GateDecision(True) if passed else GateDecision(False, reason)
