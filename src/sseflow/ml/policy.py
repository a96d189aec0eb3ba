"""Choosing the ML gate's policy from out-of-fold numbers.

The ML stage passes a candidate on to the costly tiers by a policy over three signals
(:class:`sseflow.funnel.gates.MLPolicyGate`): P_SI against a threshold, the SOAP
clustering's selection, and the predicted band gap against a minimum. Given those
signals for labelled structures *out of fold* (each scored by models that did not see
it), :func:`score_policies` counts for every policy how many superionic structures
(sigma >= 1e-4 S/cm) pass (*recall*) and how many others pass, and :func:`choose_policy`
takes the one passing the fewest others among those keeping at least ``min_recall`` of
the superionic ones. :func:`nested_policy_choice` scores that choice itself without
optimism (choose on the other folds, apply to each fold).

The decision here mirrors ``MLPolicyGate.evaluate`` (a test checks they agree): a known
band gap below the minimum rejects; otherwise ``p_si_only`` passes on P_SI >= threshold,
``any`` on that or the SOAP selection, ``all`` on both.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

POLICIES = ("p_si_only", "any", "all")
#: P_SI thresholds tried by :func:`policy_grid`.
THRESHOLDS = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: Minimum band gaps tried (eV); None switches the band-gap test off.
BAND_GAP_MINIMA: tuple[float | None, ...] = (None, 0.5, 1.0)


@dataclass(frozen=True)
class Policy:
    """One gate policy (the settings of ``MLPolicyGate``)."""

    policy: str = "p_si_only"
    p_si_threshold: float = 0.2
    band_gap_min_ev: float | None = None

    @property
    def label(self) -> str:
        """Short text for tables."""
        gap = "off" if self.band_gap_min_ev is None else f">= {self.band_gap_min_ev:g} eV"
        return f"{self.policy}, P_SI >= {self.p_si_threshold:g}, band gap {gap}"


#: The ML gate's default policy (``MLPolicyGate()``), chosen by :func:`choose_policy`
#: (recall >= 0.9) from the out-of-fold P_SI of the shipped model's recipe (psi_v3),
#: the SOAP selection and the predicted band gaps of the 254 OBELiX training structures
#: (``benchmarks/ml_oof.py``, ``benchmarks/results/ml_gate_policy.json``).
DEFAULT_POLICY = Policy("p_si_only", 0.2, None)


def passes(
    policy: Policy, p_si: np.ndarray, selected: np.ndarray, band_gap_ev: np.ndarray
) -> np.ndarray:
    """Return which structures the policy passes (band gap NaN: unknown, not rejected)."""
    p = np.asarray(p_si, dtype=float)
    sel = np.asarray(selected, dtype=bool)
    gap = np.asarray(band_gap_ev, dtype=float)
    p_ok = ~np.isnan(p) & (p >= policy.p_si_threshold)
    decision = {"p_si_only": p_ok, "any": p_ok | sel, "all": p_ok & sel}[policy.policy]
    if policy.band_gap_min_ev is not None:
        decision = decision & ~(~np.isnan(gap) & (gap < policy.band_gap_min_ev))
    return decision


@dataclass
class PolicyScore:
    """How a policy does on labelled structures."""

    policy: Policy
    n_superionic: int
    n_other: int
    n_superionic_passed: int
    n_other_passed: int

    @property
    def recall(self) -> float:
        """Fraction of superionic structures passed."""
        return self.n_superionic_passed / max(self.n_superionic, 1)

    @property
    def other_pass_fraction(self) -> float:
        """Fraction of the other structures passed."""
        return self.n_other_passed / max(self.n_other, 1)

    @property
    def pass_fraction(self) -> float:
        """Fraction of all structures passed."""
        passed = self.n_superionic_passed + self.n_other_passed
        return passed / max(self.n_superionic + self.n_other, 1)

    def as_dict(self) -> dict[str, object]:
        """Return a flat JSON-ready row."""
        return {
            **asdict(self.policy),
            "recall": self.recall,
            "other_pass_fraction": self.other_pass_fraction,
            "pass_fraction": self.pass_fraction,
            "n_superionic": self.n_superionic,
            "n_other": self.n_other,
        }


def policy_grid(
    policies: Sequence[str] = POLICIES,
    thresholds: Sequence[float] = THRESHOLDS,
    band_gap_minima: Sequence[float | None] = BAND_GAP_MINIMA,
) -> list[Policy]:
    """Return every combination of policy, P_SI threshold and band-gap minimum."""
    return [Policy(p, t, g) for p in policies for t in thresholds for g in band_gap_minima]


def score_policies(
    policies: Iterable[Policy],
    p_si: np.ndarray,
    selected: np.ndarray,
    band_gap_ev: np.ndarray,
    labels: np.ndarray,
) -> list[PolicyScore]:
    """Score each policy on structures with known classes (1 superionic, 0 not)."""
    y = np.asarray(labels, dtype=bool)
    out = []
    for policy in policies:
        ok = passes(policy, p_si, selected, band_gap_ev)
        out.append(
            PolicyScore(
                policy, int(y.sum()), int((~y).sum()), int((ok & y).sum()), int((ok & ~y).sum())
            )
        )
    return out


def choose_policy(scores: Sequence[PolicyScore], min_recall: float = 0.9) -> PolicyScore | None:
    """Return the score passing the fewest others among those with enough recall.

    Ties go to the higher recall, then to ``p_si_only`` over ``any`` over ``all`` (the
    simpler signal), then to the band-gap test off: it needs the band-gap models, which
    are the slowest part of the ML stage by far (``benchmarks/ml_stage_speed.py``), and
    a tie means the labelled structures cannot tell what it adds.
    """
    good = [s for s in scores if s.recall >= min_recall]
    if not good:
        return None
    return min(
        good,
        key=lambda s: (
            s.other_pass_fraction,
            -s.recall,
            POLICIES.index(s.policy.policy),
            s.policy.band_gap_min_ev is not None,
        ),
    )


def nested_policy_choice(
    policies: Sequence[Policy],
    p_si: np.ndarray,
    selected: np.ndarray,
    band_gap_ev: np.ndarray,
    labels: np.ndarray,
    fold: np.ndarray,
    min_recall: float = 0.9,
) -> tuple[PolicyScore, list[Policy | None]]:
    """Score the choice of a policy by choosing on the other folds, applying to each fold.

    Returns
    -------
    score, chosen
        Pooled counts over folds (``score.policy`` is the first fold's choice) and the
        policy chosen for each fold (None: none reached the recall; that fold passes
        everything).
    """
    fold = np.asarray(fold)
    y = np.asarray(labels, dtype=bool)
    ok = np.zeros(len(y), dtype=bool)
    chosen: list[Policy | None] = []
    for k in np.unique(fold):
        rest, here = fold != k, fold == k
        scores = score_policies(policies, p_si[rest], selected[rest], band_gap_ev[rest], y[rest])
        best = choose_policy(scores, min_recall)
        chosen.append(best.policy if best else None)
        ok[here] = (
            True
            if best is None
            else passes(best.policy, p_si[here], selected[here], band_gap_ev[here])
        )
    first = next((c for c in chosen if c is not None), policies[0])
    score = PolicyScore(
        first, int(y.sum()), int((~y).sum()), int((ok & y).sum()), int((ok & ~y).sum())
    )
    return score, chosen
