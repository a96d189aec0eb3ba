from importlib.resources import files

import numpy as np
import pytest
from pymatgen.core import Structure
from scipy.cluster.hierarchy import cut_tree, is_monotonic, is_valid_linkage, linkage, to_tree

from sseflow.ml.labels import LabelTable
from sseflow.ml.soap.clustering import (
    ClusteringError,
    build_cluster_tree,
    cluster_with_labels,
    compare_descriptors,
    select_by_cluster,
    w_sigma_curve,
    ward_linkage,
)
from sseflow.ml.soap.descriptor import SOAPSettings, featurize

CIFS = files("sseflow") / "data" / "obelix" / "cifs"


def _cif(name: str) -> Structure:
    return Structure.from_file(str(CIFS / f"{name}.cif"))


def test_tree_is_one_nested_ward_linkage():
    rng = np.random.default_rng(0)
    blobs = np.vstack([rng.normal(c, 0.1, size=(5, 2)) for c in ((0, 0), (10, 0), (0, 10))])
    tree = build_cluster_tree(blobs, max_depth=8)
    assert tree.assignments.shape == (15, 8)
    for depth in range(1, 9):
        assert len(np.unique(tree.at_depth(depth))) == depth
    for depth in range(1, 8):  # every cluster at depth k+1 lies inside one at depth k
        coarse, fine = tree.at_depth(depth), tree.at_depth(depth + 1)
        for k in np.unique(fine):
            assert len(np.unique(coarse[fine == k])) == 1
    three = tree.at_depth(3)
    assert [len(np.unique(three[i : i + 5])) for i in (0, 5, 10)] == [1, 1, 1]
    with pytest.raises(ClusteringError):
        tree.at_depth(9)
    with pytest.raises(ClusteringError, match="at least 2"):
        build_cluster_tree(blobs[:1], 3)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered in the order of their first member."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


def test_ward_linkage_equals_scipy_on_real_descriptors():
    # 30 OBELiX structures (SOAP-CAN), exact duplicates of 10 of them (the ties that
    # element-substituted copies give) and 10 slightly moved copies
    names = sorted(p.name.removesuffix(".cif") for p in CIFS.iterdir())[:30]
    matrix = featurize([(n, _cif(n)) for n in names], SOAPSettings()).matrix
    rng = np.random.default_rng(0)
    moved = matrix[10:20] + rng.normal(scale=1e-3, size=(10, matrix.shape[1]))
    x = np.vstack([matrix, matrix[:10], matrix[:10], moved])
    reference = linkage(x, method="ward", metric="euclidean")
    z = ward_linkage(x)
    assert z.shape == reference.shape
    assert is_valid_linkage(z) and is_monotonic(z)
    assert to_tree(z).get_count() == len(x)
    np.testing.assert_allclose(z[:, 2], reference[:, 2], rtol=1e-10, atol=1e-9)
    # the 20 merges of identical vectors (height 0, or round-off in fastcluster) come
    # first, in either order; every depth from 1 up to where they begin (n - 20) is the
    # same partition, even with the same cluster ids
    ties = int(np.sum(reference[:, 2] < 1e-9))
    assert ties == 20 and np.sum(z[:, 2] < 1e-9) == 20
    depths = list(range(1, len(x) - ties + 1))
    ours, theirs = cut_tree(z, n_clusters=depths), cut_tree(reference, n_clusters=depths)
    for k in range(len(depths)):
        np.testing.assert_array_equal(_canonical(ours[:, k]), _canonical(theirs[:, k]))
    np.testing.assert_array_equal(ours, theirs)
    tree = build_cluster_tree(x, max_depth=len(depths))
    np.testing.assert_array_equal(tree.linkage, z)
    np.testing.assert_array_equal(tree.assignments, ours)


def test_selection_rule_on_handmade_clusters():
    # 1-D: cluster 0 at x=0 holds a fast label; cluster 1 at x=5; cluster 2 at x=7.
    # The nearest cluster to the high cluster 0 is 1 -> selected. Cluster 2's own
    # nearest is 1, but it is nobody's nearest high neighbour -> not selected.
    matrix = np.array([[0.0], [0.0], [5.0], [5.0], [7.0], [7.0]])
    clusters = np.array([0, 0, 1, 1, 2, 2])
    label_rows = np.array([1, 3, 5])
    log10_sigma = np.array([-3.0, -8.0, -9.0])
    out = select_by_cluster(matrix, clusters, label_rows, log10_sigma)
    assert [m.selected for m in out] == [True, True, True, True, False, False]
    assert out[0].cluster_has_high_sigma_label and not out[0].adjacent_to_high_sigma_cluster
    assert out[2].adjacent_to_high_sigma_cluster
    assert [out[i].distance_to_high_sigma_cluster for i in (0, 2, 4)] == [0.0, 5.0, 7.0]
    assert out[4].n_labels_in_cluster == 1 and out[4].max_log10_sigma_in_cluster == -9.0
    assert out[0].n_structures_in_cluster == 2
    # threshold is strict and configurable
    none_high = select_by_cluster(matrix, clusters, label_rows, log10_sigma, 1e-3)
    assert not any(m.selected for m in none_high)
    assert none_high[0].distance_to_high_sigma_cluster is None


