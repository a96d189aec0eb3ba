"""Run a two-stage (NEB, then climbing-image) nudged elastic band with any ASE calculator.

Why not atomate2's ``AseNebInterface.run_neb``: it deep-copies one calculator into every
image (QE images would share a directory), runs a single stage (no NEB -> CI restart),
recomputes the endpoints, keeps the trajectory only in memory (a killed job restarts from
scratch) and has no walltime limit. This runner keeps the same ASE objects
(``ase.mep.NEB``, ASE optimizers) and emmet's ``BarrierAnalysis`` but adds:

- one calculator per image from a factory (own directory for file-based codes);
- fixed-cell endpoint relaxation with results cached on disk;
- every optimizer step appended to ``neb_images.traj`` in the work directory, with the
  stage and step count in ``neb_state.json``; a re-run resumes from the last images;
- a run identity (the calculator's identity, the numerical settings but the walltime,
  the endpoints' formula and size) kept in ``neb_state.json``: a directory holding a run
  of another identity is never resumed - its files are moved to
  ``superseded/<identity>`` and the run starts afresh, so two potentials (or two sets of
  settings) never mix endpoints, images or energies;
- a walltime budget: the run stops cleanly before the next step would exceed it;
- a check before the climbing-image stage: a band with an interior image well below
  both endpoints (an intermediate minimum) stops with that reason instead of running a
  climbing image that cannot converge;
- calculator crashes re-raised as :class:`NEBCalculatorError` naming stage and step.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator, Calculator
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import Trajectory, read
from ase.mep import NEB
from ase.optimize import BFGS, FIRE, LBFGS, MDMin
from emmet.core.neb import BarrierAnalysis
from monty.json import MSONable, jsanitize
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.provenance import plain_settings, settings_hash

#: Returns a fresh calculator for the given label (a sub-directory name for file codes).
CalculatorFactory = Callable[[str], Calculator]

_OPTIMIZERS = {"FIRE": FIRE, "BFGS": BFGS, "LBFGS": LBFGS, "MDMin": MDMin}
_STATE_FILE = "neb_state.json"
_TRAJ_FILE = "neb_images.traj"
_ENDPOINTS_FILE = "endpoints_relaxed.traj"
_SUPERSEDED_DIR = "superseded"
#: Calculator directories the runner names (moved aside with a superseded run).
_CALCULATOR_LABEL = re.compile(r"^(endpoint_initial|endpoint_final|image_\d+)$")
#: Settings that bound a run's cost, not its result: a re-run may change them and resume.
BUDGET_SETTINGS = ("walltime_s",)
#: Start of the termination of a band stopped by :func:`intermediate_minimum`.
INTERMEDIATE_MINIMUM = "intermediate minimum"


class NEBCalculatorError(RuntimeError):
    """The calculator crashed during a NEB stage."""


@dataclass
class NEBRunSettings(MSONable):
    """Numerical settings of a NEB run (forces in eV/A, times in s)."""

    n_images: int = 5
    fmax_ev_per_angstrom: float = 0.05
    endpoint_fmax_ev_per_angstrom: float = 3e-4
    relax_endpoints: bool = True
    climb: bool = True
    spring_constant_ev_per_angstrom2: float = 0.1
    neb_method: str = "improvedtangent"
    optimizer: str = "FIRE"
    max_steps_relax: int = 1000
    max_steps_neb: int = 200
    max_steps_ci: int = 200
    walltime_s: float | None = None
    intermediate_minimum_tolerance_ev: float | None = 0.05


@dataclass
class NEBRunResult:
    """Outcome of a NEB run; energies in eV, forces in eV/A."""

    images: list[Structure]
    energies_ev: list[float]
    converged: bool
    termination: str
    climbing_image_index: int | None
    max_force_ev_per_angstrom: float
    n_steps_neb: int
    n_steps_ci: int
    endpoint_energies_ev: list[float]
    endpoint_relax_steps: list[int]
    endpoints_converged: bool
    resumed: bool
    barrier_forward_ev: float
    barrier_reverse_ev: float
    barrier_analysis: dict[str, Any] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    run_identity_hash: str | None = None
    superseded_dir: str | None = None


def _calculator_hint(calculator: Any) -> str:
    """Return QE's own error message (the ``%%%%`` block of the output) if there is one."""
    directory = getattr(calculator, "directory", None)
    if directory is None:
        return ""
    output = Path(directory) / "espresso.pwo"
    if not output.exists():
        return f" (no output in {directory})"
    lines = output.read_text(errors="replace").splitlines()
    marks = [i for i, line in enumerate(lines) if line.strip().startswith("%%%%")]
    if len(marks) >= 2:
        message = " ".join(x.strip() for x in lines[marks[0] + 1 : marks[1]] if x.strip())
        return f"; pw.x says: {message} (see {output})"
    return f" (see {output})"


