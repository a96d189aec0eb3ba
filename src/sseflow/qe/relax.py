"""Relaxations with pw.x through ASE: positions or cell, and the bulk before a NEB.

Plain functions on ASE/pymatgen objects (no jobflow): the QE Makers
(:mod:`sseflow.qe.jobs`) call them. A bulk relaxation changes the cell, so a BVSE
landscape of the unrelaxed cell is carried over to the relaxed one
(:func:`strain_landscape`): its energies are on a fractional grid, which follows the
strain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import BaseCalculator
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS
from numpy.typing import NDArray
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.bvse.landscape import BVSELandscape
from sseflow.neb.runner import NEBCalculatorError, relax_fixed_cell
from sseflow.qe.calculator import QESettings, make_espresso


def relax_atoms(
    atoms: Atoms,
    calculator: BaseCalculator,
    fmax_ev_per_angstrom: float,
    max_steps: int,
    relax_cell: bool = False,
) -> tuple[Atoms, bool, int]:
    """Relax positions (and the cell with ``relax_cell``) with BFGS.

    Parameters
    ----------
    atoms
        Structure to relax (not modified when ``relax_cell`` is False).
    calculator
        ASE calculator (file-I/O ones such as ``Espresso`` included); for a cell
        relaxation it must compute the stress (pw.x: ``tstress=True``).
    fmax_ev_per_angstrom
        Force threshold (eV/A; for the cell, ASE's ``FrechetCellFilter`` forces).
    max_steps
        Optimizer step limit.
    relax_cell
        Relax cell and positions together (``FrechetCellFilter``).

    Returns
    -------
    atoms, converged, steps
        The relaxed atoms with the calculator's final results, whether the threshold
        was met and the number of optimizer steps.
    """
    if not relax_cell:
        return relax_fixed_cell(atoms, calculator, fmax_ev_per_angstrom, max_steps)
    atoms.calc = calculator
    opt = BFGS(FrechetCellFilter(atoms), logfile=None)  # type: ignore[arg-type]
    converged = bool(opt.run(fmax=fmax_ev_per_angstrom, steps=max_steps))
    return atoms, converged, opt.nsteps


@dataclass
class BulkRelaxation:
    """A relaxed bulk cell and what the relaxation did.

    Attributes
    ----------
    structure
        Relaxed structure, with the input's species (oxidation states kept).
    record
        ``converged``, ``n_steps``, ``volume_change_percent`` and ``energy_ev``.
    """

    structure: Structure
    record: dict[str, Any]


def relax_bulk(
    structure: Structure,
    settings: QESettings,
    directory: str | Path,
    fmax_ev_per_angstrom: float,
    max_steps: int,
) -> BulkRelaxation:
    """Relax cell and positions of an ordered cell with pw.x (neutral, ``tstress=True``).

    Parameters
    ----------
    structure
        Ordered structure (oxidation states allowed; kept in the result).
    settings
        pw.x settings.
    directory
        Directory of the pw.x runs.
    fmax_ev_per_angstrom, max_steps
        Convergence threshold (eV/A) and step limit of the BFGS optimizer.

    Raises
    ------
    NEBCalculatorError
        When pw.x fails during the relaxation.
    """
    atoms: Atoms = AseAtomsAdaptor.get_atoms(structure)
    calculator = make_espresso(atoms.get_chemical_symbols(), settings, directory, tstress=True)
    try:
        atoms, converged, steps = relax_atoms(
            atoms, calculator, fmax_ev_per_angstrom, max_steps, relax_cell=True
        )
    except Exception as exc:
        raise NEBCalculatorError(f"calculator failed during the bulk relaxation: {exc}") from exc
    final = AseAtomsAdaptor.get_structure(atoms)
    relaxed = structure.copy()
    relaxed.lattice = final.lattice
    for i, site in enumerate(final):
        relaxed.replace(i, relaxed[i].species, site.frac_coords)
    record = {
        "converged": converged,
        "n_steps": steps,
        "volume_change_percent": 100 * (relaxed.volume / structure.volume - 1),
        "energy_ev": float(atoms.get_potential_energy()),
    }
    return BulkRelaxation(relaxed, record)


def strain_landscape(
    landscape: BVSELandscape,
    lattice_before: NDArray[np.float64],
    lattice_after: NDArray[np.float64],
) -> BVSELandscape | None:
    """Carry a BVSE landscape over a strain of the cell (lattice rows in A).

    The landscape's grid is fractional: a landscape of the unstrained cell, or of a cell
    the unstrained cell is a supercell of (``lattice_before = M @ landscape.lattice``
    with integer ``M``), follows the strain as ``M^-1 @ lattice_after``. Any other
    landscape returns None (recompute it).
    """
    if not landscape.fits_lattice(lattice_before):
        return None
    multiples = np.round(np.linalg.solve(landscape.lattice.T, np.asarray(lattice_before).T).T)
    strained = np.linalg.solve(multiples, np.asarray(lattice_after))
    return BVSELandscape(strained, landscape.energies_ev)