def test_cluster_mean_and_max():
    matrix = np.array([[0.0], [0.1], [0.2], [9.0]])
    out = select_by_cluster(matrix, np.array([0, 0, 0, 1]), np.array([1, 2]), np.array([-4, -6]))
    assert out[0].n_labels_in_cluster == 2
    assert out[0].mean_log10_sigma_in_cluster == pytest.approx(-5)
    assert out[0].max_log10_sigma_in_cluster == pytest.approx(-4)
    assert out[3].mean_log10_sigma_in_cluster is None


@pytest.fixture(scope="module")
def small_labels() -> LabelTable:
    ids = ["gvd", "11b", "fft", "qbb", "b4c", "qa9", "0iv", "bv2", "n27", "mq1"]
    sigma = [5.767e-4, 7.03e-4, 2.085e-4, 1.1e-6, 1.59e-8, 1.6e-10, 2.38e-7, 1.8e-8, 1e-8, 4.8e-9]
    return LabelTable(
        ids=ids,
        structures=[_cif(i) for i in ids],
        sigma_s_per_cm=np.array(sigma),
        is_upper_bound=np.zeros(len(ids), dtype=bool),
    )


def test_cluster_with_labels_puts_a_twin_with_its_label(small_labels):
    twin = small_labels.structures[0].copy()  # Li3N, a fast conductor
    twin.make_supercell([1, 1, 2])  # a different cell of the same crystal
    result = cluster_with_labels(
        [("twin", twin), ("slow", _cif("bsa"))], small_labels, depth=5, with_curve=True, n_draws=10
    )
    assert set(result.memberships) == {"twin", "slow"}
    twin_row = result.ids.index("twin")
    label_row = result.ids.index("label:gvd")
    assert result.tree.at_depth(5)[twin_row] == result.tree.at_depth(5)[label_row]
    record = result.memberships["twin"]
    assert record.selected and record.cluster_has_high_sigma_label
    assert record.max_log10_sigma_in_cluster >= np.log10(5.767e-4) - 1e-9
    assert result.curve is not None and result.curve.depths[0] == 2
    assert len(result.curve.w_sigma) == 4


def test_cluster_with_labels_records_failures(small_labels):
    from pymatgen.core import Lattice

    only_li = Structure(Lattice.cubic(3.5), ["Li"], [[0, 0, 0]])
    result = cluster_with_labels([("li", only_li), ("ok", _cif("bsa"))], small_labels, depth=3)
    assert "no atoms left" in result.failed["li"]
    assert set(result.memberships) == {"ok"}
    with pytest.raises(ClusteringError, match="clash"):
        cluster_with_labels([("label:gvd", only_li)], small_labels)


def test_compare_descriptors_ranks_by_mean(small_labels):
    settings = [
        SOAPSettings(scheme="CAN"),
        SOAPSettings(scheme="A-40", r_cut_angstrom=2, n_max=4, l_max=2),
    ]
    curves = compare_descriptors(small_labels, settings, max_depth=6, n_draws=20)
    assert [c.mean_w_sigma for c in curves] == sorted(c.mean_w_sigma for c in curves)
    assert {c.label for c in curves} == {s.label for s in settings}
    for c in curves:
        assert c.depths.tolist() == [2, 3, 4, 5, 6]
        assert c.n_labels == 10 and c.control.shape == (5,)


def test_w_sigma_curve_matches_frozen_function():
    from sseflow.ml.soap.wsigma import w_sigma_frozen

    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(30, 4))
    tree = build_cluster_tree(matrix, 12)
    rows = np.arange(0, 30, 3)
    y = rng.normal(-6, 2, size=10)
    curve = w_sigma_curve(tree, rows, y, min_depth=2, max_depth=12, n_draws=5)
    np.testing.assert_allclose(curve.w_sigma, w_sigma_frozen(tree.assignments[rows], y)[1:])
    assert curve.depths.tolist() == list(range(2, 13))


def test_plots_are_written(tmp_path, small_labels):
    from sseflow.ml.soap.plots import plot_dendrogram, plot_w_sigma_curves

    result = cluster_with_labels(
        [("twin", small_labels.structures[0])], small_labels, depth=4, with_curve=True, n_draws=5
    )
    curve_png = plot_w_sigma_curves([result.curve], tmp_path / "w.png")
    tree_png = plot_dendrogram(
        result.tree.linkage,
        result.label_rows,
        result.log10_sigma,
        tmp_path / "d.png",
        depth=4,
        candidate_rows=[result.ids.index("twin")],
    )
    for png in (curve_png, tree_png):
        assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000
