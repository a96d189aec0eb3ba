"""SOAP selection measured as a classifier: leave-labels-out cross-validation.

The clustering tier selects candidates that land near fast-conducting references. How
many fast conductors does it keep, and how many others does it let through? We answer
it on the labelled structures themselves:

1. split the labelled structures into folds (the same folds as the P_SI model);
2. for each fold, hide its labels: its structures become unlabelled "candidates", the
   other folds' labels stay references;
3. Ward-cluster all structures together (the dendrogram does not depend on labels, so
   one tree serves every fold), cut it at each depth and apply each selection rule with
   the visible labels only;
4. count, over all folds, the hidden superionic structures (sigma >= 1e-4 S/cm) that were
   selected (*recall*) and the hidden structures selected at all (*pass fraction*).

A rule/depth keeps ``recall`` of the fast conductors while passing ``pass_fraction`` of
everything; :func:`choose_selection` picks the lowest pass fraction with a recall of at
least the target (default 0.9).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sseflow.ml.labels import SUPERIONIC_THRESHOLD_S_PER_CM
from sseflow.ml.soap.clustering import HIGH_SIGMA_S_PER_CM, build_cluster_tree, select_by_cluster


@dataclass(frozen=True)
class SelectionSetting:
    """One selection setting: depth, rule, high-label threshold, density fraction."""

    depth: int
    rule: str = "high_or_adjacent"
    high_sigma_s_per_cm: float = HIGH_SIGMA_S_PER_CM
    min_high_fraction: float = 0.5

    @property
    def label(self) -> str:
        """Short text for tables and plots."""
        extra = f", f>={self.min_high_fraction:g}" if self.rule == "density" else ""
        return f"{self.rule}{extra} (high > {self.high_sigma_s_per_cm:g} S/cm)"


@dataclass
class SelectionScore:
    """Out-of-fold performance of one :class:`SelectionSetting` (counts over all folds)."""

    setting: SelectionSetting
    n_hidden: int
    n_hidden_superionic: int
    n_selected: int
    n_selected_superionic: int

    @property
    def recall(self) -> float:
        """Fraction of hidden superionic structures selected."""
        return self.n_selected_superionic / max(self.n_hidden_superionic, 1)

    @property
    def pass_fraction(self) -> float:
        """Fraction of all hidden structures selected."""
        return self.n_selected / max(self.n_hidden, 1)

    @property
    def other_pass_fraction(self) -> float:
        """Fraction of the hidden non-superionic structures selected."""
        others = self.n_hidden - self.n_hidden_superionic
        return (self.n_selected - self.n_selected_superionic) / max(others, 1)

    def as_dict(self) -> dict[str, float | int | str]:
        """Return a flat JSON-ready row."""
        return {
            **asdict(self.setting),
            "n_hidden": self.n_hidden,
            "n_hidden_superionic": self.n_hidden_superionic,
            "n_selected": self.n_selected,
            "n_selected_superionic": self.n_selected_superionic,
            "recall": self.recall,
            "pass_fraction": self.pass_fraction,
            "other_pass_fraction": self.other_pass_fraction,
        }


def leave_labels_out(
    matrix: np.ndarray,
    sigma_s_per_cm: np.ndarray,
    folds: Sequence[np.ndarray],
    settings: Iterable[SelectionSetting],
    superionic_s_per_cm: float = SUPERIONIC_THRESHOLD_S_PER_CM,
) -> tuple[list[SelectionScore], dict[SelectionSetting, np.ndarray]]:
    """Score selection settings by hiding each fold's labels in turn.

    Parameters
    ----------
    matrix
        ``(n, n_features)`` descriptors of the labelled structures.
    sigma_s_per_cm
        Their conductivities, S/cm.
    folds
        Row indices of each fold (together a partition of ``0..n-1``).
    settings
        Selection settings to score.
    superionic_s_per_cm
        The class boundary of the recall (S/cm).

    Returns
    -------
    scores, selected
        One :class:`SelectionScore` per setting, and for each setting the out-of-fold
        selection of every row (True where the row was selected while hidden).
    """
    sigma = np.asarray(sigma_s_per_cm, dtype=float)
    n = len(sigma)
    settings = list(settings)
    fold_of = np.full(n, -1)
    for k, rows in enumerate(folds):
        fold_of[np.asarray(rows, dtype=int)] = k
    if (fold_of < 0).any():
        raise ValueError("folds must cover every row")
    superionic = sigma >= superionic_s_per_cm
    tree = build_cluster_tree(matrix, max(s.depth for s in settings))
    log10_sigma = np.log10(sigma)
    selected = {s: np.zeros(n, dtype=bool) for s in settings}
    for k in range(len(folds)):
        hidden = fold_of == k
        visible = np.flatnonzero(~hidden)
        for s in settings:
            members = select_by_cluster(
                matrix,
                tree.at_depth(min(s.depth, n)),
                visible,
                log10_sigma[visible],
                high_sigma_s_per_cm=s.high_sigma_s_per_cm,
                rule=s.rule,
                min_high_fraction=s.min_high_fraction,
            )
            chosen = np.array([m.selected for m in members])
            selected[s][hidden] = chosen[hidden]
    scores = [
        SelectionScore(
            setting=s,
            n_hidden=n,
            n_hidden_superionic=int(superionic.sum()),
            n_selected=int(selected[s].sum()),
            n_selected_superionic=int((selected[s] & superionic).sum()),
        )
        for s in settings
    ]
    return scores, selected


def choose_selection(
    scores: Sequence[SelectionScore], min_recall: float = 0.9
) -> SelectionScore | None:
    """Return the score with the lowest pass fraction among those with enough recall.

    Ties go to the higher recall, then the shallower depth. ``None`` when no setting
    reaches ``min_recall``.
    """
    good = [s for s in scores if s.recall >= min_recall]
    if not good:
        return None
    return min(good, key=lambda s: (s.pass_fraction, -s.recall, s.setting.depth))


def pareto_front(scores: Sequence[SelectionScore]) -> list[SelectionScore]:
    """Return the scores no other beats on both recall (higher) and pass fraction (lower)."""
    ordered = sorted(scores, key=lambda s: (s.pass_fraction, -s.recall))
    front: list[SelectionScore] = []
    best = -1.0
    for s in ordered:
        if s.recall > best:
            front.append(s)
            best = s.recall
    return front


def nested_selection(
    matrix: np.ndarray,
    sigma_s_per_cm: np.ndarray,
    folds: Sequence[np.ndarray],
    settings: Sequence[SelectionSetting],
    min_recall: float = 0.9,
    superionic_s_per_cm: float = SUPERIONIC_THRESHOLD_S_PER_CM,
) -> tuple[SelectionScore, list[SelectionSetting | None], np.ndarray]:
    """Estimate the recall and pass fraction of *choosing* a setting, without optimism.

    For each outer fold, :func:`leave_labels_out` over the other folds (each hidden in
    turn) chooses a setting with :func:`choose_selection`; the chosen setting is then
    applied to the outer fold with all other labels visible. Picking the best of many
    settings on the same folds it is scored on flatters it; this does not.

    Returns
    -------
    score, chosen, selected
        Pooled out-of-fold counts (its ``setting`` is the first fold's choice, for
        reference), the setting chosen in each outer fold (None when none reached the
        recall: the fold then selects everything) and the out-of-fold selection of rows.
    """
    sigma = np.asarray(sigma_s_per_cm, dtype=float)
    n = len(sigma)
    selected = np.zeros(n, dtype=bool)
    chosen: list[SelectionSetting | None] = []
    for k, outer in enumerate(folds):
        outer = np.asarray(outer, dtype=int)
        inner_rows = np.setdiff1d(np.arange(n), outer)
        position = {row: i for i, row in enumerate(inner_rows)}
        inner_folds = [
            np.array([position[r] for r in np.asarray(f, dtype=int)])
            for j, f in enumerate(folds)
            if j != k
        ]
        inner_scores, _ = leave_labels_out(
            matrix[inner_rows], sigma[inner_rows], inner_folds, settings, superionic_s_per_cm
        )
        best = choose_selection(inner_scores, min_recall)
        chosen.append(best.setting if best else None)
        if best is None:
            selected[outer] = True
            continue
        _, outer_selected = leave_labels_out(
            matrix, sigma, [outer, inner_rows], [best.setting], superionic_s_per_cm
        )
        selected[outer] = outer_selected[best.setting][outer]
    superionic = sigma >= superionic_s_per_cm
    score = SelectionScore(
        setting=next((c for c in chosen if c is not None), settings[0]),
        n_hidden=n,
        n_hidden_superionic=int(superionic.sum()),
        n_selected=int(selected.sum()),
        n_selected_superionic=int((selected & superionic).sum()),
    )
    return score, chosen, selected
