"""Run a funnel Flow on this machine: tier jobs on a pool of worker processes.

jobflow's ``run_locally`` runs every job in one process, one after another. This runs
the same Flow with the same semantics (jobs in dependency order, ``Response`` replace,
detour, addition, ``stop_children``; a failed job's children run only when they accept
missing references) but hands the tier jobs to a :class:`concurrent.futures.
ProcessPoolExecutor` of ``workers`` processes, so independent candidates are computed
side by side. The funnel's own jobs (ingest, stage set-up, recording, gating) are short
and write candidate records: they run in this process, a record job as soon as its tier
job has finished.

What is guaranteed:

- A tier job that raises, or whose worker process dies (killed, segfault, out of
  memory), becomes a ``failed`` tier document with the cause for its candidates; the
  batch goes on. When a worker dies, the jobs that were running beside it are run
  again one at a time, so only the job that killed its process is blamed.
- A funnel job that fails (its stage already recorded its candidates ``failed``) is
  reported in :attr:`RunResult.errors`; ``sseflow screen`` exits 1 with that cause.
- SIGTERM and SIGHUP are handled like SIGINT: the workers and everything they started
  (each worker leads its own process group) are terminated, and
  :class:`FunnelInterrupted` is raised. If this process is killed outright (SIGKILL),
  each worker sees its lifeline pipe close and kills its process group (itself and
  e.g. a BVSE child). Tier results already written stay; a rerun reuses them.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import multiprocessing as mp
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, JobStore, OnMissing, Response
from jobflow.core.job import store_inputs
from monty.json import MontyDecoder, jsanitize

from sseflow.funnel.jobs import (
    BATCH_KEY,
    CANDIDATES_KEY,
    TIER_KEY,
    failed_tier_document,
    gate_stage,
    ingest_inputs,
    record_tier,
    run_stage,
)

logger = logging.getLogger(__name__)

#: Jobs that run in this process: they are short and write the candidate records.
MAIN_PROCESS_JOBS = frozenset(
    # jobflow's @job sets ``original`` on the wrapper but types it Callable[..., Job]
    f.original  # type: ignore[attr-defined]
    for f in (ingest_inputs, run_stage, gate_stage, record_tier, store_inputs)
)
#: Signals handled like Ctrl-C.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Environment variables that cap the threads of numerical libraries in each worker.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

#: Progress callback: ``(event, job)`` with event "start", "done" or "failed".
Progress = Callable[[str, Job], None]


class FunnelInterrupted(BaseException):
    """The run was stopped by a signal (SIGINT, SIGTERM, SIGHUP); ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


@dataclass
class JobFailure:
    """A job that failed: its name and why."""

    name: str
    reason: str
    candidates: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    """What a local run did.

    Attributes
    ----------
    responses
        ``{uuid: {index: Response}}`` as jobflow's ``run_locally`` returns (responses of
        jobs run in a worker carry no output: it is in the store).
    errors
        Funnel jobs (or other non-tier jobs) that failed: the run did not finish.
    tier_failures
        Tier jobs that raised or whose process died; their candidates are recorded
        ``failed`` with the reason (results, not errors).
    workers
        Worker processes used (0: everything ran in this process).
    """

    responses: dict[str, dict[int, Response]] = field(default_factory=dict)
    errors: list[JobFailure] = field(default_factory=list)
    tier_failures: list[JobFailure] = field(default_factory=list)
    workers: int = 0

    @property
    def ok(self) -> bool:
        """True when every funnel job ran."""
        return not self.errors

    @property
    def error_message(self) -> str:
        """The failed funnel jobs and their reasons in one line ("" when none failed)."""
        return "; ".join(f"{e.name}: {e.reason}" for e in self.errors)


