"""Time candidate queries, sorting, indexing and the funnel report on N synthetic records.

Records are written through :class:`sseflow.store.CandidateRepository` (the same calls
the funnel makes) with random but plausible tier documents (ingest, atomsets, bvse,
neb_mlip), into the embedded store and, when ``--mongo-uri`` is given (or secantusdb is
installed, which is then started on a free port), into a MongoDB server. Usage::

    python benchmarks/query_store.py [--n 5000] [--mongo-uri mongodb://host:27017]

Prints one line per measurement; the results are copied into ``docs/hpc.md``.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sseflow.report.summary import summarize
from sseflow.store import CandidateRepository, candidate_repository, get_job_store
from sseflow.store.queries import candidate_query

ELEMENTS = ["O", "S", "Cl", "Br", "P", "Si", "Ge", "La", "Zr", "Ti", "Al", "N"]


def synthetic_records(repo: CandidateRepository, n: int, seed: int = 0) -> None:
    """Write ``n`` candidate records with ingest/atomsets/bvse/neb_mlip tiers."""
    rng = random.Random(seed)
    for i in range(n):
        cid = f"sse-{i:012x}"
        elements = sorted({"Li", *rng.sample(ELEMENTS, 3)})
        repo.upsert_candidate(
            cid,
            {
                "formula": "Li" + "".join(elements[1:]),
                "elements": elements,
                "chemsys": "-".join(elements),
                "nsites": rng.randint(4, 300),
            },
        )
        common = {"candidate_id": cid, "settings_hash": "x", "host": "bench"}
        repo.set_tier({**common, "tier": "ingest", "status": "passed", "wall_time_s": 0.01})
        p_si = rng.random()
        status = "passed" if p_si > 0.3 else "rejected"
        repo.set_tier(
            {**common, "tier": "atomsets", "status": status, "p_si": p_si, "wall_time_s": 0.2}
        )
        if status != "passed":
            continue
        ea = rng.uniform(0.1, 1.5)
        status = "passed" if ea <= 0.6 else "rejected"
        repo.set_tier(
            {
                **common,
                "tier": "bvse",
                "status": status,
                "ea_1d_ev": ea,
                "ea_3d_ev": ea + rng.uniform(0, 0.3),
                "wall_time_s": rng.uniform(1, 60),
                "peak_memory_mb": rng.uniform(300, 2200),
                "reason": None if status == "passed" else f"E_1D = {ea:.3f} eV > 0.6 eV",
            }
        )
        if status == "passed":
            repo.set_tier(
                {
                    **common,
                    "tier": "neb_mlip",
                    "status": "passed",
                    "barrier_forward_ev": rng.uniform(0.05, 0.8),
                    "wall_time_s": rng.uniform(100, 900),
                }
            )


def timed(label: str, func: Callable[[], Any], repeat: int = 3) -> Any:
    """Run ``func`` ``repeat`` times; print the best wall time."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    print(f"  {label:<46} {best:8.3f} s", flush=True)
    return result


def measure(name: str, repo: CandidateRepository, n: int) -> None:
    """Fill ``repo`` and time the query-side operations."""
    print(f"{name}: {n} records", flush=True)
    # indexes first, as the funnel's ingest job does
    made = timed("ensure_indexes (empty collection)", lambda: repo.ensure_indexes(), repeat=1)
    print(f"  indexes created: {len(made.created)}, skipped: {len(made.skipped)}")
    t0 = time.perf_counter()
    synthetic_records(repo, n)
    elapsed = time.perf_counter() - t0
    n_writes = (
        repo.count({}) * 2
        + repo.count({"tiers.bvse": {"$exists": True}}) * 1
        + repo.count({"tiers.neb_mlip": {"$exists": True}})
    )
    print(
        f"  {'write records (funnel calls)':<46} {elapsed:8.3f} s "
        f"({n_writes + n} updates, {1000 * elapsed / (n_writes + n):.1f} ms each)"
    )
    query = candidate_query(ranges={"tiers.bvse.ea_1d_ev": (None, 0.4)}, elements=["S"])
    timed(
        "filter E_1D<=0.4 & S, sort by E_1D, limit 20",
        lambda: list(
            repo.find_sorted(query, "tiers.bvse.ea_1d_ev", limit=20, projection={"structure": 0})
        ),
    )
    timed(
        "sort all by P_SI (desc), missing last",
        lambda: list(repo.find_sorted({}, "tiers.atomsets.p_si", descending=True)),
    )
    timed("count BVSE-passed", lambda: repo.count({"tiers.bvse.status": "passed"}))
    timed("report summary (all records)", lambda: summarize(repo.find({}), top_n=20))


@contextmanager
def secantus_server() -> Iterator[str | None]:
    """Start secantusdb on a free loopback port if it is installed."""
    exe = shutil.which("secantusd-py", path=str(Path(sys.executable).parent))
    if exe is None:
        yield None
        return
    import pymongo

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="secantus-bench-")
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--storage-path", folder, "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    uri = f"mongodb://127.0.0.1:{port}"
    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500)
    for _ in range(200):
        try:
            client.admin.command("ping")
            break
        except pymongo.errors.PyMongoError:
            time.sleep(0.2)
    try:
        yield uri
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--mongo-uri", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        store = get_job_store(data_dir=folder)
        store.connect()
        measure("embedded (montydb/sqlite)", candidate_repository(store, read_only=False), args.n)
    with secantus_server() if args.mongo_uri is None else _given(args.mongo_uri) as uri:
        if uri is None:
            print("no MongoDB: pass --mongo-uri or pip install secantusdb")
            return
        store = get_job_store(uri=uri, db_name=f"bench_{int(time.time())}")
        store.connect()
        measure(f"MongoDB protocol ({uri})", candidate_repository(store, read_only=False), args.n)


@contextmanager
def _given(uri: str) -> Iterator[str]:
    yield uri


if __name__ == "__main__":
    main()
