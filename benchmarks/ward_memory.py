"""Memory and time of the SOAP tier's Ward linkage: scipy against fastcluster, side by side.

``scipy.cluster.hierarchy.linkage(X, "ward")`` (the clustering tier until 2026-11-29) builds
the condensed distance matrix, 8 n(n-1)/2 bytes; ``fastcluster.linkage_vector(X,
"ward")`` (:func:`sseflow.ml.soap.clustering.ward_linkage`, the tier now) works on the
vectors. Both are followed by the tier's ``cut_tree`` at depths 1..``--max-depth``.

Inputs (SOAP-CAN 3/5/3, 480 features, :func:`sseflow.ml.soap.descriptor.featurize`):

``real``
    the 254 OBELiX training structures plus ``--real`` element-substituted copies of
    them (``benchmarks/scale_26k.py``'s generator, in memory). CAN maps an element and
    its substitute to the same species, so most copies have exactly the descriptor of
    their original (``distinct_rows``): a set full of exact ties, like the inputs of
    the 26,000-input scale benchmark.
``tiled-N``
    for the scaling points, N rows made from the 254 real descriptors: the 254
    themselves, then copies of them in turn, each plus Gaussian noise of 0.1 x that
    feature's standard deviation over the 254 (seed 0), so no two rows are equal.

Each method runs in its own fresh process on the same ``.npy`` file, the two processes
one after the other, ``--repeats`` times (which goes first alternates; medians are
reported): wall time of ``linkage`` and of ``cut_tree``, and the memory each step
added at its peak (the process's peak is reset through ``/proc/self/clear_refs`` after
loading the inputs and again before ``cut_tree``). The parent then compares the two
linkage matrices and their cuts at every depth: identical cluster ids, identical
partitions up to relabelling, the fraction of rows merging the same two clusters, the
largest height difference, and that fastcluster's matrix is a valid, monotonic scipy
linkage.

Writes ``benchmarks/results/ward_memory.json``.

Usage::

    PYTHONPATH=src OMP_NUM_THREADS=1 python benchmarks/ward_memory.py \\
        [--sizes 2000 5000 10000 20000] [--real 4000] [--repeats 2] [--max-depth 70] \\
        [--cache-dir DIR]

The committed results: ``--real 20000`` with the default sizes, under ``nice -n 5``
beside other work (load averages in the file).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "ward_memory.json"
METHODS = ("scipy", "fastcluster")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1e3
    raise RuntimeError("no VmRSS")


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1e3
    raise RuntimeError("no VmHWM")


def _reset_peak() -> float:
    """Reset the peak resident memory (Linux ``clear_refs``) and return the current one."""
    Path("/proc/self/clear_refs").write_text("5")
    return _rss_mb()


def worker(method: str, matrix_path: Path, out_prefix: Path, max_depth: int) -> None:
    """Link and cut one input; print a JSON line and save the matrix and the cuts."""
    from scipy.cluster.hierarchy import cut_tree, linkage

    from sseflow.ml.soap.clustering import ward_linkage

    x = np.load(matrix_path)
    # warm both code paths on a few rows so imports and first-call costs are not counted
    linkage(x[:4], method="ward", metric="euclidean")
    ward_linkage(x[:4])
    before = _reset_peak()
    start = time.perf_counter()
    z = linkage(x, method="ward", metric="euclidean") if method == "scipy" else ward_linkage(x)
    linkage_s = time.perf_counter() - start
    linkage_peak = _hwm_mb()
    before_cut = _reset_peak()
    start = time.perf_counter()
    cuts = cut_tree(z, n_clusters=list(range(1, min(max_depth, len(x)) + 1)))
    cut_s = time.perf_counter() - start
    cut_peak = _hwm_mb()
    np.save(f"{out_prefix}_z.npy", z)
    np.save(f"{out_prefix}_cuts.npy", cuts.astype(np.int32))
    print(
        json.dumps(
            {
                "linkage_s": round(linkage_s, 2),
                "cut_tree_s": round(cut_s, 2),
                "rss_before_mb": round(before, 1),
                "linkage_added_mb": round(linkage_peak - before, 1),
                "cut_tree_added_mb": round(cut_peak - before_cut, 1),
                "peak_mb": round(max(linkage_peak, cut_peak), 1),
            }
        )
    )


def _run(method: str, matrix_path: Path, out_prefix: Path, max_depth: int) -> dict[str, Any]:
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            method,
            str(matrix_path),
            str(out_prefix),
            "--max-depth",
            str(max_depth),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - start
    return {
        **json.loads(proc.stdout.strip().splitlines()[-1]),
        "process_wall_s": round(wall, 1),
        "load_average_1min_before": round(load, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Relabel clusters 0, 1, ... in the order of their first member."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse]


def compare(prefix: Path) -> dict[str, Any]:
    """Compare the scipy and fastcluster matrices and cuts of one input."""
    from scipy.cluster.hierarchy import is_monotonic, is_valid_linkage, to_tree

    zs, zf = np.load(f"{prefix}_scipy_z.npy"), np.load(f"{prefix}_fastcluster_z.npy")
    cs, cf = np.load(f"{prefix}_scipy_cuts.npy"), np.load(f"{prefix}_fastcluster_cuts.npy")
    same_partition = [
        bool(np.array_equal(_canonical(cs[:, k]), _canonical(cf[:, k]))) for k in range(cs.shape[1])
    ]
    to_tree(zf)  # raises on a matrix scipy cannot read
    dh = np.abs(zs[:, 2] - zf[:, 2])
    pairs = [0, 1, 3]  # merged clusters and size; heights are compared apart
    differ = ~np.all(zs[:, pairs] == zf[:, pairs], axis=1)
    return {
        "same_cluster_ids_all_depths": bool(np.array_equal(cs, cf)),
        "same_partitions_all_depths": all(same_partition),
        "depths_with_different_partitions": [
            k + 1 for k, ok in enumerate(same_partition) if not ok
        ],
        "same_merge_fraction": float(1 - differ.mean()),
        "highest_differing_merge_height": float(zs[differ, 2].max()) if differ.any() else None,
        "max_height_difference": float(dh.max()),
        "max_height": float(zs[:, 2].max()),
        "zero_height_merges_scipy": int((zs[:, 2] == 0).sum()),
        "zero_height_merges_fastcluster": int((zf[:, 2] == 0).sum()),
        "fastcluster_valid_linkage": bool(is_valid_linkage(zf)),
        "fastcluster_monotonic": bool(is_monotonic(zf)),
    }


def real_descriptors(n_copies: int, cache_dir: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    """SOAP-CAN of the 254 OBELiX structures and of ``n_copies`` substituted copies."""
    from scale_26k import substituted_copies  # benchmarks/ is the script's folder
    from sseflow.ml.labels import load_obelix_labels
    from sseflow.ml.soap.descriptor import SOAPSettings, featurize

    labels = load_obelix_labels()
    start = time.perf_counter()
    base = featurize(list(zip(labels.ids, labels.structures, strict=True)), SOAPSettings())
    copies = featurize(substituted_copies(n_copies), SOAPSettings(), cache_dir=cache_dir)
    matrix = np.vstack([base.matrix, copies.matrix])
    return matrix, {
        "labels": len(base.ids),
        "copies": len(copies.ids),
        "copies_failed": len(copies.failed),
        "distinct_rows": len(np.unique(matrix, axis=0)),
        "featurize_s": round(time.perf_counter() - start, 1),
    }


def tiled(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """The base rows, then noisy copies of them in turn, n rows in all."""
    rng = np.random.default_rng(seed)
    rows = base[np.arange(n) % len(base)].copy()
    noise = rng.normal(size=(n - len(base), base.shape[1])) * 0.1 * base.std(axis=0)
    rows[len(base) :] += noise
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[2000, 5000, 10000, 20000])
    parser.add_argument("--real", type=int, default=4000, help="substituted copies (0: none)")
    parser.add_argument("--max-depth", type=int, default=70)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each method per input")
    parser.add_argument("--cache-dir", default=None, help="descriptor cache of the copies")
    parser.add_argument("--worker", nargs=3, metavar=("METHOD", "MATRIX", "PREFIX"))
    args = parser.parse_args()
    if args.worker:
        method, matrix_path, prefix = args.worker
        worker(method, Path(matrix_path), Path(prefix), args.max_depth)
        return
    warnings.filterwarnings("ignore")
    results: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "threads": os.environ.get("OMP_NUM_THREADS", "unset"),
        "nice": os.nice(0),
        "max_depth": args.max_depth,
        "repeats": args.repeats,
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
        "runs": [],
    }
    matrix, info = real_descriptors(args.real, args.cache_dir)
    results["real_inputs"] = info
    inputs = [(f"real-{len(matrix)}", matrix)] if args.real else []
    inputs += [(f"tiled-{n}", tiled(matrix[:254], n)) for n in args.sizes]
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, x) in enumerate(inputs):
            path = Path(tmp) / f"{name}.npy"
            np.save(path, x)
            run: dict[str, Any] = {"input": name, "n": len(x), "n_features": x.shape[1]}
            for r in range(args.repeats):
                order = METHODS if (i + r) % 2 == 0 else METHODS[::-1]
                for method in order:
                    prefix = Path(tmp) / f"{name}_{method}"
                    run.setdefault(method, []).append(_run(method, path, prefix, args.max_depth))
            run["condensed_matrix_mb"] = round(8 * len(x) * (len(x) - 1) / 2 / 1e6, 1)
            med = {
                m: {
                    key: round(float(np.median([one[key] for one in run[m]])), 2)
                    for key in ("linkage_s", "cut_tree_s", "linkage_added_mb", "peak_mb")
                }
                for m in METHODS
            }
            run["median"] = med
            s, f = med["scipy"], med["fastcluster"]
            run["linkage_time_ratio_fastcluster_over_scipy"] = round(
                f["linkage_s"] / s["linkage_s"], 2
            )
            run["linkage_memory_ratio_fastcluster_over_scipy"] = round(
                f["linkage_added_mb"] / s["linkage_added_mb"], 4
            )
            run["peak_ratio_fastcluster_over_scipy"] = round(f["peak_mb"] / s["peak_mb"], 3)
            run["comparison"] = compare(Path(tmp) / name)
            results["runs"].append(run)
            print(json.dumps(run), flush=True)
            OUT.write_text(json.dumps(results, indent=2) + "\n")
    results["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
