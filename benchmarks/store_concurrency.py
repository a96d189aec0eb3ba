"""Concurrent processes on one embedded store: maggma's MontyStore against sseflow's EmbeddedStore.

Part 1 (safety): P processes start at the same moment on a fresh store folder; each
connects (retrying nothing), then upserts the same R candidate ids with a tier of its
own (``tiers.p<k>``), the way the funnel's record writes do, while one more process
queries in a loop. Counted afterwards: failed opens, records, duplicate records and lost
updates (a record missing some process's tier). Repeated ``--rounds`` times.

Part 2 (cost): time of one keyed record update and one keyed read against the number of
records already stored (records with a 40-site structure, as the funnel writes).

Usage::

    python benchmarks/store_concurrency.py [--processes 6] [--records 20] [--rounds 5]

Writes ``benchmarks/results/store_concurrency.json``; the numbers are quoted in
``docs/reliability.md``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

from maggma.stores import MontyStore
from pymatgen.core import Lattice, Structure

OUT = Path(__file__).parent / "results" / "store_concurrency.json"


def _open(kind: str, folder: str, read_only: bool = False) -> Any:
    """Return (store, update(cid, update), find_all())."""
    if kind == "montystore":
        store = MontyStore("candidates", database_path=folder, database_name="sseflow")
        store.connect()
        coll = store._collection

        def update(cid: str, change: dict) -> None:
            coll.update_one({"candidate_id": cid}, change, upsert=True)

        return store, update, lambda: list(coll.find({}, {"candidate_id": 1, "tiers": 1}))
    from sseflow.store import candidate_repository, get_job_store

    job_store = get_job_store(data_dir=folder, read_only=read_only)
    job_store.connect()
    repo = candidate_repository(job_store, read_only=read_only)

    def update(cid: str, change: dict) -> None:
        repo._update_one(cid, change)

    return job_store, update, lambda: list(repo.find({}, projection={"structure": 0}))


def _writer(kind: str, folder: str, k: int, n_records: int, start: Any, out: Any) -> None:
    start.wait()
    try:
        _, update, _ = _open(kind, folder)
    except Exception as exc:
        out.put(("open_failed", k, f"{type(exc).__name__}: {exc}"))
        return
    errors = 0
    for i in range(n_records):
        try:
            update(f"sse-{i:04d}", {"$set": {f"tiers.p{k}": {"status": "passed", "i": i}}})
        except Exception:
            errors += 1
            traceback.print_exc()
    out.put(("done", k, errors))


def _reader(kind: str, folder: str, start: Any, stop: Any, out: Any) -> None:
    start.wait()
    opened = False
    n_queries = failures = 0
    while not stop.is_set():
        try:
            if not opened:
                _, _, find_all = _open(kind, folder, read_only=kind != "montystore")
                opened = True
            find_all()
            n_queries += 1
        except Exception:
            failures += 1
            time.sleep(0.05)
    out.put(("reader", n_queries, failures))


def safety_round(kind: str, n_proc: int, n_records: int) -> dict[str, Any]:
    folder = tempfile.mkdtemp(prefix=f"conc-{kind}-")
    ctx = mp.get_context("spawn")
    start, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    # the reader needs an existing store; create it empty first (one process)
    if kind != "montystore":
        _open(kind, folder)
    writers = [
        ctx.Process(target=_writer, args=(kind, folder, k, n_records, start, out))
        for k in range(n_proc)
    ]
    reader = ctx.Process(target=_reader, args=(kind, folder, start, stop, out))
    for p in [*writers, reader]:
        p.start()
    time.sleep(3.0)  # every process imported and waiting
    start.set()
    for p in writers:
        p.join(600)
    stop.set()
    reader.join(60)
    messages = [out.get(timeout=10) for _ in range(n_proc + 1)]
    failed_opens = [m for m in messages if m[0] == "open_failed"]
    write_errors = sum(m[2] for m in messages if m[0] == "done")
    (reader_msg,) = [m for m in messages if m[0] == "reader"]
    _, _, find_all = _open(kind, folder)
    records = find_all()
    ids = Counter(r["candidate_id"] for r in records)
    done = {m[1] for m in messages if m[0] == "done"}
    lost = 0
    for cid in ids:
        merged: dict[str, Any] = {}
        for r in records:
            if r["candidate_id"] == cid:
                merged.update(r.get("tiers") or {})
        lost += sum(1 for k in done if f"p{k}" not in merged)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "failed_opens": len(failed_opens),
        "open_errors": sorted({m[2][:80] for m in failed_opens}),
        "write_errors": write_errors,
        "records": len(records),
        "duplicate_records": sum(n - 1 for n in ids.values()),
        "lost_updates": lost,
        "reader_queries": reader_msg[1],
        "reader_failures": reader_msg[2],
    }


def cost(kind: str, sizes: list[int]) -> list[dict[str, float]]:
    """Time per keyed update and keyed read at several store sizes."""
    structure = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.7), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
    ) * (1, 1, 2)
    as_dict = structure.as_dict()
    folder = tempfile.mkdtemp(prefix=f"cost-{kind}-")
    _, update, _ = _open(kind, folder)
    if kind == "montystore":
        store = MontyStore("candidates", database_path=folder, database_name="sseflow")
        store.connect()

        def get(cid: str) -> Any:
            return store._collection.find_one({"candidate_id": cid})
    else:
        from sseflow.store import candidate_repository, get_job_store

        repo = candidate_repository(get_job_store(data_dir=folder))
        get = repo.get
    rows = []
    n = 0
    for size in sizes:
        t0 = time.perf_counter()
        while n < size:
            update(f"sse-{n:06d}", {"$set": {"structure": as_dict, "formula": "Li2S"}})
            n += 1
        fill = time.perf_counter() - t0
        probes = [f"sse-{i:06d}" for i in range(0, size, max(1, size // 20))]
        t0 = time.perf_counter()
        for cid in probes:
            update(cid, {"$set": {"tiers.bvse": {"status": "passed", "ea_1d_ev": 0.3}}})
        t_update = (time.perf_counter() - t0) / len(probes)
        t0 = time.perf_counter()
        for cid in probes:
            assert get(cid) is not None
        t_get = (time.perf_counter() - t0) / len(probes)
        rows.append(
            {"records": size, "update_ms": 1e3 * t_update, "get_ms": 1e3 * t_get, "fill_s": fill}
        )
        print(kind, rows[-1], flush=True)
    shutil.rmtree(folder, ignore_errors=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=6)
    parser.add_argument("--records", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,5000")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    result: dict[str, Any] = {
        "processes": args.processes,
        "records": args.records,
        "rounds": args.rounds,
        "safety": {},
        "cost": {},
    }
    for kind in ("montystore", "embedded"):
        rounds = [safety_round(kind, args.processes, args.records) for _ in range(args.rounds)]
        for r in rounds:
            print(kind, r, flush=True)
        result["safety"][kind] = rounds
    for kind in ("montystore", "embedded"):
        result["cost"][kind] = cost(kind, sizes)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"written {OUT}")


if __name__ == "__main__":
    main()