def default_workers() -> int:
    """Return the number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_funnel(
    flow: Flow | Job,
    store: JobStore,
    workers: int | None = None,
    progress: Progress | None = None,
    quiet: bool = False,
) -> RunResult:
    """Run a funnel Flow here, tier jobs on ``workers`` processes.

    Parameters
    ----------
    flow
        The funnel Flow (``ScreeningFunnelMaker().make(...)``) or any jobflow Flow/Job.
    store
        The JobStore; worker processes open their own connection to the same store
        (from ``store.as_dict()``), so it must be on disk or a server.
    workers
        Worker processes for tier jobs; default: the cores this process may use. 0 runs
        everything in this process (no isolation: a tier that kills its process kills
        the run).
    progress
        Called with ("start" | "done" | "failed", job) as jobs run.
    quiet
        Hide third-party noise in the worker processes too (the caller hides it in
        this process with :func:`sseflow.noise.quiet_third_party`).

    Returns
    -------
    RunResult

    Raises
    ------
    FunnelInterrupted
        On SIGINT, SIGTERM or SIGHUP, after the workers and their children are gone.
    """
    workers = default_workers() if workers is None else workers
    if workers < 0:
        raise ValueError(f"workers must be >= 0, not {workers}")
    if workers and _in_memory(store):
        raise ValueError(
            "worker processes cannot share an in-memory store: use a store on disk "
            "(sseflow.store.get_job_store) or a server, or workers=0"
        )
    from jobflow.core.flow import get_flow

    store.connect()
    runner = _Runner(store, workers, progress, quiet)
    with _signals_raise(), runner:
        runner.run_flow(get_flow(flow))
    return runner.result


def _in_memory(store: JobStore) -> bool:
    """Return True when a part of the store lives in this process's memory only."""
    from maggma.stores import MemoryStore, MontyStore

    # jobflow's JobStore.__init__ leaves additional_stores unannotated (has-type)
    parts = [store.docs_store, *store.additional_stores.values()]  # type: ignore[has-type]
    return any(isinstance(p, MemoryStore) and not isinstance(p, MontyStore) for p in parts)


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGINT/SIGTERM/SIGHUP into :class:`FunnelInterrupted` in this (main) thread."""

    def handler(signum: int, frame: Any) -> None:
        raise FunnelInterrupted(signum)

    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


# --- worker processes -------------------------------------------------------------

_WORKER_QUIET: Any = None
_WORKER_STORE: JobStore | None = None


_LIFELINE: tuple[Any, Any] | None = None


def _lifeline() -> Any:
    """Return the read end of a pipe whose write end only this process holds.

    Workers block on it in a thread: when this process ends, however it ends (even
    SIGKILL), the read fails at once and the worker kills its process group. (A
    parent-death signal would not do: workers are children of multiprocessing's fork
    server, which stays alive as long as they do.)
    """
    global _LIFELINE
    if _LIFELINE is None:
        _LIFELINE = mp.Pipe(duplex=False)
    return _LIFELINE[0]


def _watch_parent(lifeline: Any) -> None:
    """Worker thread: wait for the parent to end, then end this worker's process group."""
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os.killpg(0, signal.SIGKILL)


def _terminate_group(signum: int, frame: Any) -> None:
    """SIGTERM in a worker: kill its whole process group (itself and its children)."""
    os.killpg(0, signal.SIGKILL)


def _init_worker(store_dict: dict[str, Any], lifeline: Any, quiet: bool = False) -> None:
    """Worker start: own process group, die with the parent, open the store.

    With ``quiet`` the worker hides third-party noise for its whole life
    (:func:`sseflow.noise.quiet_third_party`), as the parent does around the run.
    """
    import threading

    global _WORKER_STORE, _WORKER_QUIET
    os.setpgrp()  # Ctrl-C in the terminal reaches the parent only; it stops us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _terminate_group)
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True).start()
    logging.getLogger("jobflow").setLevel(logging.WARNING)
    if quiet:
        from sseflow.noise import quiet_third_party

        _WORKER_QUIET = quiet_third_party()
        _WORKER_QUIET.__enter__()  # left when the worker process ends
    _WORKER_STORE = MontyDecoder().process_decoded(store_dict)
    _WORKER_STORE.connect()


