"""A query on a large embedded store: montydb's find against sseflow's streamed scan.

montydb answers a query by decoding every document of the collection before it yields
the first one; :meth:`sseflow.store.embedded.EmbeddedStore.find_streamed` (used by
``CandidateRepository.find`` for unsorted queries) reads the rows a page at a time and
yields each match as soon as it is checked. Both run here on the same store, one after
the other, each in a fresh process: the query ``{"tiers.ingest.status": "passed"}``
with the structures projected out (what ``sseflow candidates`` and ``report`` ask).
Measured: time to the first record, time to the last, peak resident memory.

A second pair (``jobs_montydb``, ``jobs_streamed``) asks the job outputs collection what
a user asks jobflow's store: the latest completed jobs' ids and names
(``store.docs_store.query({"completed_at": {"$exists": True}}, ["uuid", "name"],
sort={"completed_at": -1}, limit=100)``; the projection drops the sort key), through
maggma's ``MontyStore.query`` and through ``EmbeddedStore.query``.

The store is the one ``benchmarks/scale_26k.py ingest`` fills (24,320 records).

Usage::

    PYTHONPATH=src:. python benchmarks/store_scan.py [--store /tmp/sseflow-26k/store]

Writes ``benchmarks/results/store_scan.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "results" / "store_scan.json"
QUERY = {"tiers.ingest.status": "passed"}
JOBS_QUERY = {"completed_at": {"$exists": True}}
MODES = ("montydb", "streamed", "jobs_montydb", "jobs_streamed")


def child(mode: str, folder: str) -> dict:
    from maggma.stores import MontyStore

    from sseflow.store import candidate_repository, get_job_store

    store = get_job_store(data_dir=folder, read_only=True)
    store.connect()
    repo = candidate_repository(store, read_only=True)
    docs = store.docs_store
    jobs_args = (JOBS_QUERY, ["uuid", "name"], {"completed_at": -1})
    t0 = time.perf_counter()
    if mode == "montydb":
        records = repo.collection.find(QUERY, {"_id": 0, "structure": 0})
    elif mode == "streamed":
        records = repo.find(QUERY, projection={"structure": 0})
    elif mode == "jobs_montydb":
        records = MontyStore.query(docs, *jobs_args, limit=100)
    else:
        records = docs.query(*jobs_args, limit=100)
    n, first = 0, None
    for _ in records:
        n += 1
        if first is None:
            first = time.perf_counter() - t0
    return {
        "mode": mode,
        "records": n,
        "first_record_s": round(first or 0.0, 2),
        "all_records_s": round(time.perf_counter() - t0, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="/tmp/sseflow-26k/store")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.store)))
        return
    results = []
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--store", args.store],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(results[-1], flush=True)
    OUT.write_text(
        json.dumps(
            {
                "query": QUERY,
                "projection": {"structure": 0},
                "jobs_query": {
                    "criteria": JOBS_QUERY,
                    "properties": ["uuid", "name"],
                    "sort": {"completed_at": -1},
                    "limit": 100,
                },
                "results": results,
                "load_average": os.getloadavg(),
                "date": time.strftime("%Y-%m-%d"),
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
