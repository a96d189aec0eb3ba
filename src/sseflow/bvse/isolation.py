"""Run one calculation in a child process that cannot outlive its parent.

The BVSE calculation runs in a forked child so a pathological structure is stopped
(wall-time limit, resident-memory watch) and recorded as failed without harming the
batch. The child must also never outlive the process that started it - ``sseflow
screen`` killed by SIGKILL or SIGTERM (``timeout``, SLURM, the OOM killer) - and never
block on its result pipe. Three independent mechanisms ensure that:

1. **Parent-death signal** (Linux): the child asks the kernel for SIGKILL when the
   thread that forked it exits (``prctl(PR_SET_PDEATHSIG, SIGKILL)``), then checks that
   its parent did not die before the request took effect.
2. **Watchdog thread**: every 0.2 s the child checks that its parent is still the
   process that started it (on other systems, or if ``prctl`` is unavailable) and
   ends itself with ``os._exit`` otherwise; that works even while the main thread is
   blocked in a write.
3. **No pipe the child can block on forever**: the child closes its inherited copy of
   the read end, so with the parent gone a write fails at once (broken pipe) instead of
   waiting for a reader that can never come; the parent keeps reading while it waits.

SIGINT (Ctrl-C reaches the whole foreground process group) is ignored in the child:
the parent handles it and kills the child on its way out, as on any exception.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, Pipe
from typing import Any

import psutil

from sseflow.bvse.settings import BVSEError

_PR_SET_PDEATHSIG = 1
_WATCHDOG_PERIOD_S = 0.2


def _die_with_parent(parent_pid: int) -> None:
    """Make this (child) process end when ``parent_pid`` goes away."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the watchdog alone does it
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(_WATCHDOG_PERIOD_S)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _child_main(
    parent_pid: int, reader: Connection, writer: Connection, target: Callable[..., Any], args: tuple
) -> None:
    """Body of the forked child: never returns (ends with ``os._exit``)."""
    code = 0
    try:
        _die_with_parent(parent_pid)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # whatever the parent installed
        reader.close()  # a write with no reader left fails instead of blocking
        try:
            result = ("ok", target(*args))
        except MemoryError:
            result = ("error", "out of memory")
        except BVSEError as exc:
            result = ("error", str(exc))
        except Exception as exc:
            result = ("error", f"{type(exc).__name__}: {exc}")
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        writer.send((*result, peak_mb))
        writer.close()
    except BaseException:  # broken pipe (parent gone), or anything else: just leave
        code = 1
    finally:
        os._exit(code)  # no atexit handlers or buffers of the parent run here


def _wait(pid: int, reader: Connection, time_limit_s: float, memory_limit_gb: float) -> None:
    """Wait for the child's answer; raise if it runs too long or uses too much memory.

    Memory is watched as the child's resident set size (an address-space rlimit makes
    BLAS/KD-tree worker threads fail to start and the child hang instead of failing).
    """
    start = time.monotonic()
    limit_bytes = memory_limit_gb * 1e9
    watched = psutil.Process(pid)
    while not reader.poll(0.05):
        if time.monotonic() - start > time_limit_s:
            raise BVSEError(f"time limit of {time_limit_s:.0f} s exceeded")
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:  # also a zombie: it ended; recv() tells how
            return
        if rss > limit_bytes:
            raise BVSEError(
                f"memory limit exceeded: {rss / 1e9:.2f} GB resident > "
                f"memory_limit_gb={memory_limit_gb}"
            )


def run_isolated(
    target: Callable[..., Any],
    args: tuple,
    time_limit_s: float,
    memory_limit_gb: float,
) -> tuple[Any, float]:
    """Run ``target(*args)`` in a forked child under a time limit and a memory watch.

    The child is made with ``os.fork`` (not ``multiprocessing.Process``), so it works
    from daemonic pool workers too.

    Parameters
    ----------
    target
        Function to run; its return value must be picklable.
    args
        Its positional arguments.
    time_limit_s
        Wall-time limit, s; the child is killed beyond it.
    memory_limit_gb
        Largest resident memory of the child, GB; it is killed beyond it.

    Returns
    -------
    tuple
        ``(target's return value, peak resident memory of the child in MB)``.

    Raises
    ------
    BVSEError
        On time-out, memory exhaustion, death of the child, or any exception in
        ``target`` (its message).
    """
    reader, writer = Pipe(duplex=False)
    parent_pid = os.getpid()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; coverage cannot follow it
        _child_main(parent_pid, reader, writer, target, args)
    writer.close()
    try:
        _wait(pid, reader, time_limit_s, memory_limit_gb)
        status, value, peak_mb = reader.recv()
    except EOFError as exc:
        raise BVSEError(
            f"BVSE process died ({_exit_reason(pid)}) after "
            f"{time.monotonic() - start:.0f} s; likely memory exhaustion"
        ) from exc
    finally:
        _end(pid)
        reader.close()
    if status != "ok":
        raise BVSEError(value)
    return value, peak_mb


def _exit_reason(pid: int) -> str:
    """Describe how the child ended (waits up to 1 s for it)."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return "exit status unknown"
        if done:
            if os.WIFSIGNALED(status):
                return f"killed by signal {os.WTERMSIG(status)}"
            return f"exit code {os.WEXITSTATUS(status)}"
        time.sleep(0.02)
    return "still running"


def _end(pid: int) -> None:
    """Kill the child if it still runs and reap it, so no zombie is left."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