def _run_in_worker(job_dict: dict[str, Any]) -> dict[str, Any]:
    """Run one job in a worker; return its response (without output) as plain data."""
    job = MontyDecoder().process_decoded(job_dict)
    try:
        response = job.run(store=_WORKER_STORE)
    except Exception as exc:
        return {"error": _describe(exc)}
    return {
        "response": {
            name: jsanitize(getattr(response, name), strict=True, enum_values=True)
            for name in ("replace", "detour", "addition")
        }
        | {"stop_children": response.stop_children, "stop_jobflow": response.stop_jobflow}
    }


def _describe(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _slim_response(data: dict[str, Any]) -> Response:
    decoded = MontyDecoder().process_decoded(data)
    return Response(
        replace=decoded.get("replace"),
        detour=decoded.get("detour"),
        addition=decoded.get("addition"),
        stop_children=bool(decoded.get("stop_children")),
        stop_jobflow=bool(decoded.get("stop_jobflow")),
    )


@contextlib.contextmanager
def _thread_limits(workers: int) -> Iterator[None]:
    """Give spawned workers a share of the cores each (unless the user set it)."""
    share = str(max(1, default_workers() // max(1, workers)))
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, share)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _context() -> Any:
    """Return multiprocessing's fork server context, sseflow's modules imported once.

    Workers are forked from a clean server process (no threads, no open database
    connection: safer than forking this process) that imported the funnel once, so a
    new worker starts in a fraction of a second instead of importing everything again.
    """
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(["sseflow.funnel.run"])
    return context


class _Pool:
    """A ProcessPoolExecutor whose workers can be killed with all their children."""

    def __init__(self, size: int, store_dict: dict[str, Any], quiet: bool = False):
        self.size = size
        self.processes: dict[int, Any] = {}  # every worker ever started, by pid
        with _thread_limits(size):
            self.executor = cf.ProcessPoolExecutor(
                max_workers=size,
                mp_context=_context(),
                initializer=_init_worker,
                initargs=(store_dict, _lifeline(), quiet),
            )

    def submit(self, job: Job) -> cf.Future:
        with _thread_limits(self.size):  # workers are spawned on demand
            future = self.executor.submit(_run_in_worker, job.as_dict())
        self.processes.update(getattr(self.executor, "_processes", None) or {})
        return future

    def exit_codes(self) -> list[int]:
        """Exit codes of the workers that ended abnormally (negative: killed by a signal).

        A broken pool's manager thread joins the dead workers itself; reading an exit
        code while it does is a race in multiprocessing (two threads read the same
        forkserver status pipe; the loser records 255). So wait for that thread first.
        """
        manager = getattr(self.executor, "_executor_manager_thread", None)
        if manager is not None and manager.is_alive():
            manager.join(timeout=30.0)
        return [p.exitcode for p in self.processes.values() if p.exitcode not in (None, 0)]

    def kill(self) -> None:
        """Terminate every worker and its process group; do not wait for jobs."""
        processes = list(self.processes.values())
        for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 30.0)):
            for p in processes:
                if p.pid is not None and p.exitcode is None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(p.pid, sig)  # the worker leads its own group
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(p.pid, sig)  # in case it had not made its group yet
            for p in processes:
                p.join(timeout=wait_s)
        self.executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


# --- the runner ---------------------------------------------------------------------


@dataclass
class _Task:
    job: Job
    parents: list[str]
    isolated: bool = False  # running alone after a worker died beside it


