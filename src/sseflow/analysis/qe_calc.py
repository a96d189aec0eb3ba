"""Quantum ESPRESSO (pw.x) calculators through ASE, and cutoff/k-point convergence.

pw.x runs through ASE's file-based :class:`~ase.calculators.espresso.Espresso` with an
:class:`~ase.calculators.espresso.EspressoProfile`. Every setting that depends on the
machine (pw.x command, MPI launcher, pseudopotential directory) is a field of
:class:`QESettings`; nothing is read from fixed paths.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.espresso import Espresso, EspressoProfile


class QESetupError(ValueError):
    """Quantum ESPRESSO cannot be set up (missing executable or pseudopotential)."""


@dataclass
class QESettings:
    """Settings of pw.x calculations (energies in Ry as QE expects them).

    Attributes
    ----------
    pw_command
        pw.x executable (name on PATH or absolute path).
    mpi_command
        Launcher prefix, e.g. ``"mpirun --allow-run-as-root -np 2"``; None runs serially.
    pseudo_dir
        Directory holding the UPF files.
    pseudopotentials
        Element -> UPF file name; elements missing here are looked up in ``pseudo_dir``
        by file-name prefix (``Li.``, ``Li_``, ``Li-``, case-insensitive).
    ecutwfc_ry, ecutrho_ry
        Plane-wave and charge-density cutoffs (Ry); ``ecutrho_ry=None`` lets QE use 4x.
    kpoints
        Monkhorst-Pack grid; None with ``kspacing_per_angstrom=None`` means Gamma only.
    kspacing_per_angstrom
        Alternative to ``kpoints``: ASE's ``kspacing`` (2*pi/A units as ASE defines it).
    conv_thr_ry
        SCF convergence threshold (Ry).
    mixing_beta
        SCF mixing factor.
    input_data
        Extra pw.x namelist entries (flat dict), merged last.
    """

    pw_command: str = "pw.x"
    mpi_command: str | None = None
    pseudo_dir: str = "."
    pseudopotentials: dict[str, str] = field(default_factory=dict)
    ecutwfc_ry: float = 40.0
    ecutrho_ry: float | None = None
    kpoints: tuple[int, int, int] | None = None
    kspacing_per_angstrom: float | None = None
    conv_thr_ry: float = 1e-8
    mixing_beta: float = 0.5
    input_data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-friendly dict."""
        return asdict(self)


def find_pseudopotentials(
    elements: list[str], pseudo_dir: str | Path, explicit: dict[str, str] | None = None
) -> dict[str, str]:
    """Return element -> UPF file name for ``elements``.

    Raises
    ------
    QESetupError
        When the directory or a pseudopotential is missing.
    """
    directory = Path(pseudo_dir)
    if not directory.is_dir():
        raise QESetupError(f"pseudopotential directory {directory} does not exist")
    explicit = explicit or {}
    files = sorted(p.name for p in directory.iterdir() if p.suffix.lower() == ".upf")
    found: dict[str, str] = {}
    for element in sorted(set(elements)):
        if element in explicit:
            if not (directory / explicit[element]).is_file():
                raise QESetupError(
                    f"pseudopotential {explicit[element]} for {element} not found in {directory}"
                )
            found[element] = explicit[element]
            continue
        pattern = re.compile(rf"^{element}[._-]", re.IGNORECASE)
        matches = [f for f in files if pattern.match(f)]
        if not matches:
            raise QESetupError(f"no pseudopotential for {element} in {directory}")
        found[element] = matches[0]
    return found


def check_pw_command(settings: QESettings) -> None:
    """Raise :class:`QESetupError` if pw.x (or the MPI launcher) is not executable."""
    if shutil.which(settings.pw_command) is None:
        raise QESetupError(
            f"pw.x command {settings.pw_command!r} not found (install Quantum ESPRESSO, "
            "e.g. apt-get install quantum-espresso, or set pw_command)"
        )
    if settings.mpi_command:
        launcher = shlex.split(settings.mpi_command)[0]
        if shutil.which(launcher) is None:
            raise QESetupError(f"MPI launcher {launcher!r} not found")