def _call(stage: str, step: int, func: Callable[[], Any]) -> Any:
    try:
        return func()
    except Exception as exc:
        raise NEBCalculatorError(
            f"calculator failed during {stage} (step {step}): {type(exc).__name__}: {exc}"
        ) from exc


def _freeze(atoms: Atoms) -> Atoms:
    """Return a copy carrying its energy and forces as a single-point result."""
    frozen = atoms.copy()
    frozen.calc = SinglePointCalculator(
        frozen,
        energy=float(atoms.get_potential_energy()),
        forces=np.array(atoms.get_forces()),
    )
    return frozen


def relax_fixed_cell(
    atoms: Atoms,
    calculator: BaseCalculator,  # Calculator or a file-I/O one (Espresso)
    fmax_ev_per_angstrom: float,
    max_steps: int,
    optimizer: str = "BFGS",
    deadline: float | None = None,
    label: str = "relax",
) -> tuple[Atoms, bool, int]:
    """Relax positions at fixed cell; return (relaxed copy with results, converged, steps)."""
    work = atoms.copy()
    work.calc = calculator
    opt = _OPTIMIZERS[optimizer](work, logfile=None)
    steps = 0
    iterator = opt.irun(fmax=fmax_ev_per_angstrom, steps=max_steps)
    while True:
        try:
            converged = next(iterator)
        except StopIteration:
            break
        except Exception as exc:
            raise NEBCalculatorError(
                f"calculator failed during {label} (step {steps}): "
                f"{type(exc).__name__}: {exc}{_calculator_hint(calculator)}"
            ) from exc
        if converged or (deadline is not None and time.monotonic() > deadline):
            break
        steps += 1
    _call(label, steps, work.get_forces)
    forces = work.get_forces()
    converged = bool(np.abs(np.linalg.norm(forces, axis=1)).max() < fmax_ev_per_angstrom)
    return _freeze(work), converged, steps


def intermediate_minimum(energies_ev: list[float], tolerance_ev: float) -> str | None:
    """Describe an interior image lying more than ``tolerance_ev`` below both endpoints.

    Such a band does not describe one hop between two minima: the path passes a more
    stable configuration (an interstitial site, or a relaxation the endpoints did not
    find), the barrier measured from the initial endpoint is meaningless and a climbing
    image started from it drifts (the Li3N c-axis hop in ``docs/neb.md``).

    Returns
    -------
    str or None
        The reason, or None when every interior image lies above ``min(endpoints) -
        tolerance_ev``.
    """
    energies = np.asarray(energies_ev, dtype=float)
    interior = energies[1:-1]
    if interior.size == 0:
        return None
    reference = min(energies[0], energies[-1])
    i = int(np.argmin(interior))
    depth = reference - interior[i]
    if depth <= tolerance_ev:
        return None
    return (
        f"{INTERMEDIATE_MINIMUM}: image {i + 1} lies {depth:.3f} eV below the endpoints "
        "after the NEB stage (the path passes a more stable configuration, not a single "
        "hop; climbing image not attempted)"
    )


def _read_state(workdir: Path) -> dict[str, Any]:
    path = workdir / _STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _write_state(workdir: Path, state: dict[str, Any]) -> None:
    (workdir / _STATE_FILE).write_text(json.dumps(state, indent=1))


def run_identity(
    settings: NEBRunSettings, calculator_identity: Any, initial: Structure
) -> dict[str, Any]:
    """Return what a run's stored files belong to (JSON-ready).

    Parameters
    ----------
    settings
        Numerical settings; the budget (:data:`BUDGET_SETTINGS`) is left out, so a run
        stopped by its walltime resumes with another one.
    calculator_identity
        What identifies the calculator (e.g. the potential's name, version and model
        checksum, or the pw.x settings); JSON-serialisable.
    initial
        The initial endpoint (its formula and number of sites are recorded).

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> cell = Structure(Lattice.cubic(3.0), ["Li"], [[0, 0, 0]])
    >>> a = run_identity(NEBRunSettings(), {"potential": "A"}, cell)
    >>> a == run_identity(NEBRunSettings(walltime_s=60.0), {"potential": "A"}, cell)
    True
    >>> a == run_identity(NEBRunSettings(), {"potential": "B"}, cell)
    False
    """
    numerical = {k: v for k, v in asdict(settings).items() if k not in BUDGET_SETTINGS}
    return jsanitize(
        plain_settings(
            {
                "calculator": calculator_identity,
                "settings": numerical,
                "formula": initial.composition.formula,
                "n_sites": len(initial),
            }
        ),
        strict=False,
    )