class _Runner:
    def __init__(
        self, store: JobStore, workers: int, progress: Progress | None, quiet: bool = False
    ):
        self.store = store
        self.quiet = quiet
        self.workers = workers
        self.progress = progress
        self.result = RunResult(workers=workers)
        self.finished: set[str] = set()
        self.stopped: set[str] = set()
        self.errored: set[str] = set()
        self.stop_jobflow = False
        self._store_dict = store.as_dict() if workers else {}
        self._pool: _Pool | None = None
        self._isolation: _Pool | None = None

    def __enter__(self) -> _Runner:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        pools = [p for p in (self._pool, self._isolation) if p is not None]
        for pool in pools:
            if exc is None:
                pool.close()
            else:  # interrupted or crashed: take the workers and their children down
                pool.kill()

    # pools are created on first use (a run with no tier job spawns nothing)
    def _shared(self) -> _Pool:
        if self._pool is None:
            self._pool = _Pool(self.workers, self._store_dict, self.quiet)
        return self._pool

    def _alone(self) -> _Pool:
        if self._isolation is None:
            self._isolation = _Pool(1, self._store_dict, self.quiet)
        return self._isolation

    def _notify(self, event: str, job: Job) -> None:
        if self.progress is not None:
            with contextlib.suppress(Exception):
                self.progress(event, job)

    @staticmethod
    def _in_main(job: Job) -> bool:
        return getattr(job.function, "original", job.function) in MAIN_PROCESS_JOBS

    # --- flow traversal (as jobflow's run_locally, with jobs in flight) ---

    def run_flow(self, flow: Flow) -> bool:
        pending = [_Task(job, list(parents)) for job, parents in flow.iterflow()]
        running: dict[cf.Future, _Task] = {}
        isolated: dict[cf.Future, _Task] = {}
        suspects: list[_Task] = []
        ok = True
        while True:
            if self.stop_jobflow:
                return False
            task = self._next_ready(pending, prefer_main=True)
            if task is not None:  # the funnel's own jobs first: records are written at once
                pending.remove(task)
                ok = self._run_here(task) and ok
                continue
            while len(running) < self.workers:
                task = self._next_ready(pending, prefer_main=False)
                if task is None:
                    break
                pending.remove(task)
                if not self._skip(task):
                    self._notify("start", task.job)
                    running[self._shared().submit(task.job)] = task
            if suspects and not isolated:
                task = suspects.pop(0)
                task.isolated = True
                isolated[self._alone().submit(task.job)] = task
            if running or isolated:
                ok = self._harvest(running, isolated, suspects) and ok
                continue
            if not pending:
                return ok
            # nothing runs and nothing is ready: its parents are not in this run
            stuck = pending.pop(0)
            self.errored.add(stuck.job.uuid)
            self.finished.add(stuck.job.uuid)
            self.result.errors.append(JobFailure(stuck.job.name, "its parent jobs never ran"))
            ok = False

    def _harvest(
        self,
        running: dict[cf.Future, _Task],
        isolated: dict[cf.Future, _Task],
        suspects: list[_Task],
    ) -> bool:
        """Wait for a job in flight to end and handle what ended."""
        ok = True
        done, _ = cf.wait([*running, *isolated], return_when=cf.FIRST_COMPLETED)
        for future in done:
            if future in running:
                task = running.pop(future)
                outcome = self._outcome(future, self._pool, suspects, task)
            else:
                task = isolated.pop(future)
                outcome = self._outcome(future, self._isolation, None, task)
            if outcome is not None:
                ok = self._finish(task, *outcome) and ok
        # a broken pool fails every job in flight: they become suspects and run alone
        if self._pool is not None and self._pool_broken(self._pool):
            for future, task in list(running.items()):
                running.pop(future)
                suspects.append(task)
            self._pool.kill()
            self._pool = None
        if self._isolation is not None and self._pool_broken(self._isolation):
            self._isolation.kill()
            self._isolation = None
        return ok

    @staticmethod
    def _pool_broken(pool: _Pool) -> bool:
        return bool(getattr(pool.executor, "_broken", False))

    def _next_ready(self, pending: list[_Task], prefer_main: bool) -> _Task | None:
        """Return the first job whose parents have finished (main-process or pool ones)."""
        for task in pending:
            if all(p in self.finished for p in task.parents):
                here = self._in_main(task.job) or not self.workers
                if here == prefer_main:
                    return task
        return None

    def _skip(self, task: _Task) -> bool:
        """Apply run_locally's rules for children of stopped or failed jobs."""
        job = task.job
        if set(task.parents) & self.stopped:
            self.stopped.add(job.uuid)
            self.finished.add(job.uuid)
            return True
        if set(task.parents) & self.errored and (
            job.config.on_missing_references == OnMissing.ERROR
        ):
            self.errored.add(job.uuid)
            self.finished.add(job.uuid)
            return True
        return False

    def _run_here(self, task: _Task) -> bool:
        if self._skip(task):
            return True
        job = task.job
        self._notify("start", job)
        try:
            response = job.run(store=self.store)
        except Exception as exc:
            return self._finish(task, None, _describe(exc))
        finally:
            from jobflow import CURRENT_JOB

            CURRENT_JOB.reset()
        return self._finish(task, response, None)

    def _outcome(
        self, future: cf.Future, pool: _Pool | None, suspects: list[_Task] | None, task: _Task
    ) -> tuple[Response | None, str | None] | None:
        """Return (response, error) of a finished future; None when it must run again."""
        try:
            data = future.result()
        except cf.process.BrokenProcessPool:
            if suspects is not None:  # a worker died beside it: run it again, alone
                suspects.append(task)
                return None
            codes = pool.exit_codes() if pool is not None else []
            return None, _death_reason(codes)
        except Exception as exc:  # e.g. the job could not be sent to the worker
            return None, _describe(exc)
        if "error" in data:
            return None, data["error"]
        return _slim_response(data["response"]), None

    def _finish(self, task: _Task, response: Response | None, error: str | None) -> bool:
        job = task.job
        self.finished.add(job.uuid)
        if error is not None:
            return self._failed(job, error)
        assert response is not None
        self.result.responses.setdefault(job.uuid, {})[job.index] = response
        self._notify("done", job)
        if response.stop_children:
            self.stopped.add(job.uuid)
        if response.stop_jobflow:
            self.stop_jobflow = True
            return False
        ok = True
        # the job counts as finished only after what replaces it has run
        for diversion in (response.replace, response.detour, response.addition):
            if diversion is not None:
                from jobflow.core.flow import get_flow

                # get_flow runs Flow(jobs=...), which takes a list of Flows too, but is
                # typed Flow | Job | list[Job]; Job.run already made ``replace`` a Flow
                ok = self.run_flow(get_flow(diversion)) and ok  # type: ignore[arg-type]
        return ok

    def _failed(self, job: Job, error: str) -> bool:
        self._notify("failed", job)
        tier = job.metadata.get(TIER_KEY)
        candidates = list(job.metadata.get(CANDIDATES_KEY) or [])
        failure = JobFailure(job.name, error, candidates)
        if tier is None:  # a funnel job (its stage recorded the cause) or a foreign job
            self.errored.add(job.uuid)
            self.result.errors.append(failure)
            return False
        # a tier job: its candidates fail with the cause; record and gate go on
        self.result.tier_failures.append(failure)
        reason = f"tier job failed: {error}"
        docs = [failed_tier_document(tier, cid, reason) for cid in candidates]
        output: Any = docs if job.metadata.get(BATCH_KEY) or len(docs) != 1 else docs[0]
        try:
            self.store.update(
                {
                    "uuid": job.uuid,
                    "index": job.index,
                    "output": output,
                    "completed_at": _now(),
                    "metadata": job.metadata,
                    "hosts": job.hosts,
                    "name": job.name,
                },
                key=["uuid", "index"],
            )
        except Exception as exc:  # without it the record job says "no result": still fine
            logger.warning("could not store the failure of %s: %s", job.name, exc)
            self.errored.add(job.uuid)
        return True


