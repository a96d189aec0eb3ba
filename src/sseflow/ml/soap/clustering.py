"""Semi-supervised Ward clustering of candidates with labelled reference structures.

Laskowski, McHaffie & See (Energy Environ. Sci. 16, 1264, 2023): cluster all structures
(candidates and labelled references together) by a structural descriptor with Ward's
minimum-variance linkage in Euclidean space, cut the *one* dendrogram at every depth
(number of clusters) from 1 to ``max_depth``, score each depth with the label variance
W_sigma (:mod:`sseflow.ml.soap.wsigma`), and select candidates that share a cluster with
a fast conductor or sit in the cluster nearest to one.

Selection rules at a chosen depth. A cluster is *high* when it holds a label with sigma >
``high_sigma_s_per_cm`` (default 1e-5 S/cm); for every high cluster, the other cluster
whose centroid is nearest (Euclidean) to its centroid is *adjacent*. Centroids are the
mean descriptor of all members (candidates and labels). A candidate is selected when its
cluster is

- ``"high_or_adjacent"`` (the paper: "all clusters that contain or are directly adjacent
  (i.e. the nearest cluster in the Euclidean feature space) to high sigma labels"),
- ``"high"``: high,
- ``"adjacent"``: adjacent to a high cluster (and not high itself),
- ``"density"``: at least ``min_high_fraction`` of its labels are high (clusters without
  labels are not selected).

:mod:`sseflow.ml.soap.validation` measures each rule as a classifier (leave-labels-out
CV) and chose the defaults.

Memory: :func:`ward_linkage` links the descriptor vectors themselves (fastcluster), in
memory linear in the number of structures: it added 77 MB at 20,000 SOAP-CAN vectors,
where scipy's ``linkage`` (used until 2026-11-29) added 3.1 GB, the condensed distance
matrix of 8 n(n-1)/2 bytes twice over. Same merges and cuts; the linkage takes about
twice scipy's time there (145 s against 67 s on one core), up to 4x at 2,000 structures
(1 s against 0.25 s), none on sets of many identical vectors
(``benchmarks/ward_memory.py``). The assignments take 4 n max_depth bytes.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
from pymatgen.core import Structure
from scipy.cluster.hierarchy import cut_tree
from scipy.spatial.distance import cdist

from sseflow.ml.labels import LabelTable
from sseflow.ml.soap.descriptor import SOAPSettings, featurize
from sseflow.ml.soap.wsigma import w_sigma_frozen, w_sigma_random_control

#: Conductivity above which a label is "high" (paper: 1e-5 S/cm), S/cm.
HIGH_SIGMA_S_PER_CM = 1e-5
#: Defaults of the clustering tier and ``sseflow cluster``, chosen by leave-labels-out CV
#: on the 254 OBELiX training structures (benchmarks/soap_selection.py): the lowest pass
#: fraction (54 %) that keeps >= 90 % of hidden superionic structures (92 %).
DEFAULT_DEPTH = 70
DEFAULT_RULE = "high"
DEFAULT_HIGH_SIGMA_S_PER_CM = 1e-4
#: Selection rules of :func:`select_by_cluster` (see the module docstring).
SELECTION_RULES = ("high_or_adjacent", "high", "adjacent", "density")


class ClusteringError(ValueError):
    """The clustering cannot be done with the given input."""


@dataclass
class ClusterTree:
    """One Ward dendrogram and its cuts at depths 1..max_depth.

    Attributes
    ----------
    linkage
        scipy linkage matrix ``(n - 1, 4)``.
    assignments
        ``(n, max_depth)`` int32; column ``k - 1`` holds cluster ids 0..k-1 at depth k.
    """

    linkage: np.ndarray
    assignments: np.ndarray

    @property
    def max_depth(self) -> int:
        """Return the deepest cut stored."""
        return int(self.assignments.shape[1])

    def at_depth(self, depth: int) -> np.ndarray:
        """Return the cluster id of every structure at ``depth`` clusters."""
        if not 1 <= depth <= self.max_depth:
            raise ClusteringError(f"depth {depth} outside 1..{self.max_depth}")
        return self.assignments[:, depth - 1]


def ward_linkage(matrix: np.ndarray) -> np.ndarray:
    """Ward-link the rows of ``matrix`` in memory linear in their number.

    scipy's ``linkage(matrix, "ward")`` first builds all pairwise distances (8 n(n-1)/2
    bytes); ``fastcluster.linkage_vector`` works on the vectors themselves (Muellner's
    generic algorithm for stored data) and returns the same scipy linkage matrix: the
    same merges in the same order, heights in scipy's convention (the Ward distance
    sqrt(2 n_a n_b / (n_a + n_b)) |c_a - c_b| of the merged clusters' centroids) equal
    to round-off (benchmarks/ward_memory.py, tests/ml/soap/test_clustering.py).

    Parameters
    ----------
    matrix
        ``(n, n_features)`` finite descriptor vectors, n >= 2.

    Returns
    -------
    numpy.ndarray
        scipy linkage matrix ``(n - 1, 4)``, heights in descriptor units, monotonic.
    """
    import fastcluster  # the ``ml`` extra, like dscribe; the CLI imports this module

    z = fastcluster.linkage_vector(matrix, method="ward", metric="euclidean")
    # Ward heights never decrease in exact arithmetic, but merges of identical vectors
    # can come out at 1e-16..1e-13 (centroid round-off) before a later one at exactly 0.
    # Lifting those to the running maximum keeps the matrix monotonic, as scipy's is;
    # the merge order, hence every cut, is unchanged.
    z[:, 2] = np.maximum.accumulate(z[:, 2])
    return np.asarray(z)


def build_cluster_tree(matrix: np.ndarray, max_depth: int) -> ClusterTree:
    """Ward-link the rows of ``matrix`` once and cut the tree at depths 1..max_depth.

    Parameters
    ----------
    matrix
        ``(n, n_features)`` descriptor vectors.
    max_depth
        Deepest cut; capped at ``n``.

    Returns
    -------
    ClusterTree
    """
    matrix = np.asarray(matrix, dtype=float)
    n = matrix.shape[0]
    if n < 2:
        raise ClusteringError(f"need at least 2 structures to cluster, got {n}")
    if not np.all(np.isfinite(matrix)):
        raise ClusteringError("descriptor matrix contains NaN or inf")
    z = ward_linkage(matrix)
    depths = list(range(1, min(max_depth, n) + 1))
    assignments = cut_tree(z, n_clusters=depths).astype(np.int32)
    return ClusterTree(linkage=z, assignments=assignments)


@dataclass
class WSigmaCurve:
    """W_sigma of one descriptor against depth, with its random control."""

    label: str
    depths: np.ndarray
    w_sigma: np.ndarray
    control: np.ndarray
    n_structures: int
    n_labels: int
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def mean_w_sigma(self) -> float:
        """Return the mean W_sigma over the depth range."""
        return float(np.mean(self.w_sigma))

    @property
    def mean_control(self) -> float:
        """Return the mean control W_sigma over the depth range."""
        return float(np.mean(self.control))


def w_sigma_curve(
    tree: ClusterTree,
    label_rows: np.ndarray,
    log10_sigma: np.ndarray,
    min_depth: int = 2,
    max_depth: int | None = None,
    n_draws: int = 100,
    seed: int = 0,
    label: str = "",
) -> WSigmaCurve:
    """Score a cluster tree with W_sigma (frozen-state rule) and the random control.

    Parameters
    ----------
    tree
        Cuts of the dendrogram (depth 1 onward).
    label_rows
        Row of each label in the clustered matrix.
    log10_sigma
        log10 conductivity (S/cm) of each label.
    min_depth, max_depth
        Depth range reported (evaluation always starts at depth 1 for the frozen rule).
    n_draws, seed
        Random control settings.
    label
        Descriptor name.

    Returns
    -------
    WSigmaCurve
    """
    max_depth = min(max_depth or tree.max_depth, tree.max_depth)
    if not 1 <= min_depth <= max_depth:
        raise ClusteringError(f"bad depth range {min_depth}..{max_depth}")
    cuts = tree.assignments[:, :max_depth]
    w = w_sigma_frozen(cuts[np.asarray(label_rows)], log10_sigma)
    control = w_sigma_random_control(cuts, log10_sigma, n_draws=n_draws, seed=seed)
    return WSigmaCurve(
        label=label,
        depths=np.arange(min_depth, max_depth + 1),
        w_sigma=w[min_depth - 1 :],
        control=control[min_depth - 1 :],
        n_structures=int(tree.assignments.shape[0]),
        n_labels=len(label_rows),
    )


@dataclass
class ClusterMembership:
    """Where one structure sits at the selection depth (see module docstring)."""

    cluster_id: int
    n_structures_in_cluster: int
    n_labels_in_cluster: int
    mean_log10_sigma_in_cluster: float | None
    max_log10_sigma_in_cluster: float | None
    cluster_has_high_sigma_label: bool
    adjacent_to_high_sigma_cluster: bool
    distance_to_high_sigma_cluster: float | None
    selected: bool


def select_by_cluster(
    matrix: np.ndarray,
    cluster_ids: np.ndarray,
    label_rows: np.ndarray,
    log10_sigma: np.ndarray,
    high_sigma_s_per_cm: float = HIGH_SIGMA_S_PER_CM,
    rule: str = "high_or_adjacent",
    min_high_fraction: float = 0.5,
) -> list[ClusterMembership]:
    """Apply a selection rule to every structure at one depth.

    Parameters
    ----------
    matrix
        ``(n, n_features)`` descriptor vectors that were clustered.
    cluster_ids
        ``(n,)`` cluster of each structure at the chosen depth.
    label_rows
        Rows of the labelled structures.
    log10_sigma
        Their log10 conductivities (S/cm).
    high_sigma_s_per_cm
        A label with sigma strictly above this makes its cluster "high".
    rule, min_high_fraction
        Selection rule (:data:`SELECTION_RULES`, see the module docstring) and, for
        ``"density"``, the smallest fraction of high labels of a selected cluster.

    Returns
    -------
    list of ClusterMembership
        One per row of ``matrix``. ``distance_to_high_sigma_cluster`` is the Euclidean
        distance between centroids (descriptor units), 0 inside a high cluster and
        None when no cluster is high.
    """
    if rule not in SELECTION_RULES:
        raise ClusteringError(f"unknown selection rule {rule!r}; choose from {SELECTION_RULES}")
    matrix = np.asarray(matrix, dtype=float)
    cluster_values, cluster_index = np.unique(np.asarray(cluster_ids), return_inverse=True)
    n_clusters = int(cluster_index.max()) + 1
    sizes = np.bincount(cluster_index, minlength=n_clusters)
    centroids = np.zeros((n_clusters, matrix.shape[1]))
    np.add.at(centroids, cluster_index, matrix)
    centroids /= sizes[:, None]

    label_rows = np.asarray(label_rows, dtype=int)
    y = np.asarray(log10_sigma, dtype=float)
    label_cluster = cluster_index[label_rows]
    n_labels = np.bincount(label_cluster, minlength=n_clusters)
    sums = np.bincount(label_cluster, weights=y, minlength=n_clusters)
    maxima = np.full(n_clusters, -np.inf)
    np.maximum.at(maxima, label_cluster, y)
    high = maxima > np.log10(high_sigma_s_per_cm)
    n_high = np.bincount(
        label_cluster, weights=(y > np.log10(high_sigma_s_per_cm)), minlength=n_clusters
    )

    distances = cdist(centroids, centroids)
    adjacent = np.zeros(n_clusters, dtype=bool)
    to_high = np.full(n_clusters, np.nan)
    if high.any() and n_clusters > 1:
        others = distances.copy()
        np.fill_diagonal(others, np.inf)
        for h in np.flatnonzero(high):
            adjacent[int(np.argmin(others[h]))] = True
        to_high = np.where(high, 0.0, distances[:, high].min(axis=1))
    elif high.any():
        to_high[:] = 0.0

    selected = {
        "high_or_adjacent": high | adjacent,
        "high": high,
        "adjacent": adjacent & ~high,
        "density": (n_labels > 0) & (n_high >= min_high_fraction * np.maximum(n_labels, 1)),
    }[rule]
    out = []
    for k in cluster_index:
        has_labels = n_labels[k] > 0
        out.append(
            ClusterMembership(
                cluster_id=int(cluster_values[k]),
                n_structures_in_cluster=int(sizes[k]),
                n_labels_in_cluster=int(n_labels[k]),
                mean_log10_sigma_in_cluster=float(sums[k] / n_labels[k]) if has_labels else None,
                max_log10_sigma_in_cluster=float(maxima[k]) if has_labels else None,
                cluster_has_high_sigma_label=bool(high[k]),
                adjacent_to_high_sigma_cluster=bool(adjacent[k] and not high[k]),
                distance_to_high_sigma_cluster=None if np.isnan(to_high[k]) else float(to_high[k]),
                selected=bool(selected[k]),
            )
        )
    return out


@dataclass
class ClusteringResult:
    """Candidates clustered with the reference labels at one depth."""

    settings: SOAPSettings
    depth: int
    ids: list[str]
    is_label: np.ndarray
    matrix: np.ndarray
    tree: ClusterTree
    label_rows: np.ndarray
    log10_sigma: np.ndarray
    memberships: dict[str, ClusterMembership]
    failed: dict[str, str]
    curve: WSigmaCurve | None = None


def cluster_with_labels(
    candidates: Iterable[tuple[str, Structure]],
    labels: LabelTable,
    settings: SOAPSettings | None = None,
    depth: int = 50,
    max_depth: int | None = None,
    high_sigma_s_per_cm: float = HIGH_SIGMA_S_PER_CM,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    with_curve: bool = False,
    n_draws: int = 100,
    rule: str = "high_or_adjacent",
    min_high_fraction: float = 0.5,
) -> ClusteringResult:
    """Featurize candidates and labels, cluster them together and select candidates.

    Parameters
    ----------
    candidates
        ``(id, structure)`` pairs to screen; may be a generator (read once, so the
        structures need not all be in memory: only their descriptors are kept). Ids
        must not clash with label ids (labels are keyed ``label:<id>`` internally).
    labels
        Reference labels.
    settings
        Descriptor settings (default SOAP-CAN 3/5/3).
    depth
        Number of clusters at which candidates are selected; capped at the number of
        clustered structures.
    max_depth
        Deepest cut kept (default ``depth``; larger only for the W_sigma curve).
    high_sigma_s_per_cm
        Threshold of a "high" label, S/cm.
    cache_dir, n_jobs
        Passed to :func:`sseflow.ml.soap.descriptor.featurize`.
    with_curve
        Also compute the W_sigma curve (depths 2..max_depth) and its control.
    n_draws
        Random-control draws for the curve.
    rule, min_high_fraction
        Selection rule, see :func:`select_by_cluster`.

    Returns
    -------
    ClusteringResult
        ``memberships`` maps each featurized candidate id to its cluster record;
        candidates that could not be featurized are in ``failed`` with the reason.
    """
    settings = settings or SOAPSettings()
    if depth < 1:
        raise ClusteringError(f"depth must be >= 1, got {depth}")
    label_keys = [f"label:{label_id}" for label_id in labels.ids]
    label_key_set = set(label_keys)
    candidate_ids: set[str] = set()

    def candidate_items() -> Iterator[tuple[str, Structure]]:
        for cid, structure in candidates:
            if cid in label_key_set:
                raise ClusteringError(f"candidate id {cid!r} clashes with a label key")
            candidate_ids.add(cid)
            yield cid, structure

    # a label without a structure (None) fails inside featurize and lands in ``failed``
    items = itertools.chain(
        candidate_items(),
        cast(Iterable[tuple[str, Structure]], zip(label_keys, labels.structures, strict=True)),
    )
    featurized = featurize(items, settings, cache_dir=cache_dir, n_jobs=n_jobs)
    row_of = {key: i for i, key in enumerate(featurized.ids)}
    sigma_of = dict(zip(label_keys, labels.log10_sigma, strict=True))
    label_rows = np.array([row_of[k] for k in label_keys if k in row_of], dtype=int)
    log10_sigma = np.array([sigma_of[k] for k in label_keys if k in row_of])
    if len(featurized.ids) < 2:
        raise ClusteringError("fewer than two structures could be featurized")
    depth = min(depth, len(featurized.ids))
    max_depth = max(depth, max_depth or depth)
    tree = build_cluster_tree(featurized.matrix, max_depth)
    memberships_all = select_by_cluster(
        featurized.matrix,
        tree.at_depth(depth),
        label_rows,
        log10_sigma,
        high_sigma_s_per_cm=high_sigma_s_per_cm,
        rule=rule,
        min_high_fraction=min_high_fraction,
    )
    memberships = {
        cid: memberships_all[i] for i, cid in enumerate(featurized.ids) if cid in candidate_ids
    }
    is_label = np.array([cid not in candidate_ids for cid in featurized.ids])
    curve = None
    if with_curve and len(label_rows) > 0:
        curve = w_sigma_curve(
            tree,
            label_rows,
            log10_sigma,
            max_depth=max_depth,
            n_draws=n_draws,
            label=settings.label,
        )
        curve.settings = settings.as_dict()
    return ClusteringResult(
        settings=settings,
        depth=depth,
        ids=featurized.ids,
        is_label=is_label,
        matrix=featurized.matrix,
        tree=tree,
        label_rows=label_rows,
        log10_sigma=log10_sigma,
        memberships=memberships,
        failed={k: v for k, v in featurized.failed.items() if k in candidate_ids},
        curve=curve,
    )


def compare_descriptors(
    labels: LabelTable,
    settings_list: Sequence[SOAPSettings],
    unlabelled: Sequence[tuple[str, Structure]] = (),
    min_depth: int = 2,
    max_depth: int = 50,
    n_draws: int = 100,
    seed: int = 0,
    cache_dir: str | Path | None = None,
    n_jobs: int = 1,
    common_labels: bool = True,
) -> list[WSigmaCurve]:
    """Rank simplification x descriptor combinations by mean W_sigma (paper Fig. 2.2).

    Parameters
    ----------
    labels
        Labelled structures.
    settings_list
        Descriptor settings to compare (e.g. SOAP on CAN, CAMN, A-40, ...).
    unlabelled
        Extra ``(id, structure)`` pairs clustered with the labels (the paper clustered
        ~26,000 ICSD/MP structures, 220 of them labelled).
    min_depth, max_depth
        Depth range of the mean.
    n_draws, seed
        Random control (averaged over ``n_draws`` label placements per descriptor).
    cache_dir, n_jobs
        Passed to :func:`sseflow.ml.soap.descriptor.featurize`.
    common_labels
        Score every descriptor on the labels all of them could featurize (a fair
        comparison; e.g. "-40" schemes fail on anion-free cells). If False each
        descriptor uses all the labels it could featurize.

    Returns
    -------
    list of WSigmaCurve
        Sorted by ascending mean W_sigma (best first).
    """
    label_keys = [f"label:{label_id}" for label_id in labels.ids]
    items = list(unlabelled) + list(zip(label_keys, labels.structures, strict=True))
    # a label without a structure (None) fails inside featurize and lands in ``failed``
    results = [
        featurize(cast(list[tuple[str, Structure]], items), s, cache_dir=cache_dir, n_jobs=n_jobs)
        for s in settings_list
    ]
    usable = set(label_keys)
    if common_labels:
        for result in results:
            usable &= set(result.ids)
    sigma_of = dict(zip(label_keys, labels.log10_sigma, strict=True))
    curves = []
    for settings, result in zip(settings_list, results, strict=True):
        keys = [k for k in label_keys if k in usable and k in set(result.ids)]
        if len(keys) < 2:
            raise ClusteringError(f"{settings.label}: fewer than two labels could be featurized")
        row_of = {key: i for i, key in enumerate(result.ids)}
        tree = build_cluster_tree(result.matrix, max_depth)
        curve = w_sigma_curve(
            tree,
            np.array([row_of[k] for k in keys]),
            np.array([sigma_of[k] for k in keys]),
            min_depth=min_depth,
            max_depth=max_depth,
            n_draws=n_draws,
            seed=seed,
            label=settings.label,
        )
        curve.settings = settings.as_dict()
        curves.append(curve)
    return sorted(curves, key=lambda c: c.mean_w_sigma)