def _set_aside(workdir: Path, old_hash: str | None) -> str | None:
    """Move a previous run's files out of ``workdir``; return where (None: nothing there).

    Only what the runner writes is moved: its state, trajectories and the calculator
    directories it names (``endpoint_*``, ``image_NN``).
    """
    names = [
        p
        for p in workdir.iterdir()
        if p.name in (_STATE_FILE, _TRAJ_FILE, _ENDPOINTS_FILE)
        or (p.is_dir() and _CALCULATOR_LABEL.match(p.name))
    ]
    if not names:
        return None
    base = workdir / _SUPERSEDED_DIR / (old_hash or "unknown")
    target, k = base, 1
    while target.exists():
        k += 1
        target = base.with_name(f"{base.name}-{k}")
    target.mkdir(parents=True)
    for path in names:
        shutil.move(str(path), str(target / path.name))
    return str(target)


def run_neb(
    initial: Structure,
    final: Structure,
    seed_images: list[Structure] | Callable[[Structure, Structure], list[Structure]],
    calculator_factory: CalculatorFactory,
    workdir: str | Path,
    settings: NEBRunSettings | None = None,
    calculator_identity: Any = None,
) -> NEBRunResult:
    """Relax the endpoints, then run NEB followed by a climbing-image restart.

    Parameters
    ----------
    initial, final
        Unrelaxed endpoints (same site order).
    seed_images
        The ``n_images + 2`` starting images, or a function building them from the
        relaxed endpoints (used so the framework interpolates between relaxed
        endpoints, as in the reference method).
    calculator_factory
        ``factory(label)`` returns a fresh calculator; labels are ``endpoint_initial``,
        ``endpoint_final`` and ``image_01`` ... .
    workdir
        Directory for the trajectory, state file and calculator files. A directory that
        holds a previous run of the same identity (:func:`run_identity`) is resumed from
        its last images (a finished run is returned as stored); a run of another
        identity, or one that recorded none, is moved to ``superseded/<identity>``
        (``superseded_dir`` of the result) and the run starts afresh.
    settings
        Numerical settings.
    calculator_identity
        What identifies the calculator the factory builds (JSON-serialisable): part of
        the run identity, so give it whenever calculators can differ between runs.
    """
    settings = settings or NEBRunSettings()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    adaptor = AseAtomsAdaptor()
    t_start = time.monotonic()
    deadline = None if settings.walltime_s is None else t_start + settings.walltime_s
    timings: dict[str, float] = {}
    identity = run_identity(settings, calculator_identity, initial)
    identity_hash = settings_hash(identity)
    state = _read_state(workdir)
    superseded = None
    if state.get("identity_hash") != identity_hash:
        # another calculator or other settings (or a run from before identities were
        # recorded): never resume from its files
        superseded = _set_aside(workdir, state.get("identity_hash"))
        state = {}
    resumed = bool(state)

    # endpoints
    t0 = time.monotonic()
    endpoint_path = workdir / _ENDPOINTS_FILE
    ends: list[Atoms]
    if state.get("endpoints_done") and endpoint_path.exists():
        ends = [_freeze(a) for a in read(endpoint_path, index=":")]
        relax_steps = state["endpoint_relax_steps"]
        endpoints_converged = state["endpoints_converged"]
    else:
        ends = []
        relax_steps, flags = [], []
        for label, structure in (("endpoint_initial", initial), ("endpoint_final", final)):
            atoms = adaptor.get_atoms(structure)
            if settings.relax_endpoints:
                relaxed, ok, steps = relax_fixed_cell(
                    atoms,
                    calculator_factory(label),
                    settings.endpoint_fmax_ev_per_angstrom,
                    settings.max_steps_relax,
                    deadline=deadline,
                    label=f"relaxation of {label}",
                )
            else:
                atoms.calc = calculator_factory(label)
                _call(label, 0, atoms.get_forces)
                relaxed, ok, steps = _freeze(atoms), True, 0
            ends.append(relaxed)
            relax_steps.append(steps)
            flags.append(ok)
        endpoints_converged = all(flags)
        with Trajectory(str(endpoint_path), "w") as traj:
            for end in ends:
                traj.write(end)
        state = {
            "identity_hash": identity_hash,
            "identity": identity,
            "endpoints_done": True,
            "endpoint_relax_steps": relax_steps,
            "endpoints_converged": endpoints_converged,
            "stage": "neb",
            "n_steps_neb": 0,
            "n_steps_ci": 0,
        }
        _write_state(workdir, state)
    timings["endpoints_s"] = round(time.monotonic() - t0, 3)

    # images: resume from the trajectory or seed
    n_total = settings.n_images + 2
    traj_path = workdir / _TRAJ_FILE
    if resumed and traj_path.exists() and len(read(traj_path, index=":")) >= n_total:
        frames = read(traj_path, index=":")
        images = [_freeze(frame) for frame in frames[-n_total:]]
    else:
        initial_rel = adaptor.get_structure(ends[0])
        final_rel = adaptor.get_structure(ends[1])
        seeds = seed_images(initial_rel, final_rel) if callable(seed_images) else seed_images
        if len(seeds) != n_total:
            raise ValueError(f"expected {n_total} images, got {len(seeds)}")
        images = [adaptor.get_atoms(s) for s in seeds]
    images[0], images[-1] = ends[0].copy(), ends[-1].copy()
    images[0].calc = ends[0].calc
    images[-1].calc = ends[-1].calc
    finished = settings.climb and "ci" in state.get("stages_done", [])
    finished = finished or (not settings.climb and "neb" in state.get("stages_done", []))
    for i in range(1, n_total - 1):
        if finished and images[i].calc is not None:
            continue  # a finished run: keep the stored energies and forces
        images[i].calc = calculator_factory(f"image_{i:02d}")

    termination = "converged"
    stages = [("neb", False, settings.max_steps_neb)]
    if settings.climb:
        stages.append(("ci", True, settings.max_steps_ci))
    converged = False
    for stage, climb, max_steps in stages:
        if stage in state.setdefault("stages_done", []):
            converged = True
            continue
        if climb and settings.intermediate_minimum_tolerance_ev is not None:
            energies_now = [
                float(_call(f"image {i}", state["n_steps_neb"], a.get_potential_energy))
                for i, a in enumerate(images)
            ]
            found = intermediate_minimum(energies_now, settings.intermediate_minimum_tolerance_ev)
            if found is not None:
                termination, converged = found, False
                break
        state["stage"] = stage
        key = f"n_steps_{stage}"
        t0 = time.monotonic()
        neb = NEB(
            images,
            k=settings.spring_constant_ev_per_angstrom2,
            climb=climb,
            method=settings.neb_method,
        )
        opt = _OPTIMIZERS[settings.optimizer](neb, logfile=None)
        converged = False
        with Trajectory(str(traj_path), "a") as traj:
            tic = time.monotonic()
            iterator = opt.irun(fmax=settings.fmax_ev_per_angstrom, steps=max_steps)
            while True:
                try:
                    converged = next(iterator)
                except StopIteration:
                    break
                except Exception as exc:
                    _write_state(workdir, state)
                    raise NEBCalculatorError(
                        f"calculator failed during the {stage.upper()} stage (step "
                        f"{state[key]}): {type(exc).__name__}: {exc}"
                        f"{_calculator_hint(images[1].calc)}"
                    ) from exc
                for image in images:
                    traj.write(image)
                state[key] += 1
                _write_state(workdir, state)
                now = time.monotonic()
                last_step_s, tic = now - tic, now
                if converged:
                    break
                if deadline is not None and now + last_step_s > deadline:
                    termination = f"walltime exhausted during the {stage.upper()} stage"
                    break
        timings[f"{stage}_s"] = round(time.monotonic() - t0, 3)
        if termination != "converged":
            break
        # a stage that ran out of steps still hands its images to the next stage
        state["stages_done"].append(stage)
        _write_state(workdir, state)
    if termination == "converged" and not converged:
        last = "CI" if settings.climb else "NEB"
        steps = settings.max_steps_ci if settings.climb else settings.max_steps_neb
        termination = f"{last} stage not converged in {steps} steps"
    if termination == "converged":
        state["stage"] = "done"
        _write_state(workdir, state)

    energies = [float(a.get_potential_energy()) for a in images]
    forces = NEB(
        images,
        k=settings.spring_constant_ev_per_angstrom2,
        climb=settings.climb,
        method=settings.neb_method,
    )
    max_force = float(np.sqrt((forces.get_forces() ** 2).sum(axis=1).max()))
    interior = energies[1:-1]
    climbing = int(np.argmax(interior)) + 1 if settings.climb else None
    analysis = BarrierAnalysis.from_energies(energies).model_dump(mode="json")
    timings["total_s"] = round(time.monotonic() - t_start, 3)
    return NEBRunResult(
        images=[adaptor.get_structure(a) for a in images],
        energies_ev=energies,
        converged=bool(converged) and termination == "converged",
        termination=termination,
        climbing_image_index=climbing,
        max_force_ev_per_angstrom=max_force,
        n_steps_neb=state.get("n_steps_neb", 0),
        n_steps_ci=state.get("n_steps_ci", 0),
        endpoint_energies_ev=[energies[0], energies[-1]],
        endpoint_relax_steps=list(relax_steps),
        endpoints_converged=bool(endpoints_converged),
        resumed=resumed,
        barrier_forward_ev=max(energies) - energies[0],
        barrier_reverse_ev=max(energies) - energies[-1],
        barrier_analysis=analysis,
        timings_s=timings,
        run_identity_hash=identity_hash,
        superseded_dir=superseded,
    )