def _death_reason(codes: list[int]) -> str:
    if not codes:
        return "the worker process running it died"
    code = codes[0]
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"the worker process running it was killed by {signal.Signals(-code).name}"
    return f"the worker process running it exited with code {code}"


def _now() -> str:
    from datetime import datetime

    return datetime.now().isoformat()


# --- a screening run: the funnel on inputs, its outcome as the store holds it -------

EXIT_OK = 0
EXIT_ERROR = 1


@dataclass
class ScreenOutcome:
    """A finished ``sseflow screen`` run, counted from the store.

    Attributes
    ----------
    result
        What the runner did.
    ingest
        The ingest job's decisions (None when ingest itself failed).
    records
        The candidate records this run touched, one per candidate id, in input order.
    counts
        Overall status -> number of those records (what the store holds now).
    n_inputs
        Inputs read (CIF data blocks, JSON items, structures).
    n_merged
        Inputs merged into another input's or a stored candidate's record.
    exit_code
        0 done; 1 a funnel job failed or no input yielded a structure.
    message
        Why the exit code is not 0.
    """

    result: RunResult
    ingest: Any = None
    records: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    n_inputs: int = 0
    n_merged: int = 0
    exit_code: int = EXIT_OK
    message: str | None = None


def screen_inputs(
    funnel: Any,
    inputs: list[Any],
    store: JobStore,
    workers: int | None = None,
    progress: Progress | None = None,
    quiet: bool = False,
) -> ScreenOutcome:
    """Run ``funnel`` on ``inputs`` here and count the outcome from the store.

    Parameters
    ----------
    funnel
        A :class:`~sseflow.funnel.maker.ScreeningFunnelMaker`.
    inputs
        Files, folders or Structures.
    store
        The JobStore.
    workers
        Worker processes (see :func:`run_funnel`).
    progress
        Progress callback (see :func:`run_funnel`).
    quiet
        Hide third-party noise in worker processes (see :func:`run_funnel`).

    Raises
    ------
    FunnelInterrupted
        On SIGINT, SIGTERM or SIGHUP (exit status ``128 + signum`` by convention).
    """
    from sseflow.store import candidate_repository

    flow = funnel.make(list(inputs))
    result = run_funnel(flow, store, workers=workers, progress=progress, quiet=quiet)
    outcome = ScreenOutcome(result=result)
    responses = result.responses.get(flow.jobs[0].uuid)
    if responses:
        outcome.ingest = next(iter(responses.values())).output
    if result.errors:
        outcome.exit_code = EXIT_ERROR
        outcome.message = result.error_message
    if outcome.ingest is None:
        outcome.exit_code = EXIT_ERROR
        outcome.message = outcome.message or "ingest did not run"
        return outcome
    doc = outcome.ingest
    outcome.n_inputs = len(doc.accepted) + len(doc.rejected) + len(doc.duplicates)
    outcome.n_merged = len(doc.duplicates)
    ids = doc.accepted_ids + [r.candidate_id for r in doc.rejected]
    ids += [d.candidate_id for d in doc.duplicates]
    repo = candidate_repository(store)
    found = repo.get_many(ids, projection={"structure": 0})
    outcome.records = [found[cid] for cid in dict.fromkeys(ids) if cid in found]
    for record in outcome.records:
        status = str(record.get("status") or "unknown")
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
    # an input yields a structure unless it was unreadable (rejections with no formula)
    yielded = doc.accepted or doc.duplicates or any(r.formula for r in doc.rejected)
    if not yielded and outcome.exit_code == EXIT_OK:
        outcome.exit_code = EXIT_ERROR
        outcome.message = (
            f"none of the {outcome.n_inputs} input(s) yielded a structure "
            "(each is recorded as rejected with its reason)"
        )
    return outcome


__all__ = [
    "FunnelInterrupted",
    "JobFailure",
    "RunResult",
    "ScreenOutcome",
    "default_workers",
    "run_funnel",
    "screen_inputs",
]

if sys.platform != "linux":  # pragma: no cover - the parent-death signal is Linux only
    logger.debug("sseflow.funnel.run: workers do not follow a killed parent on %s", sys.platform)
