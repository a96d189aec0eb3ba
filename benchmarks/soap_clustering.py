"""Benchmark: SOAP clustering of the 254 shipped OBELiX training structures.

Measures time per stage (load, simplify, SOAP, linkage + cuts, W_sigma curve + control),
featurization throughput (to extrapolate to ~26,000 structures), linkage cost on
synthetic sets of growing size, peak memory, and the W_sigma ranking of several
simplification x SOAP combinations against the random control over depths 2-50.

Run:  cd <worktree> && PYTHONPATH=src python benchmarks/soap_clustering.py [--scale 2000 5000]
Writes docs/soap_clustering/results.json and the plots next to it.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from sseflow.ml.labels import load_obelix_labels
from sseflow.ml.simplify import simplify_structure
from sseflow.ml.soap.clustering import build_cluster_tree, select_by_cluster, w_sigma_curve
from sseflow.ml.soap.descriptor import SOAPSettings, featurize, n_features
from sseflow.ml.soap.plots import plot_dendrogram, plot_w_sigma_curves

OUT = Path(__file__).resolve().parents[1] / "docs" / "soap_clustering"

DESCRIPTORS = [
    SOAPSettings(scheme="CAN", r_cut_angstrom=3, n_max=5, l_max=3),
    SOAPSettings(scheme="CAN", r_cut_angstrom=2, n_max=4, l_max=2),
    SOAPSettings(scheme="CAN", r_cut_angstrom=4, n_max=2, l_max=2),
    SOAPSettings(scheme="CAMN"),
    SOAPSettings(scheme="AM"),
    SOAPSettings(scheme="A"),
    SOAPSettings(scheme="CAN-40"),
    SOAPSettings(scheme="CAMN-40"),
    SOAPSettings(scheme="AM-40"),
    SOAPSettings(scheme="A-40"),
    SOAPSettings(scheme="CAN", second_order="sine_coulomb", alpha=3e-6),
    SOAPSettings(scheme="CAN", second_order="sine_coulomb", alpha=1e-2),
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, nargs="*", default=[2000, 5000, 10000])
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--max-depth", type=int, default=50)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict = {"stages_s": {}}

    labels, dt = timed(load_obelix_labels)
    results["stages_s"]["load_254_cifs"] = dt
    n = len(labels)
    results["n_structures"] = n
    results["n_upper_bounds"] = int(labels.is_upper_bound.sum())
    results["n_high_sigma_gt_1e-5"] = int((labels.sigma_s_per_cm > 1e-5).sum())
    results["n_sites_max"] = max(len(s) for s in labels.structures)
    results["n_sites_mean"] = float(np.mean([len(s) for s in labels.structures]))

    _, dt = timed(lambda: [simplify_structure(s, "CAN") for s in labels.structures])
    results["stages_s"]["simplify_CAN"] = dt

    items = list(zip(labels.ids, labels.structures, strict=True))
    default = DESCRIPTORS[0]
    featurized, dt = timed(featurize, items, default, None, 1)
    results["stages_s"]["simplify_plus_soap_CAN_353_n_jobs_1"] = dt
    results["soap_structures_per_s_n_jobs_1"] = n / dt
    _, dt2 = timed(featurize, items, default, None, 2)
    results["stages_s"]["simplify_plus_soap_CAN_353_n_jobs_2"] = dt2
    results["soap_structures_per_s_n_jobs_2"] = n / dt2
    results["extrapolated_26000_soap_min_n_jobs_1"] = 26000 / (n / dt) / 60
    results["descriptor_bytes_26000_MB"] = 26000 * n_features(default) * 8 / 1e6
    assert not featurized.failed, featurized.failed

    tree, dt = timed(build_cluster_tree, featurized.matrix, n)
    results["stages_s"]["ward_linkage_plus_cut_tree_all_depths"] = dt
    y = labels.log10_sigma
    rows = np.arange(n)
    _, dt = timed(w_sigma_curve, tree, rows, y, 2, args.max_depth, args.draws, 0, default.label)
    results["stages_s"][f"w_sigma_curve_2_{args.max_depth}_plus_{args.draws}_controls"] = dt
    full, dt = timed(w_sigma_curve, tree, rows, y, 2, n, args.draws, 0, default.label)
    results["stages_s"][f"w_sigma_curve_2_{n}_plus_{args.draws}_controls"] = dt
    results["soap_can_by_depth"] = {
        str(d): {
            "w_sigma": float(full.w_sigma[d - 2]),
            "control": float(full.control[d - 2]),
        }
        for d in (2, 5, 10, 20, 30, 40, 50, 100, 150, 200, 241)
        if d <= n
    }

    # leave-one-out check of the selection rule: the tree is unsupervised, so hiding one
    # label at a time only changes which clusters are "high"
    loo = {}
    for depth in (25, 50, 100):
        for threshold in (1e-5, 1e-4):
            is_fast = labels.sigma_s_per_cm > threshold
            picked = np.zeros(n, dtype=bool)
            for i in range(n):
                keep = np.delete(rows, i)
                memberships = select_by_cluster(
                    featurized.matrix, tree.at_depth(depth), keep, y[keep], threshold
                )
                picked[i] = memberships[i].selected
            loo[f"depth {depth}, sigma > {threshold:g}"] = {
                "n_fast": int(is_fast.sum()),
                "fast_selected": int((picked & is_fast).sum()),
                "slow_selected": int((picked & ~is_fast).sum()),
                "n_slow": int((~is_fast).sum()),
                "precision": float((picked & is_fast).sum() / max(picked.sum(), 1)),
                "recall": float((picked & is_fast).sum() / max(is_fast.sum(), 1)),
                "base_rate": float(is_fast.mean()),
            }
    results["leave_one_out_selection_soap_can"] = loo

    # ranking of simplification x SOAP combinations (labels every descriptor can featurize)
    from sseflow.ml.soap.clustering import compare_descriptors

    curves, dt = timed(
        compare_descriptors,
        labels,
        DESCRIPTORS,
        min_depth=2,
        max_depth=args.max_depth,
        n_draws=args.draws,
        cache_dir=tempfile.mkdtemp(prefix="soap-bench-cache-"),
    )
    results["stages_s"]["compare_12_descriptors_incl_featurize"] = dt
    results["ranking"] = [
        {
            "descriptor": c.label,
            "mean_w_sigma": c.mean_w_sigma,
            "mean_control": c.mean_control,
            "ratio": c.mean_w_sigma / c.mean_control,
            "n_labels": c.n_labels,
            "w_sigma_at_10_25_50": [float(c.w_sigma[d - 2]) for d in (10, 25, 50)],
        }
        for c in curves
    ]
    shown = curves[:6] + [c for c in curves[6:] if c.label == default.label]
    plot_w_sigma_curves(shown, OUT / "w_sigma_vs_depth.png")
    plot_w_sigma_curves(
        [full],
        OUT / "w_sigma_soap_can_all_depths.png",
        title=f"SOAP-CAN, depths 2-{n} (every structure labelled)",
    )
    plot_dendrogram(tree.linkage, rows, y, OUT / "dendrogram_soap_can_50.png", depth=50)

    # linkage cost on synthetic descriptor sets of growing size (480 features like CAN)
    rng = np.random.default_rng(0)
    scale = {}
    for size in args.scale:
        matrix = rng.normal(size=(size, n_features(default)))
        _, dt = timed(build_cluster_tree, matrix, 300)
        scale[str(size)] = {"linkage_plus_cut_300_s": dt, "peak_rss_mb": peak_rss_mb()}
        del matrix
    results["linkage_scaling"] = scale
    results["peak_rss_mb"] = peak_rss_mb()
    (OUT / "results.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