def make_espresso(
    elements: list[str],
    settings: QESettings,
    directory: str | Path,
    tot_charge: float = 0.0,
    calculation: str = "scf",
    tstress: bool = False,
) -> Espresso:
    """Return an ASE Espresso calculator for ``atoms`` writing into ``directory``.

    Parameters
    ----------
    elements
        Element symbols of the structures the calculator will see (select the UPFs).
    settings
        pw.x settings.
    directory
        Working directory of this calculator (one per image).
    tot_charge
        Total charge of the cell in units of e (``-1`` for a removed Li+ compensated by
        a uniform background).
    calculation
        pw.x ``calculation`` (``scf`` for ASE-driven optimisations).
    tstress
        Compute the stress (needed for cell relaxations).
    """
    check_pw_command(settings)
    pseudos = find_pseudopotentials(elements, settings.pseudo_dir, settings.pseudopotentials)
    command = settings.pw_command
    if settings.mpi_command:
        command = f"{settings.mpi_command} {settings.pw_command}"
    profile = EspressoProfile(command=command, pseudo_dir=str(Path(settings.pseudo_dir).resolve()))
    input_data: dict[str, Any] = {
        "calculation": calculation,
        "tprnfor": True,
        "tstress": tstress,
        "ecutwfc": settings.ecutwfc_ry,
        "conv_thr": settings.conv_thr_ry,
        "mixing_beta": settings.mixing_beta,
        "occupations": "fixed",
        "tot_charge": float(tot_charge),
        "disk_io": "low",
    }
    if settings.ecutrho_ry is not None:
        input_data["ecutrho"] = settings.ecutrho_ry
    input_data.update(settings.input_data)
    kwargs: dict[str, Any] = {}
    if settings.kpoints is not None:
        kwargs["kpts"] = tuple(settings.kpoints)
    elif settings.kspacing_per_angstrom is not None:
        kwargs["kspacing"] = settings.kspacing_per_angstrom
    Path(directory).mkdir(parents=True, exist_ok=True)
    return Espresso(
        profile=profile,
        directory=str(directory),
        input_data=input_data,
        pseudopotentials=pseudos,
        **kwargs,
    )


def converge_cutoff_and_kpoints(
    atoms: Atoms,
    settings: QESettings,
    workdir: str | Path,
    ecutwfc_values_ry: list[float] | None = None,
    kpoint_densities: list[int] | None = None,
    tolerance_ev_per_atom: float = 1e-3,
) -> tuple[QESettings, dict[str, Any]]:
    """Return settings converged to ``tolerance_ev_per_atom`` and the test's record.

    The cutoff is raised through ``ecutwfc_values_ry`` (``ecutrho`` scaled by the same
    factor when set) until the total energy per atom changes by less than the tolerance
    from one value to the next; then the k-point grid (``n`` per reciprocal-Angstrom of
    each reciprocal vector length, i.e. k_i = ceil(n * |b_i| / (2 pi))) is refined the
    same way. The first value of each pair that agrees is kept.

    Parameters
    ----------
    atoms
        Bulk structure.
    settings
        Starting settings (pseudopotentials, command).
    workdir
        Directory for the test SCF runs.
    ecutwfc_values_ry
        Increasing cutoffs to test (Ry).
    kpoint_densities
        Increasing k-point densities (points per inverse Angstrom of |b|/(2 pi)).
    tolerance_ev_per_atom
        Convergence criterion (eV/atom).
    """
    ecut_values = ecutwfc_values_ry or [30.0, 40.0, 50.0, 60.0, 80.0]
    densities = kpoint_densities or [2, 3, 4, 6, 8]
    record: dict[str, Any] = {
        "ecutwfc_ry": [],
        "kpoints": [],
        "tolerance_ev_per_atom": tolerance_ev_per_atom,
    }
    n_atoms = len(atoms)
    ratio = None if settings.ecutrho_ry is None else settings.ecutrho_ry / settings.ecutwfc_ry

    def energy(trial: QESettings, label: str) -> float:
        work = atoms.copy()
        work.calc = make_espresso(work.get_chemical_symbols(), trial, Path(workdir) / label)
        return float(work.get_potential_energy()) / n_atoms

    reciprocal = np.linalg.norm(atoms.cell.reciprocal(), axis=1)  # 1/A, no 2 pi
    grids = []
    for density in densities:
        grid = tuple(int(max(1, np.ceil(density * r))) for r in reciprocal)
        if grid not in grids:
            grids.append(grid)
    base_k = settings.kpoints or grids[0]
    chosen = replace(settings)
    previous = None
    converged_cutoff = False
    for ecut in ecut_values:
        trial = replace(
            settings,
            ecutwfc_ry=ecut,
            ecutrho_ry=None if ratio is None else ratio * ecut,
            kpoints=base_k,
        )
        e = energy(trial, f"ecut_{ecut:g}")
        record["ecutwfc_ry"].append([ecut, e])
        if previous is not None and abs(e - previous[1]) < tolerance_ev_per_atom:
            chosen = previous[0]
            converged_cutoff = True
            break
        previous = (trial, e)
    if not converged_cutoff:
        chosen = previous[0] if previous else chosen
    previous = None
    converged_k = False
    for grid in grids:
        trial = replace(chosen, kpoints=grid)
        e = energy(trial, f"k_{'x'.join(map(str, grid))}")
        record["kpoints"].append([list(grid), e])
        if previous is not None and abs(e - previous[1]) < tolerance_ev_per_atom:
            chosen = previous[0]
            converged_k = True
            break
        previous = (trial, e)
    if not converged_k and previous:
        chosen = previous[0]
    record["converged"] = converged_cutoff and converged_k
    record["ecutwfc_ry_chosen"] = chosen.ecutwfc_ry
    record["kpoints_chosen"] = list(chosen.kpoints) if chosen.kpoints else None
    return chosen, record
