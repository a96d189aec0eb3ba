"""``sseflow screen`` killed mid-batch (SIGKILL, SIGTERM): no process left, nothing lost.

The run is killed once some BVSE results are recorded and others are still computing.
Afterwards no process the run started may be alive, and running the same command again
must reuse every BVSE result finished before the kill (same job uuid in the record).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from sseflow.store import candidate_repository, get_job_store
from tests.conftest import REPO, copy_examples

pytestmark = pytest.mark.slow

INPUTS = [
    "Li2O_antifluorite.cif",
    "Li2S_antifluorite.cif",
    "Li2Te_antifluorite.cif",
    "Li3N_alpha.cif",
    "obelix_122.cif",  # Li6PS5Cl, the slowest: still running at the kill
]


def screen_command(inputs: list[Path], data_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sseflow",
        "screen",
        *map(str, inputs),
        "--data-dir",
        str(data_dir),
        "--workers",
        "2",
        "--resolution",
        "0.3",  # a coarser grid: the same kill, in less time
        *("--skip", "ml", "--until", "bvse"),  # the BVSE funnel
        # bvlain: seconds per structure, so the kill lands mid-batch (the native engine
        # can finish all five before the test's kill)
        *("--bvse-engine", "bvlain"),
    ]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO)])
    return env


def bvse_results(data_dir: Path) -> dict[str, str]:
    """candidate id -> job uuid of the BVSE results recorded so far (read-only)."""
    if not (data_dir / ".monty.storage").exists():
        return {}
    store = get_job_store(data_dir=data_dir, read_only=True)
    try:
        store.connect()
        repo = candidate_repository(store, read_only=True)
        found = repo.find({"tiers.bvse.job_uuid": {"$ne": None}}, projection={"structure": 0})
        return {r["candidate_id"]: r["tiers"]["bvse"]["job_uuid"] for r in found}
    except Exception:  # the first writer is still creating the store
        return {}


def descendants(proc: psutil.Process) -> set[int]:
    try:
        return {p.pid for p in proc.children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def alive(pids: set[int]) -> list[str]:
    out = []
    for pid in pids:
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{pid} {' '.join(p.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            continue
    return out


def run_and_kill(inputs: list[Path], data_dir: Path, sig: int) -> tuple[dict[str, str], int]:
    """Start screen, kill it with ``sig`` mid-batch; return the results kept and its exit code."""
    proc = subprocess.Popen(
        screen_command(inputs, data_dir),
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watched = psutil.Process(proc.pid)
    seen: set[int] = set()
    deadline = time.monotonic() + 240
    while True:
        seen |= descendants(watched)
        done = bvse_results(data_dir)
        if len(done) >= 2:
            break
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.monotonic() < deadline, "no BVSE result was recorded in time"
        time.sleep(0.2)
    seen |= descendants(watched)
    assert len(done) < len(inputs), "the whole batch finished before the kill"
    os.kill(proc.pid, sig)  # the screen process alone, as `kill` or `timeout` would
    output, _ = proc.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while alive(seen) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive(seen) == [], f"left behind after {signal.Signals(sig).name}: {alive(seen)}"
    kept = bvse_results(data_dir)
    assert set(done) <= set(kept)
    if sig == signal.SIGTERM:
        assert "interrupted (SIGTERM)" in output, output
    return kept, proc.returncode


def rerun_reuses(inputs: list[Path], data_dir: Path, kept: dict[str, str]) -> None:
    done = subprocess.run(
        screen_command(inputs, data_dir),
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    after = bvse_results(data_dir)
    for cid, uuid in kept.items():
        assert after[cid] == uuid, f"{cid} was recomputed after the kill"
    records = unique_records(data_dir)
    assert len(records) == len(inputs)
    assert {r["status"] for r in records} <= {"passed", "rejected"}
    assert all("bvse" in r["tiers"] for r in records)


def unique_records(data_dir: Path) -> list[dict]:
    """Every record of the store (read-only); fails if a candidate has two."""
    store = get_job_store(data_dir=data_dir, read_only=True)
    store.connect()
    records = list(candidate_repository(store, read_only=True).find({}))
    ids = Counter(r["candidate_id"] for r in records)
    assert set(ids.values()) <= {1}, f"duplicate records: {ids.most_common(3)}"
    return records


@pytest.fixture
def inputs(tmp_path: Path) -> list[Path]:
    return copy_examples(tmp_path / "inputs", INPUTS)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_screen_leaves_no_process_and_rerun_recomputes_nothing_finished(
    inputs: list[Path], tmp_path: Path, sig: int
) -> None:
    data_dir = tmp_path / "db"
    kept, code = run_and_kill(inputs, data_dir, sig)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 128 + signal.SIGTERM)
    rerun_reuses(inputs, data_dir, kept)
