"""Label-variance score W_sigma with the frozen-state rule, and its random control.

Thesis appendix A.1 (Laskowski, McHaffie & See 2023): at each clustering depth

    W_sigma = sum_k sum_{i in C_k} (log10 sigma_i - mean_k log10 sigma)^2,

the sum of the labels' partial variances PV_i. A label that is the only label in its
cluster would contribute 0, which rewards deep clustering for free; the frozen-state
rule instead gives it the PV it had at the previous depth (which may itself be frozen).
Clusters without labels contribute nothing. At the first depth evaluated a lone label
has no previous state and contributes 0, so evaluate from depth 1 (one cluster): the
curves here always start at depth 1 internally and report depths >= ``min_depth``.

The control assigns the labels to random structures: each draw places the labels on a
random subset of the clustered structures (without replacement) and reads their clusters
from the same tree. This keeps the real cluster-size distribution and the nesting of
clusters across depths (so the frozen-state rule applies as for a descriptor), and it
is averaged over ``n_draws`` (100, as in the paper).
"""

from __future__ import annotations

import numpy as np


def w_sigma_frozen(assignments: np.ndarray, log10_sigma: np.ndarray) -> np.ndarray:
    """W_sigma at consecutive depths with the frozen-state rule.

    Parameters
    ----------
    assignments
        ``(n_labels, n_depths)`` cluster ids of the labelled structures, one column per
        consecutive depth from coarse to fine (column j must refine column j-1 for the
        frozen-state rule to mean what the paper means).
    log10_sigma
        ``(n_labels,)`` log10 of the conductivity in S/cm.

    Returns
    -------
    numpy.ndarray
        ``(n_depths,)`` W_sigma, in (log10 S/cm)^2.
    """
    assignments = np.asarray(assignments)
    y = np.asarray(log10_sigma, dtype=float)
    if assignments.ndim != 2 or assignments.shape[0] != y.shape[0]:
        raise ValueError("assignments must be (n_labels, n_depths) matching log10_sigma")
    out = np.empty(assignments.shape[1])
    previous: np.ndarray | None = None
    for j in range(assignments.shape[1]):
        _, inverse, counts = np.unique(assignments[:, j], return_inverse=True, return_counts=True)
        means = np.bincount(inverse, weights=y) / counts
        partial = (y - means[inverse]) ** 2
        if previous is not None:
            alone = counts[inverse] == 1
            partial[alone] = previous[alone]
        out[j] = partial.sum()
        previous = partial
    return out


def w_sigma_random_control(
    assignments: np.ndarray,
    log10_sigma: np.ndarray,
    n_draws: int = 100,
    seed: int = 0,
) -> np.ndarray:
    """Mean W_sigma of random label placements on the same cluster tree.

    Parameters
    ----------
    assignments
        ``(n_structures, n_depths)`` cluster ids of *all* clustered structures (labelled
        or not), consecutive depths from coarse to fine.
    log10_sigma
        ``(n_labels,)`` labels; ``n_labels <= n_structures``.
    n_draws
        Number of random placements averaged.
    seed
        Seed of the random generator (results are reproducible).

    Returns
    -------
    numpy.ndarray
        ``(n_depths,)`` mean W_sigma over the draws.
    """
    assignments = np.asarray(assignments)
    y = np.asarray(log10_sigma, dtype=float)
    n_structures = assignments.shape[0]
    if y.shape[0] > n_structures:
        raise ValueError("more labels than clustered structures")
    rng = np.random.default_rng(seed)
    total = np.zeros(assignments.shape[1])
    for _ in range(n_draws):
        rows = rng.choice(n_structures, size=y.shape[0], replace=False)
        total += w_sigma_frozen(assignments[rows], y)
    return total / n_draws
