"""Progress of a funnel run for people: one bar per stage and a live line for NEB jobs.

The funnel runs as jobflow jobs; jobflow logs ``Starting job - <name> (<uuid>)`` and
``Finished job - ...`` for each. :class:`FunnelProgress` is a logging handler on the
``jobflow`` logger that turns these into one progress bar per stage (candidates done /
entered, elapsed time, and the gate's outcome when the stage ends). The number of
candidates entering a stage is read from the job store when the job before it ends (the
ingest document, then each gate's summary).

While a CI-NEB job runs, a thread reads its run folder (``neb_state.json`` and the
last images of ``neb_images.traj``, written by the NEB runner at every optimizer step)
every few seconds and shows the candidate, the NEB stage, the step and the current
largest NEB force; before the band starts it shows that the endpoints are being relaxed.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

_JOB = re.compile(r"^(Starting|Finished) job - (.*) \(([0-9a-f-]{36})(?:, \d+)?\)$")
_STAGE = re.compile(r"^stage (\d+)$")
_GATE = re.compile(r"^gate (\d+) \(")
#: Seconds between two looks at a running NEB's folder.
POLL_S = 2.0


def stage_title(tiers: list[str]) -> str:
    """Return a short stage name: ML, BVSE, MLIP CI-NEB, DFT CI-NEB or the tiers."""
    names = {
        frozenset({"soap_clustering", "atomsets"}): "ML",
        frozenset({"bvse"}): "BVSE",
        frozenset({"neb_mlip"}): "MLIP CI-NEB",
        frozenset({"neb_dft"}): "DFT CI-NEB",
    }
    return names.get(frozenset(tiers), " + ".join(tiers))


@dataclass
class _Stage:
    index: int
    tiers: list[str]
    makers: list[Any]
    task: TaskID | None = None
    n_in: int | None = None
    units_done: int = 0
    neb_roots: list[Path] = field(default_factory=list)

    @property
    def units_total(self) -> int:
        return (self.n_in or 0) * len(self.makers)


def neb_status(hop_dir: Path, band_size: int | None = None) -> str:
    """Describe a running NEB from its folder: stage, step and the largest NEB force.

    Parameters
    ----------
    hop_dir
        The hop's run folder (``neb_state.json``, ``neb_images.traj``).
    band_size
        Images per band, endpoints included (``n_images + 2``); None: no force.
    """
    state_file = hop_dir / "neb_state.json"
    if not state_file.exists():
        return "relaxing the endpoints"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return "running"
    stage = state.get("stage", "neb")
    if stage == "done":
        return "finished"
    step = state.get(f"n_steps_{stage}", 0)
    text = f"{'climbing image' if stage == 'ci' else 'NEB'} step {step}"
    if band_size:
        force = max_neb_force(hop_dir / "neb_images.traj", band_size, climb=stage == "ci")
        if force is not None:
            text += f", max force {force:.3f} eV/A"
    return text


def max_neb_force(traj_path: Path, band_size: int, climb: bool) -> float | None:
    """Largest NEB force (eV/A) of the last band written to a NEB trajectory.

    The runner appends every band (all images, with their energies and forces) after
    each optimizer step; the NEB force is recomputed from the last one with ASE's
    improved-tangent NEB (spring 0.1 eV/A^2, the runner's default). None while the
    file is incomplete.
    """
    try:
        import numpy as np
        from ase.io import Trajectory
        from ase.mep import NEB

        with Trajectory(str(traj_path)) as traj:
            n = len(traj)
            if n < band_size:
                return None
            images = [traj[i] for i in range(n - band_size, n)]
        band = NEB(images, k=0.1, climb=climb, method="improvedtangent")
        forces = band.get_forces()
        return float(np.sqrt((forces**2).sum(axis=1)).max())
    except Exception:  # a file being written: no number this time
        return None


class FunnelProgress(logging.Handler):
    """Show the progress of a funnel run (see the module docstring).

    Parameters
    ----------
    stages
        The stages as they run (``ScreeningFunnelMaker.runnable_stages()``).
    store
        The connected job store of the run (read for the counts entering a stage).
    console
        Where to draw.
    first_stage
        Index of the first stage run (``sseflow resume`` starts later).
    n_candidates
        Candidates entering the first stage when known (resume); else read from the
        ingest job's output.
    follow_log
        Follow jobflow's log lines (``run_locally``); False when the runner reports
        its jobs through :meth:`runner_event` (:func:`sseflow.funnel.run.run_funnel`).
    """

    def __init__(
        self,
        stages: list[Any],
        store: Any,
        console: Console,
        first_stage: int = 0,
        n_candidates: int | None = None,
        follow_log: bool = True,
    ):
        super().__init__(level=logging.INFO)
        self.follow_log = follow_log
        self.store = store
        self.console = console
        self.stages = [
            _Stage(i, list(s.tiers), list(s.makers), neb_roots=_neb_roots(s.makers))
            for i, s in enumerate(stages)
        ]
        self.first_stage = first_stage
        self.pending_n = n_candidates
        self.formulas: dict[str, str] = {}
        self.current: _Stage | None = None
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=False,
        )
        self.live_tasks: list[TaskID] = []
        self.ingest_task: TaskID | None = None
        self._neb_stop = threading.Event()
        self._neb_thread: threading.Thread | None = None
        self._neb_started = 0.0
        self._neb_jobs = 0

    # --- context: attach to jobflow's logger -------------------------------------
    def __enter__(self) -> FunnelProgress:
        if self.follow_log:
            logger = logging.getLogger("jobflow")
            self._old_level = logger.level
            logger.setLevel(logging.INFO)
            logger.addHandler(self)
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_neb()
        if self.follow_log:
            logger = logging.getLogger("jobflow")
            logger.removeHandler(self)
            logger.setLevel(self._old_level)
        self.progress.stop()

    def runner_event(self, event: str, job: Any) -> None:
        """Progress callback of :func:`sseflow.funnel.run.run_funnel`: ``(event, job)``."""
        self.job_event(event, job.name, job.uuid)

    # --- events --------------------------------------------------------------------
    def emit(self, record: logging.LogRecord) -> None:
        """Follow jobflow's ``Starting job`` / ``Finished job`` log lines."""
        match = _JOB.match(record.getMessage())
        if match:
            what, name, uuid = match.groups()
            self.job_event("start" if what == "Starting" else "done", name, uuid)

    def job_event(self, event: str, name: str, uuid: str) -> None:
        """Follow one job: ``event`` is ``start``, ``done`` or ``failed``.

        Runners that report jobs themselves (a worker pool) call this directly.
        """
        try:
            if event == "start":
                self._started(name)
            else:
                self._finished(name, uuid)
        except Exception:  # progress must never break the run
            return

    def _started(self, name: str) -> None:
        stage = _STAGE.match(name)
        if name == "ingest":
            self.ingest_task = self.progress.add_task("ingest", total=None, note="reading")
        elif stage:
            self._open_stage(int(stage.group(1)))
        elif self.current is not None and self._is_neb_job(name):
            self._neb_jobs += 1
            self._start_neb()

    def _finished(self, name: str, uuid: str) -> None:
        if name == "ingest":
            output = self._output(uuid) or {}
            accepted = output.get("accepted") or {}
            if isinstance(accepted, dict):  # stored as a CandidateBatch: ids + formulas
                ids, formulas = accepted.get("candidate_ids", []), accepted.get("formulas", [])
            else:  # a list of candidates (ingest outputs stored before batches were packed)
                ids = [c.get("candidate_id") for c in accepted]
                formulas = [c.get("formula") for c in accepted]
            self.formulas = dict(zip(ids, formulas, strict=False))
            self.pending_n = len(ids)
            counts = {
                "rejected": len(output.get("rejected") or []),
                "merged": len(output.get("duplicates") or []),
            }
            n = len(ids) + sum(counts.values())
            note = f"{len(ids)} accepted" + "".join(f", {v} {k}" for k, v in counts.items() if v)
            if self.ingest_task is not None:
                self.progress.update(self.ingest_task, total=n, completed=n, note=note)
            return
        gate = _GATE.match(name)
        if gate:
            self._close_stage(int(gate.group(1)), uuid)
            return
        maker = self._maker_of(name)
        if maker is None or self.current is None:
            return
        if self._is_neb_job(name):
            self._neb_jobs = max(self._neb_jobs - 1, 0)
            if not self._neb_jobs:
                self._stop_neb()
        stage = self.current
        step = (stage.n_in or 0) if maker.batch else 1
        stage.units_done = min(stage.units_done + step, stage.units_total)
        self._draw(stage)

    # --- stages --------------------------------------------------------------------
    def _open_stage(self, index: int) -> None:
        if not 0 <= index < len(self.stages):
            return
        stage = self.stages[index]
        stage.n_in = self.pending_n
        total = stage.n_in if stage.n_in is not None else None
        title = f"{index + 1}/{len(self.stages)} {stage_title(stage.tiers)}"
        stage.task = self.progress.add_task(title, total=total, note="")
        self.current = stage

    def _close_stage(self, index: int, uuid: str) -> None:
        if not 0 <= index < len(self.stages):
            return
        stage = self.stages[index]
        summary = self._output(uuid) or {}
        counts = [
            f"{len(summary.get(k) or [])} {k}"
            for k in ("passed", "rejected", "failed", "pending")
            if summary.get(k)
        ]
        if summary.get("reused"):
            counts.append(f"{len(summary['reused'])} reused")
        stage.units_done = stage.units_total
        if stage.task is not None:
            n = stage.n_in or 0
            self.progress.update(stage.task, completed=n, total=n, note=", ".join(counts))
        self.pending_n = len(summary.get("passed") or [])
        self.current = None

    def _draw(self, stage: _Stage) -> None:
        if stage.task is None or not stage.makers:
            return
        done = stage.units_done // len(stage.makers)
        self.progress.update(stage.task, completed=done)

    def _maker_of(self, job_name: str) -> Any:
        if self.current is None:
            return None
        return next((m for m in self.current.makers if job_name.startswith(str(m.name))), None)

    def _output(self, uuid: str) -> dict[str, Any] | None:
        try:
            doc = self.store.query_one({"uuid": uuid}, properties=["output"], load=False)
        except Exception:
            return None
        output = (doc or {}).get("output")
        return output if isinstance(output, dict) else None

    # --- live line of a running NEB ----------------------------------------------------
    def _is_neb_job(self, name: str) -> bool:
        maker = self._maker_of(name)
        return maker is not None and hasattr(maker, "neb") and hasattr(maker, "job_dir")

    def _start_neb(self) -> None:
        """Start watching NEB folders (once per stage; one line per running NEB job)."""
        if self._neb_thread is not None:
            return
        self._neb_stop = threading.Event()
        self._neb_started = time.monotonic()
        self._neb_thread = threading.Thread(target=self._watch_neb, daemon=True)
        self._neb_thread.start()

    def _stop_neb(self) -> None:
        if self._neb_thread is not None:
            self._neb_stop.set()
            self._neb_thread.join(timeout=5)
            self._neb_thread = None
        for task in self.live_tasks:
            self.progress.remove_task(task)
        self.live_tasks = []

    def _watch_neb(self) -> None:
        stage = self.current
        roots = stage.neb_roots if stage else []
        sizes = [m.neb.n_images + 2 for m in (stage.makers if stage else []) if hasattr(m, "neb")]
        band_size = sizes[0] if sizes else None
        while not self._neb_stop.wait(POLL_S):
            hops = _newest_hop_dirs(roots, self._neb_started - 1.0, max(self._neb_jobs, 1))
            while len(self.live_tasks) < len(hops):
                self.live_tasks.append(self.progress.add_task("", total=None, note=""))
            for task, hop in zip(self.live_tasks, hops, strict=False):
                cid = hop.parent.name
                label = f"  {hop.parent.parent.name} {self.formulas.get(cid, '')} {cid}"
                self.progress.update(task, description=label, note=neb_status(hop, band_size))


def _neb_roots(makers: list[Any]) -> list[Path]:
    """Folders under which NEB Makers of a stage write their runs (``<work>/<tier>``)."""
    roots = []
    for maker in makers:
        job_dir = getattr(maker, "job_dir", None)
        if callable(job_dir) and hasattr(maker, "neb"):
            roots.append(Path(job_dir("x")).parent)
    return roots


def _newest_hop_dirs(roots: list[Path], since: float, n: int) -> list[Path]:
    """Return the ``n`` hop folders written to most recently after ``since`` (monotonic)."""
    wall_since = time.time() - (time.monotonic() - since)
    found: list[tuple[float, Path]] = []
    for root in roots:
        if not root.is_dir():
            continue
        for hop in root.glob("*/hop_*"):
            try:
                mtime = max(
                    [hop.stat().st_mtime]
                    + [f.stat().st_mtime for f in hop.iterdir() if f.is_file()]
                )
            except OSError:
                continue
            if mtime >= wall_since:
                found.append((mtime, hop))
    return [hop for _, hop in sorted(found, reverse=True)[:n]]
