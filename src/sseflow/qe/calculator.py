"""Quantum ESPRESSO (pw.x) calculators through ASE: settings, checks, version, Espresso.

pw.x runs through ASE's file-based :class:`~ase.calculators.espresso.Espresso` with an
:class:`~ase.calculators.espresso.EspressoProfile`. Every setting that depends on the
machine (pw.x command, MPI launcher, pseudopotential directory) is a field of
:class:`QESettings`; nothing is read from fixed paths.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.espresso import Espresso, EspressoProfile
from monty.json import MSONable


class QESetupError(ValueError):
    """Quantum ESPRESSO cannot be set up (missing executable or pseudopotential)."""


@dataclass
class QESettings(MSONable):
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
        Alternative to ``kpoints``: largest k-point spacing (1/A, 2 pi included, as
        VASP's KSPACING): ``N_i = int(|b_i| / kspacing) + 1`` with ``b_i`` the reciprocal
        vectors including 2 pi (:func:`~sseflow.qe.convergence.kpoint_grid`). ASE's own
        ``kspacing`` leaves 2 pi out; it is converted.
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

    def to_plain_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict (no ``@module``/``@class`` keys)."""
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


def check_pw_setup(settings: QESettings, elements: list[str]) -> dict[str, str]:
    """Check pw.x, the MPI launcher and the pseudopotentials; return element -> UPF file.

    Raises
    ------
    QESetupError
        When one of them is missing.
    """
    check_pw_command(settings)
    return find_pseudopotentials(elements, settings.pseudo_dir, settings.pseudopotentials)


#: pw.x prints e.g. "Program PWSCF v.6.7MaX starts on ..." or "Program PWSCF v.7.2 starts".
_PW_VERSION = re.compile(r"Program PWSCF\s+v\.?\s*(\S+)\s+starts")
UNKNOWN_VERSION = "unknown"


def pw_version_from_text(text: str) -> str | None:
    """Return the pw.x version in the header of a pw.x output, or None."""
    found = _PW_VERSION.search(text)
    return found.group(1) if found else None


def pw_version_from_outputs(directory: str | Path, pattern: str = "*.pwo") -> str | None:
    """Return the pw.x version of the newest output under ``directory`` (None if none).

    Reads only the first 4 kB of each file (the header), newest file first.
    """
    root = Path(directory)
    if not root.is_dir():
        return None
    files = sorted(root.rglob(pattern), key=lambda f: f.stat().st_mtime, reverse=True)
    for path in files:
        with open(path, errors="replace") as fh:
            version = pw_version_from_text(fh.read(4096))
        if version:
            return version
    return None


def probe_pw_version(pw_command: str = "pw.x", timeout_s: float = 30.0) -> str | None:
    """Run ``pw_command`` on empty input and read the version from its header.

    pw.x prints its header, then stops for lack of a namelist (~0.4 s). It runs without
    the MPI launcher, in a temporary directory (pw.x leaves ``CRASH`` and
    ``input_tmp.in`` behind). Any failure returns None.
    """
    try:
        with tempfile.TemporaryDirectory(prefix="sseflow-pwx-") as tmp:
            done = subprocess.run(
                shlex.split(pw_command),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=tmp,
                timeout=timeout_s,
                check=False,
            )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return pw_version_from_text(done.stdout)


def pw_version(settings: QESettings, run_directory: str | Path | None = None) -> str:
    """Return the Quantum ESPRESSO version for the record; never raises.

    The header of an output written in ``run_directory`` (the binary that really ran)
    is preferred; otherwise pw.x is probed; ``"unknown"`` when both fail.
    """
    version = pw_version_from_outputs(run_directory) if run_directory is not None else None
    return version or probe_pw_version(settings.pw_command) or UNKNOWN_VERSION


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
    pseudos = check_pw_setup(settings, elements)
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
        # ASE's kspacing has no 2 pi (N = int(|b| / s) + 1 with |b| = 1/L)
        kwargs["kspacing"] = settings.kspacing_per_angstrom / (2 * np.pi)
    Path(directory).mkdir(parents=True, exist_ok=True)
    return Espresso(
        profile=profile,
        directory=str(directory),
        input_data=input_data,
        pseudopotentials=pseudos,
        **kwargs,
    )
