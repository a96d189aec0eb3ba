"""Bounded soak: screen, kill it (SIGKILL or SIGTERM), rerun, with queries running beside.

Inputs are the fault corpus plus good structures. Each round starts ``sseflow screen``
with two workers while ``candidates`` and ``report`` processes query the same folder in
a loop, and kills the screen at a different moment. A final run finishes the batch.
Checked: every query process succeeded, no process outlived its round, every input has
a record and no record is duplicated, and no BVSE result finished in an earlier round
was computed again.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from sseflow.common.candidate import SourceInfo
from tests.conftest import copy_examples
from tests.funnel.test_kill import (
    alive,
    bvse_results,
    descendants,
    environment,
    unique_records,
)
from tests.ingest.faults import write_corpus

pytestmark = pytest.mark.slow

GOOD = [
    "Li2O_antifluorite.cif",
    "Li2S_antifluorite.cif",
    "Li2Te_antifluorite.cif",
    "Li3N_alpha.cif",
    "obelix_122.cif",
]
ROUNDS = ((signal.SIGKILL, 4.0), (signal.SIGTERM, 7.0), (signal.SIGKILL, 10.0))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sseflow", *args]


def _queries(data_dir: Path, out: Path, stop_at: float) -> list[subprocess.Popen]:
    """Start one `candidates` and one `report` loop (shell) until ``stop_at``."""
    env = environment()
    procs = []
    for i, args in enumerate((["candidates", "--json"], ["report", "--out", str(out / "report")])):
        command = " ".join(_cli(*args, "--data-dir", str(data_dir)))
        loop = (  # queries start once the first screen has created the store
            f"while [ $(date +%s) -lt {int(stop_at)} ]; do "
            f"if [ -e {data_dir}/.monty.storage ]; then "
            f"{command} > /dev/null 2>>{out}/q{i}.err || echo FAILED >> {out}/q{i}.err; fi; "
            "sleep 0.2; done"
        )
        procs.append(subprocess.Popen(["bash", "-c", loop], env=env))
    return procs


def test_screen_kill_rerun_and_queries_keep_the_store_whole(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    faults = write_corpus(inputs / "faults")
    copy_examples(inputs, GOOD)
    data_dir = tmp_path / "db"
    logs = tmp_path / "logs"
    logs.mkdir()
    command = _cli("screen", str(inputs), "--data-dir", str(data_dir), "--workers", "2")
    command += ["--resolution", "0.3"]
    rng = random.Random(0)
    finished: dict[str, str] = {}  # BVSE results recorded in earlier rounds
    for sig, delay in ROUNDS:
        proc = subprocess.Popen(
            command, env=environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        queries = _queries(data_dir, logs, time.time() + delay + 4)
        watched = psutil.Process(proc.pid)
        seen: set[int] = set()
        deadline = time.monotonic() + delay + rng.uniform(0, 2)
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= descendants(watched)
            time.sleep(0.1)
        if proc.poll() is None:
            os.kill(proc.pid, sig)
        proc.wait(timeout=60)
        for query in queries:
            query.wait(timeout=120)
        end = time.monotonic() + 20
        while alive(seen) and time.monotonic() < end:
            time.sleep(0.2)
        assert alive(seen) == [], f"left behind after {signal.Signals(sig).name}"
        now = bvse_results(data_dir)
        for cid, uuid in finished.items():
            assert now.get(cid) == uuid, f"{cid}: a finished BVSE result was recomputed"
        finished.update(now)
    done = subprocess.run(command, env=environment(), capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for i in range(2):
        errors = (logs / f"q{i}.err").read_text() if (logs / f"q{i}.err").exists() else ""
        assert "FAILED" not in errors and "Traceback" not in errors, errors[-2000:]
    final = bvse_results(data_dir)
    for cid, uuid in finished.items():
        assert final[cid] == uuid, f"{cid}: a finished BVSE result was recomputed"

    records = unique_records(data_dir)
    sources = {Path(SourceInfo(**s).original_path()).name for r in records for s in r["sources"]}
    expected = {os.fsdecode(f.name) for f in faults} - {"dangling_link.cif"} | set(GOOD)
    assert expected <= sources, expected - sources
    assert {r["status"] for r in records} <= {"passed", "rejected"}
