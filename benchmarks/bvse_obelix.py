"""Run the BVSE tier over all shipped OBELiX training structures.

Writes per-structure wall time, peak memory, barriers and failures to
``benchmarks/results/bvse_obelix.csv`` and a summary to stdout (copied into
``docs/bvse.md``). Usage::

    python benchmarks/bvse_obelix.py [--resolution 0.2] [--time-limit 600] [--mode weighted]
        [--engine native|bvlain]

The engine comparison (both engines side by side) is ``benchmarks/bvse_engines.py``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
import warnings
from importlib.resources import files
from pathlib import Path

from sseflow.bvse.engine import bvse_barriers
from sseflow.bvse.framework import prepare_bvse_framework
from sseflow.bvse.settings import BVSEError, BVSESettings
from sseflow.ingest.batch import ingest

warnings.filterwarnings("ignore")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--resolution", type=float, default=0.2)
    parser.add_argument("--time-limit", type=float, default=600.0)
    parser.add_argument("--memory-limit", type=float, default=8.0)
    parser.add_argument("--mode", default="weighted", choices=["weighted", "majority"])
    parser.add_argument("--engine", default="native", choices=["native", "bvlain"])
    parser.add_argument("--out", default="benchmarks/results/bvse_obelix.csv")
    args = parser.parse_args()
    cif_dir = Path(str(files("sseflow") / "data" / "obelix" / "cifs"))
    paths = sorted(cif_dir.glob("*.cif"))
    settings = BVSESettings(
        resolution_angstrom=args.resolution,
        time_limit_s=args.time_limit,
        memory_limit_gb=args.memory_limit,
        occupancy_mode=args.mode,
        engine=args.engine,
    )
    rows = []
    t_all = time.perf_counter()
    for path in paths:
        row = {
            "id": path.stem,
            "formula": "",
            "nsites": "",
            "ordered": "",
            "status": "",
            "ea_1d_ev": "",
            "ea_2d_ev": "",
            "ea_3d_ev": "",
            "wall_s": "",
            "peak_mb": "",
            "reason": "",
        }
        t0 = time.perf_counter()
        doc = ingest([path])
        if not doc.accepted:
            reasons = [r.reason for r in doc.rejected]
            row.update(status="rejected at ingest", reason="; ".join(reasons))
        else:
            cand = doc.accepted[0]
            row.update(
                formula=cand.formula, nsites=len(cand.structure), ordered=cand.structure.is_ordered
            )
            try:
                result = bvse_barriers(prepare_bvse_framework(cand.structure, args.mode), settings)
                row.update(
                    status="ok",
                    ea_1d_ev=result.ea_1d_ev,
                    ea_2d_ev=result.ea_2d_ev,
                    ea_3d_ev=result.ea_3d_ev,
                    peak_mb=round(result.peak_memory_mb),
                )
            except BVSEError as exc:
                row.update(status="failed", reason=str(exc))
        row["wall_s"] = round(time.perf_counter() - t0, 2)
        rows.append(row)
        print(
            f"{row['id']:>4} {row['formula']:<28} {row['status']:<20} E1D={row['ea_1d_ev']} "
            f"{row['wall_s']} s {row['peak_mb']} MB {row['reason'][:60]}",
            flush=True,
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ok = [r for r in rows if r["status"] == "ok"]
    walls = [r["wall_s"] for r in ok]
    mems = [r["peak_mb"] for r in ok]
    e1 = [r["ea_1d_ev"] for r in ok if r["ea_1d_ev"] is not None]
    print(
        f"\nstructures: {len(rows)}; BVSE ok: {len(ok)}; failed: "
        f"{sum(r['status'] == 'failed' for r in rows)}; rejected at ingest: "
        f"{sum(r['status'].startswith('rejected') for r in rows)}"
    )
    print(
        f"total wall {time.perf_counter() - t_all:.0f} s; per structure median "
        f"{statistics.median(walls):.1f} s, max {max(walls):.1f} s"
    )
    print(f"peak RSS median {statistics.median(mems):.0f} MB, max {max(mems):.0f} MB")
    print(
        f"E_1D <= 0.6 eV: {sum(e <= 0.6 for e in e1)} of {len(ok)}; no 1D percolation within "
        f"encut: {sum(r['ea_1d_ev'] is None for r in ok)}"
    )


if __name__ == "__main__":
    main()
