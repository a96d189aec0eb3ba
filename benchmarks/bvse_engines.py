"""Native BVSE engine against bvlain, side by side, on the OBELiX training structures.

Part 1 (side by side): two worker processes, one per engine, each importing only what
its engine needs (as the BVSE tier does). For every structure both workers read the CIF
through ingest (not timed) and run ``bvse_barriers`` exactly as the tier does (child
process, time and memory guards); the order of the two engines alternates from one
structure to the next, so load from other jobs on the machine hits both alike. Recorded
per structure and engine: wall time of ``bvse_barriers``, peak resident memory of the
calculation process (it is forked from the worker, so it includes the worker's own
~150-250 MB, reported as ``worker_mb``), the three barriers and any failure reason.

Part 2 (the whole set, native): one process reads every CIF and runs the native engine,
one structure after the other, as ``benchmarks/bvse_obelix.py`` does; total wall time.

Part 3 (``--explain-outliers``, after a run): for every structure whose barriers
differ by more than 0.01 eV, recompute bvlain's grid and run on it (a) bvlain's
bisection with its periodic label merge repeated until stable
(:class:`sseflow.bvse.lain.RepeatedSweepLain`) and (b) the native search with both
dimensionality criteria, which tells which of bvlain's two approximations caused the
difference (see :mod:`sseflow.bvse.percolation`).

Writes ``benchmarks/results/bvse_engines.csv`` (per structure),
``benchmarks/results/bvse_engines_summary.json`` and, with ``--explain-outliers``,
``benchmarks/results/bvse_engines_outliers.csv``. Usage::

    python benchmarks/bvse_engines.py [--ids 00x,gvd] [--limit 20] [--skip-full]
    python benchmarks/bvse_engines.py --explain-outliers
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
import warnings
from importlib.resources import files
from pathlib import Path
from typing import Any

ENGINES = ("native", "bvlain")
DIMS = ("1d", "2d", "3d")


def _cif_dir() -> Path:
    return Path(str(files("sseflow") / "data" / "obelix" / "cifs"))


def _run_one(path: Path, engine: str) -> dict[str, Any]:
    import psutil

    from sseflow.bvse.engine import bvse_barriers
    from sseflow.bvse.framework import prepare_bvse_framework
    from sseflow.bvse.settings import BVSEError, BVSESettings
    from sseflow.ingest.batch import ingest

    row: dict[str, Any] = {"status": "", "reason": ""}
    doc = ingest([path])
    if not doc.accepted:
        row.update(status="rejected", reason="; ".join(r.reason for r in doc.rejected))
        return row
    cand = doc.accepted[0]
    row.update(formula=cand.formula, nsites=len(cand.structure), ordered=cand.structure.is_ordered)
    framework = prepare_bvse_framework(cand.structure, "weighted")
    row["n_partial_sites"] = framework.n_partial_sites
    row["worker_mb"] = round(psutil.Process().memory_info().rss / 1e6)
    t0 = time.perf_counter()
    try:
        result = bvse_barriers(framework, BVSESettings(engine=engine))  # type: ignore[arg-type]
    except BVSEError as exc:
        row.update(status="failed", reason=str(exc), wall_s=round(time.perf_counter() - t0, 3))
        return row
    row.update(
        status="ok",
        wall_s=round(time.perf_counter() - t0, 3),
        peak_mb=round(result.peak_memory_mb),
        grid=("x".join(str(n) for n in result.energies_ev.shape)),
        ea_1d_ev=result.ea_1d_ev,
        ea_2d_ev=result.ea_2d_ev,
        ea_3d_ev=result.ea_3d_ev,
    )
    if engine == "native":  # not timed: the thresholds under bvlain's 2x2x2-image test
        from sseflow.bvse.percolation import percolation_energies

        images = percolation_energies(result.energies_ev[:-1, :-1, :-1], criterion="images")
        for dim, value in zip(DIMS, images, strict=True):
            row[f"images_ea_{dim}_ev"] = None if value is None else round(value, 4)
    return row


def _worker(engine: str, conn: Any) -> None:
    warnings.filterwarnings("ignore")
    from sseflow.bvse.engine import warm_up

    warm_up(engine)  # once per process, as in the tier
    conn.send("ready")
    while True:
        path = conn.recv()
        if path is None:
            return
        try:
            conn.send(_run_one(Path(path), engine))
        except Exception as exc:  # a benchmark row, never a crash of the run
            conn.send({"status": "error", "reason": f"{type(exc).__name__}: {exc}"})


def side_by_side(paths: list[Path]) -> list[dict[str, Any]]:
    """Run both engines on every path; return one row per structure."""
    ctx = mp.get_context("spawn")
    workers = {}
    for engine in ENGINES:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(engine, child))
        proc.start()
        workers[engine] = (proc, parent)
    for _, conn in workers.values():
        assert conn.recv() == "ready"
    rows = []
    for i, path in enumerate(paths):
        order = ENGINES if i % 2 == 0 else ENGINES[::-1]
        out: dict[str, dict[str, Any]] = {}
        for engine in order:
            conn = workers[engine][1]
            conn.send(str(path))
            out[engine] = conn.recv()
        row = _merge(path.stem, out)
        rows.append(row)
        print(
            f"{row['id']:>4} {row['formula']:<26} {row['grid']:>12} "
            f"native {row['native_wall_s']!s:>6} s {row['native_peak_mb']!s:>5} MB | "
            f"bvlain {row['bvlain_wall_s']!s:>6} s {row['bvlain_peak_mb']!s:>5} MB | "
            f"max|dE| {row['max_abs_diff_ev']!s:>7} {row['reason'][:50]}",
            flush=True,
        )
    for proc, conn in workers.values():
        conn.send(None)
        proc.join(10)
    return rows


def _merge(stem: str, out: dict[str, dict[str, Any]]) -> dict[str, Any]:
    nat, bvl = out["native"], out["bvlain"]
    row: dict[str, Any] = {
        "id": stem,
        "formula": nat.get("formula", bvl.get("formula", "")),
        "nsites": nat.get("nsites", ""),
        "ordered": nat.get("ordered", ""),
        "n_partial_sites": nat.get("n_partial_sites", ""),
        "grid": nat.get("grid", bvl.get("grid", "")),
    }
    for engine in ENGINES:
        res = out[engine]
        row[f"{engine}_status"] = res.get("status", "")
        for dim in DIMS:
            row[f"{engine}_e{dim}_ev"] = res.get(f"ea_{dim}_ev", "")
        row[f"{engine}_wall_s"] = res.get("wall_s", "")
        row[f"{engine}_peak_mb"] = res.get("peak_mb", "")
        row[f"{engine}_worker_mb"] = res.get("worker_mb", "")
    for dim in DIMS:
        row[f"native_images_e{dim}_ev"] = nat.get(f"images_ea_{dim}_ev", "")
    diffs: list[float] = []
    mismatch = []
    if nat.get("status") == "ok" and bvl.get("status") == "ok":
        for prefix, key in (("diff", "ea"), ("images_diff", "images_ea")):
            for dim in DIMS:
                a, b = nat[f"{key}_{dim}_ev"], bvl[f"ea_{dim}_ev"]
                if a is None and b is None:
                    row[f"{prefix}_e{dim}_ev"] = ""
                elif a is None or b is None:
                    row[f"{prefix}_e{dim}_ev"] = "one side None"
                    mismatch.append(dim)
                else:
                    row[f"{prefix}_e{dim}_ev"] = round(a - b, 4)
                    if prefix == "diff":
                        diffs.append(abs(a - b))
    row["max_abs_diff_ev"] = round(max(diffs), 4) if diffs else ("mismatch" if mismatch else "")
    row["reason"] = nat.get("reason") or bvl.get("reason") or ""
    return row


def full_native(paths: list[Path]) -> dict[str, Any]:
    """Ingest + native BVSE over all paths in this process, one after the other."""
    from sseflow.bvse.engine import warm_up

    t0 = time.perf_counter()
    warm_up("native")
    warm_s = time.perf_counter() - t0
    statuses: dict[str, int] = {}
    for path in paths:
        status = _run_one(path, "native")["status"]
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "structures": len(paths),
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "warm_up_s": round(warm_s, 2),
        "statuses": statuses,
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians, maxima, ratios and agreement of the side-by-side rows."""
    both = [r for r in rows if r["native_status"] == "ok" and r["bvlain_status"] == "ok"]
    out: dict[str, Any] = {"structures": len(rows), "both_ok": len(both)}
    for engine in ENGINES:
        walls = [float(r[f"{engine}_wall_s"]) for r in both]
        mems = [float(r[f"{engine}_peak_mb"]) for r in both]
        out[engine] = {
            "ok": sum(r[f"{engine}_status"] == "ok" for r in rows),
            "failed": sum(r[f"{engine}_status"] == "failed" for r in rows),
            "rejected": sum(r[f"{engine}_status"] == "rejected" for r in rows),
            "error": sum(r[f"{engine}_status"] == "error" for r in rows),
            "wall_s_median": round(statistics.median(walls), 3) if walls else None,
            "wall_s_max": round(max(walls), 3) if walls else None,
            "wall_s_total": round(sum(walls), 1),
            "peak_mb_median": round(statistics.median(mems)) if mems else None,
            "peak_mb_max": round(max(mems)) if mems else None,
        }
    if both:
        speed = [float(r["bvlain_wall_s"]) / float(r["native_wall_s"]) for r in both]
        mem = [float(r["native_peak_mb"]) / float(r["bvlain_peak_mb"]) for r in both]
        out["speedup_median"] = round(statistics.median(speed), 1)
        out["speedup_min"] = round(min(speed), 1)
        out["speedup_of_medians"] = round(
            out["bvlain"]["wall_s_median"] / out["native"]["wall_s_median"], 1
        )
        out["memory_ratio_median"] = round(statistics.median(mem), 3)
        out["memory_ratio_max"] = round(max(mem), 3)
        out["memory_ratio_of_medians"] = round(
            out["native"]["peak_mb_median"] / out["bvlain"]["peak_mb_median"], 3
        )
        for prefix in ("diff", "images_diff"):
            per_dim = {}
            for dim in DIMS:
                vals = [
                    (abs(r[f"{prefix}_e{dim}_ev"]), r["id"])
                    for r in both
                    if isinstance(r[f"{prefix}_e{dim}_ev"], float | int)
                ]
                worst = max(vals) if vals else (None, None)
                per_dim[dim] = {
                    "compared": len(vals),
                    "max_abs_diff_ev": worst[0],
                    "worst_id": worst[1],
                    "over_0.01": sorted(i for v, i in vals if v > 0.01),
                    "native_higher": sorted(
                        r["id"]
                        for r in both
                        if isinstance(r[f"{prefix}_e{dim}_ev"], float | int)
                        and r[f"{prefix}_e{dim}_ev"] > 1e-4
                    ),
                }
            per_dim["one_side_none"] = sorted(
                r["id"]
                for r in both
                if any(r[f"{prefix}_e{d}_ev"] == "one side None" for d in DIMS)
            )
            out["agreement" if prefix == "diff" else "agreement_images_criterion"] = per_dim
    return out


