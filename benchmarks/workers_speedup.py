"""Wall time of the BVSE funnel on 20 candidates with 0, 1 and 2 worker processes.

The same 20 OBELiX training structures (BVSE between 2 and 8 s each with bvlain in
``results/bvse_obelix.csv``, taken in id order) go through a one-stage BVSE funnel
(BVSE E_1D <= 0.6 eV; what ``sseflow screen --skip ml --until bvse --workers N`` runs,
through :func:`sseflow.funnel.run.run_funnel`), once per engine (bvlain: seconds per
candidate; native: a fraction of a second, where the pool's own cost shows), each
setting on a fresh embedded store so nothing is reused; the settings run one after the
other in one process, on the same machine. Workers 0 runs every job in this process
(jobflow's ``run_locally`` way); 1 runs tier jobs on one worker process (the cost of
the pool alone); 2 on two. Usage::

    python benchmarks/workers_speedup.py [--n 20] [--workers 0,1,2] [--engines bvlain,native]

Writes ``benchmarks/results/workers_speedup.json``; quoted in ``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
OBELIX = HERE.parent / "src" / "sseflow" / "data" / "obelix" / "cifs"
OUT = HERE / "results" / "workers_speedup.json"


def pick(n: int) -> list[Path]:
    with open(HERE / "results" / "bvse_obelix.csv") as handle:
        rows = list(csv.DictReader(handle))
    chosen = [
        r["id"]
        for r in sorted(rows, key=lambda r: r["id"])
        if r["status"] == "ok" and 2.0 <= float(r["wall_s"] or 0) <= 8.0
    ]
    return [OBELIX / f"{i}.cif" for i in chosen[:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--workers", default="0,1,2")
    parser.add_argument("--engines", default="bvlain,native")
    args = parser.parse_args()
    inputs = pick(args.n)
    summary: dict = {
        "inputs": [p.stem for p in inputs],
        "cores": os.cpu_count(),
        "machine": platform.node(),
        "date": time.strftime("%Y-%m-%d"),
        "engines": {},
    }
    for engine in args.engines.split(","):
        summary["engines"][engine] = measure(inputs, engine, args.workers)
    summary["load_average_at_end"] = os.getloadavg()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(summary, indent=1))


def measure(inputs: list[Path], engine: str, workers_list: str) -> dict:
    """Run the BVSE funnel with ``engine`` once per worker count; return the runs."""
    from sseflow.bvse.jobs import BVSEMaker
    from sseflow.funnel.gates import ThresholdGate
    from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
    from sseflow.funnel.run import run_funnel
    from sseflow.store import candidate_repository, get_job_store

    stage = Stage(
        makers=[BVSEMaker(engine=engine)],
        gate=ThresholdGate(tier="bvse", field="ea_1d_ev", max_value=0.6, unit="eV"),
    )
    runs = []
    for workers in (int(w) for w in workers_list.split(",")):
        folder = Path(tempfile.mkdtemp(prefix=f"workers{workers}-"))
        store = get_job_store(data_dir=folder)
        flow = ScreeningFunnelMaker(stages=[stage]).make(inputs)
        start = time.perf_counter()
        result = run_funnel(flow, store, workers=workers)
        wall = time.perf_counter() - start
        records = list(candidate_repository(store).find({}, projection={"structure": 0}))
        bvse = [r["tiers"]["bvse"] for r in records if "bvse" in r["tiers"]]
        runs.append(
            {
                "workers": workers,
                "wall_s": round(wall, 1),
                "ok": result.ok,
                "n_records": len(records),
                "n_bvse": len(bvse),
                "bvse_cpu_s_sum": round(sum(d.get("wall_time_s") or 0 for d in bvse), 1),
                "barriers": {
                    r["candidate_id"]: r["tiers"]["bvse"].get("ea_1d_ev")
                    for r in records
                    if "bvse" in r["tiers"]
                },
            }
        )
        print(engine, {k: v for k, v in runs[-1].items() if k != "barriers"}, flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    base = {r["workers"]: r["wall_s"] for r in runs}
    out = {
        "runs": runs,
        "load_average_after": os.getloadavg(),
        "speedup_2_vs_0": round(base[0] / base[2], 2) if 0 in base and 2 in base else None,
        "speedup_2_vs_1": round(base[1] / base[2], 2) if 1 in base and 2 in base else None,
        "same_barriers_in_every_run": all(r["barriers"] == runs[0]["barriers"] for r in runs),
    }
    print(engine, json.dumps({k: v for k, v in out.items() if k != "runs"}), flush=True)
    return out


if __name__ == "__main__":
    main()
