"""The BVSE calculation process dies with its parent and never blocks on its pipe.

Each test starts a parent Python process that runs a calculation through
:func:`sseflow.bvse.isolation.run_isolated`, waits until the calculation process exists,
kills the parent and checks that no calculation process is left a few seconds later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from sseflow.bvse.isolation import run_isolated
from sseflow.bvse.settings import BVSEError

SRC = Path(__file__).resolve().parents[2] / "src"

REAL_BVSE = """
from pymatgen.core import Lattice, Structure
from sseflow.bvse.engine import bvse_barriers
from sseflow.bvse.framework import prepare_bvse_framework
from sseflow.bvse.settings import BVSESettings
from sseflow.ingest.oxidation import decorate_with_oxidation_states

li2s = Structure.from_spacegroup(
    "Fm-3m", Lattice.cubic(5.71), ["Li", "S"], [[0.25, 0.25, 0.25], [0, 0, 0]]
) * (3, 3, 3)
framework = prepare_bvse_framework(decorate_with_oxidation_states(li2s, {"Li": 1, "S": -2}))
print("start", flush=True)
bvse_barriers(framework, BVSESettings(resolution_angstrom=0.1))
"""

SPIN = """
import time
import sseflow.bvse.isolation as isolation
{patch}
def spin():
    end = time.monotonic() + {seconds}
    while time.monotonic() < end:
        pass
    return b"x" * 50_000_000  # far more than a pipe buffer holds

print("start", flush=True)
isolation.run_isolated(spin, (), time_limit_s=600, memory_limit_gb=8)
"""

NO_PRCTL = """
class _NoLibc:
    def __init__(self, *args, **kwargs):
        raise OSError("no prctl here")
isolation.ctypes.CDLL = _NoLibc
"""

NO_WATCHDOG = NO_PRCTL + "isolation._WATCHDOG_PERIOD_S = 3600.0\n"


def _start_parent(script: str) -> tuple[subprocess.Popen, psutil.Process]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    parent = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None and parent.stdout.readline().strip() == "start"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = psutil.Process(parent.pid).children()
        if children:
            return parent, children[0]
        time.sleep(0.05)
    parent.kill()
    raise AssertionError("the calculation process never started")


def _gone_within(process: psutil.Process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                return True  # dead; its new parent reaps it
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _kill_and_check(script: str, sig: int, seconds: float = 5.0) -> None:
    parent, child = _start_parent(script)
    try:
        time.sleep(0.3)  # let the calculation get going
        assert child.is_running()
        os.kill(parent.pid, sig)
        parent.wait(10)
        assert _gone_within(child, seconds), f"calculation process {child.pid} outlived its parent"
    finally:
        if child.is_running():
            child.kill()
        if parent.poll() is None:
            parent.kill()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_bvse_process_dies_with_its_parent(sig):
    _kill_and_check(REAL_BVSE, sig)


def test_watchdog_ends_the_child_without_a_parent_death_signal():
    _kill_and_check(SPIN.format(patch=NO_PRCTL, seconds=600), signal.SIGKILL)


def test_child_never_blocks_on_its_result_pipe():
    # neither the parent-death signal nor the watchdog: the child finishes, writes a
    # result larger than the pipe holds to a reader that is gone, and must not hang
    _kill_and_check(SPIN.format(patch=NO_WATCHDOG, seconds=1.0), signal.SIGKILL, seconds=8.0)


def test_result_and_errors_come_back():
    value, peak_mb = run_isolated(np.arange, (5,), time_limit_s=60, memory_limit_gb=8)
    assert value.tolist() == [0, 1, 2, 3, 4] and peak_mb > 0
    with pytest.raises(BVSEError, match="ValueError"):
        run_isolated(int, ("not a number",), time_limit_s=60, memory_limit_gb=8)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def test_child_that_dies_is_reported():
    with pytest.raises(BVSEError, match="killed by signal 9"):
        run_isolated(_die, (), time_limit_s=60, memory_limit_gb=8)