def explain_outliers(csv_path: Path, tolerance_ev: float = 0.01) -> list[dict[str, Any]]:
    """Attribute every difference above ``tolerance_ev`` (part 3 of the module docstring)."""
    import numpy as np

    from sseflow.bvse.framework import prepare_bvse_framework
    from sseflow.bvse.lain import RepeatedSweepLain
    from sseflow.bvse.percolation import percolation_energies
    from sseflow.ingest.batch import ingest

    rows = list(csv.DictReader(csv_path.open()))
    out = []
    for row in rows:
        diffs = [row.get(f"diff_e{dim}_ev", "") for dim in DIMS]
        if not any(_is_number(d) and abs(float(d)) > tolerance_ev for d in diffs) and not any(
            d == "one side None" for d in diffs
        ):
            continue
        cand = ingest([_cif_dir() / f"{row['id']}.cif"]).accepted[0]
        lain = RepeatedSweepLain(verbose=False)
        lain.load_framework(prepare_bvse_framework(cand.structure, "weighted").atoms)
        with np.errstate(divide="ignore", invalid="ignore"):
            lain.bvse_distribution(mobile_ion="Li1+", r_cut=10.0, resolution=0.2, k=100)
        swept = lain.percolation_barriers(encut=5.0)
        grid = np.asarray(lain.data)[:-1, :-1, :-1]
        rank = percolation_energies(grid, 5.0, "rank")
        images = percolation_energies(grid, 5.0, "images")
        entry: dict[str, Any] = {"id": row["id"], "formula": row["formula"]}
        causes = []
        for i, dim in enumerate(DIMS):
            bvl = _number(row[f"bvlain_e{dim}_ev"])
            nat = _number(row[f"native_e{dim}_ev"])
            rep = swept[f"E_{i + 1}D"]
            rep = None if not np.isfinite(rep) else float(rep)
            entry.update(
                {
                    f"native_e{dim}_ev": nat,
                    f"bvlain_e{dim}_ev": bvl,
                    f"bvlain_repeated_sweep_e{dim}_ev": rep,
                    f"native_on_bvlain_grid_images_e{dim}_ev": _round(images[i]),
                    f"native_on_bvlain_grid_rank_e{dim}_ev": _round(rank[i]),
                }
            )
            if _close(nat, bvl, tolerance_ev):
                continue
            if not _close(bvl, rep, tolerance_ev) and _close(rep, images[i], tolerance_ev):
                causes.append(f"E_{dim.upper()}: bvlain's single-sweep face merge")
            if _close(rep, images[i], tolerance_ev) and not _close(images[i], rank[i], 1e-6):
                causes.append(f"E_{dim.upper()}: bvlain's 2x2x2 image count")
            if not _close(rep, images[i], tolerance_ev):
                causes.append(f"E_{dim.upper()}: unexplained")
        entry["cause"] = "; ".join(causes)
        print(entry, flush=True)
        out.append(entry)
    return out


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) and value != "" else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _close(a: float | None, b: float | None, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tolerance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ids", default="", help="comma-separated OBELiX ids (default: all)")
    parser.add_argument("--limit", type=int, default=0, help="first N structures only")
    parser.add_argument("--skip-full", action="store_true", help="skip part 2")
    parser.add_argument("--out", default="benchmarks/results/bvse_engines.csv")
    parser.add_argument(
        "--explain-outliers", action="store_true", help="part 3 only, on the CSV of --out"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.explain_outliers:
        out = Path(args.out)
        entries = explain_outliers(out)
        target = out.with_name(out.stem + "_outliers.csv")
        fields = list(dict.fromkeys(k for e in entries for k in e)) or ["id"]
        with target.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(entries)
        return
    paths = sorted(_cif_dir().glob("*.cif"))
    if args.ids:
        wanted = set(args.ids.split(","))
        paths = [p for p in paths if p.stem in wanted]
    if args.limit:
        paths = paths[: args.limit]
    t0 = time.perf_counter()
    rows = side_by_side(paths)
    side_s = time.perf_counter() - t0
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    summary = summarise(rows)
    summary["side_by_side_wall_s"] = round(side_s, 1)
    if not args.skip_full:
        summary["full_native"] = full_native(paths)
    summary["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_end": os.getloadavg(),
    }
    summary_path = out.with_name(out.stem + "_summary.json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
