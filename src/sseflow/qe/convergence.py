"""Cutoff and k-point convergence of pw.x total energies (thesis A.4: 1 meV/atom)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.io.espresso import kspacing_to_grid

from sseflow.qe.calculator import QESettings, make_espresso


def kpoint_grid(atoms: Atoms, kspacing_per_angstrom: float) -> tuple[int, int, int]:
    """Return the Monkhorst-Pack grid pw.x runs with for a k-point spacing (1/A, 2 pi in).

    ``N_i = int(2 pi |b_i| / kspacing) + 1`` with ``b_i`` the reciprocal vectors without
    2 pi: ASE's ``kspacing_to_grid`` at ``kspacing / 2 pi``, exactly what
    :func:`~sseflow.qe.calculator.make_espresso` passes to ASE.

    Examples
    --------
    >>> from ase.build import bulk
    >>> kpoint_grid(bulk("Li", "sc", a=5.7), 0.6)
    (2, 2, 2)
    """
    grid = kspacing_to_grid(atoms, kspacing_per_angstrom / (2 * np.pi))
    return (int(grid[0]), int(grid[1]), int(grid[2]))


def converge_cutoff_and_kpoints(
    atoms: Atoms,
    settings: QESettings,
    workdir: str | Path,
    ecutwfc_values_ry: list[float] | None = None,
    kspacing_values_per_angstrom: list[float] | None = None,
    tolerance_ev_per_atom: float = 1e-3,
) -> tuple[QESettings, dict[str, Any]]:
    """Return settings converged to ``tolerance_ev_per_atom`` and the test's record.

    The cutoff is raised through ``ecutwfc_values_ry`` (``ecutrho`` scaled by the same
    factor when set) at the coarsest k-point grid until the total energy per atom
    changes by less than the tolerance from one value to the next; then the k-point
    spacing is refined through ``kspacing_values_per_angstrom`` the same way at that
    cutoff. The first value of each agreeing pair is kept. The chosen k-point *spacing*
    is returned (``kspacing_per_angstrom``), so it transfers to supercells.

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
    kspacing_values_per_angstrom
        Decreasing k-point spacings to test (1/A, ASE convention).
    tolerance_ev_per_atom
        Convergence criterion (eV/atom).
    """
    ecut_values = ecutwfc_values_ry or [30.0, 40.0, 50.0, 60.0, 80.0]
    spacings = kspacing_values_per_angstrom or [0.8, 0.6, 0.45, 0.3, 0.2]
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

    # distinct grids only: two spacings giving the same grid would "agree" trivially
    grids: dict[tuple[int, int, int], float] = {}
    for spacing in spacings:
        grids.setdefault(kpoint_grid(atoms, spacing), spacing)
    grid_list = list(grids)

    def scan(trials: list[tuple[Any, QESettings]], key: str) -> tuple[QESettings, bool]:
        previous: tuple[QESettings, float] | None = None
        for value, trial in trials:
            e = energy(trial, f"{key}_{value}")
            record[key].append([value, e])
            if previous is not None and abs(e - previous[1]) < tolerance_ev_per_atom:
                return previous[0], True
            previous = (trial, e)
        return trials[-1][1], False

    cutoff_trials = [
        (
            ecut,
            replace(
                settings,
                ecutwfc_ry=ecut,
                ecutrho_ry=None if ratio is None else ratio * ecut,
                kpoints=grid_list[0],
                kspacing_per_angstrom=None,
            ),
        )
        for ecut in ecut_values
    ]
    chosen, cutoff_ok = scan(cutoff_trials, "ecutwfc_ry")
    k_trials = [("x".join(map(str, grid)), replace(chosen, kpoints=grid)) for grid in grid_list]
    chosen, k_ok = scan(k_trials, "kpoints")
    assert chosen.kpoints is not None  # every k-point trial sets a grid
    spacing = grids[chosen.kpoints]
    record["converged"] = cutoff_ok and k_ok
    record["ecutwfc_ry_chosen"] = chosen.ecutwfc_ry
    record["kpoints_chosen"] = list(chosen.kpoints)
    record["kspacing_chosen"] = spacing
    return replace(chosen, kpoints=None, kspacing_per_angstrom=spacing), record
