"""A Quantum ESPRESSO relaxation stage: the template for adding DFT stages to the funnel.

:class:`QERelaxMaker` is a per-candidate tier (``tier = "qe_relax"``) that relaxes the
ordered candidate with pw.x through ASE (positions only, or positions and cell with
``relax_cell=True``, which turns on ``tstress``) and records energy, forces and the
relaxed structure. Insert it as a stage of the funnel like any other tier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase.filters import FrechetCellFilter
from jobflow import job
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.analysis.neb_run import relax_fixed_cell
from sseflow.analysis.neb_supercell import order_structure
from sseflow.analysis.qe_calc import (
    QESettings,
    QESetupError,
    check_pw_command,
    find_pseudopotentials,
    make_espresso,
    pw_version,
)
from sseflow.makers.base import TierFailure, TierMaker
from sseflow.schemas.candidate import Candidate
from sseflow.schemas.qe import QERelaxDocument


@dataclass
class QERelaxMaker(TierMaker):
    """Relax a candidate with pw.x (forces in eV/A).

    Attributes
    ----------
    qe
        pw.x settings (command, MPI launcher, pseudo_dir, cutoffs, k-points).
    relax_cell
        Also relax the cell (ASE ``FrechetCellFilter``; pw.x computes the stress).
    fmax_ev_per_angstrom
        Force threshold.
    max_steps
        Optimizer step limit.
    work_dir
        Root of the job directories (default ``./sseflow-qe``).

    The pw.x version (output header, else a probe of ``qe.pw_command``, else
    ``"unknown"``) is recorded as ``qe_version`` and in ``software``.
    """

    name: str = "qe_relax"
    qe: QESettings = field(default_factory=QESettings)
    relax_cell: bool = False
    fmax_ev_per_angstrom: float = 0.05
    max_steps: int = 100
    work_dir: str | None = None

    tier: ClassVar[str] = "qe_relax"
    batch: ClassVar[bool] = False
    packages: ClassVar[tuple[str, ...]] = ("pymatgen", "ase")

    def __post_init__(self) -> None:
        if isinstance(self.qe, dict):  # from a YAML/JSON funnel description
            self.qe = QESettings(**{k: v for k, v in self.qe.items() if not k.startswith("@")})

    def job_dir(self, candidate_id: str) -> Path:
        """Return the directory of this candidate's pw.x run."""
        root = Path(self.work_dir) if self.work_dir else Path.cwd() / "sseflow-qe"
        return root / self.tier / candidate_id

    @job
    def make(self, candidate: Candidate) -> QERelaxDocument:
        """Relax one candidate with Quantum ESPRESSO."""

        def compute() -> dict[str, Any]:
            structure = order_structure(candidate.structure).structure
            structure.remove_oxidation_states()
            elements = sorted({el.symbol for el in structure.composition.elements})
            try:
                check_pw_command(self.qe)
                pseudos = find_pseudopotentials(
                    elements, self.qe.pseudo_dir, self.qe.pseudopotentials
                )
            except QESetupError as exc:
                raise TierFailure(str(exc)) from exc
            calc = make_espresso(
                elements,
                self.qe,
                self.job_dir(candidate.candidate_id),
                tstress=self.relax_cell,
            )
            atoms = AseAtomsAdaptor.get_atoms(structure)
            target = FrechetCellFilter(atoms) if self.relax_cell else atoms
            try:
                relaxed, converged, steps = _relax(target, calc, self)
            except Exception as exc:
                raise TierFailure(f"pw.x relaxation failed: {exc}") from exc
            final = AseAtomsAdaptor.get_structure(relaxed)
            forces = relaxed.get_forces()
            energy = float(relaxed.get_potential_energy())
            return {
                "energy_ev": energy,
                "energy_per_atom_ev": energy / len(relaxed),
                "max_force_ev_per_angstrom": float(np.linalg.norm(forces, axis=1).max()),
                "volume_change_percent": 100 * (final.volume / structure.volume - 1),
                "n_steps": steps,
                "converged": converged,
                "structure": final,
                "pseudopotentials": pseudos,
                "calculator_settings": self.qe.to_plain_dict(),
            }

        doc = self.tier_document(QERelaxDocument, candidate.candidate_id, compute)
        version = pw_version(self.qe, self.job_dir(candidate.candidate_id))
        return doc.model_copy(
            update={
                "qe_version": version,
                "software": {**doc.software, "quantum-espresso": version},
            }
        )


def _relax(target: Any, calc: Any, maker: QERelaxMaker) -> tuple[Any, bool, int]:
    """Relax atoms or a cell filter; return (atoms with results, converged, steps)."""
    if isinstance(target, FrechetCellFilter):
        from ase.optimize import BFGS

        target.atoms.calc = calc
        opt = BFGS(target, logfile=None)  # type: ignore[arg-type]
        converged = bool(opt.run(fmax=maker.fmax_ev_per_angstrom, steps=maker.max_steps))
        return target.atoms, converged, opt.nsteps
    return relax_fixed_cell(target, calc, maker.fmax_ev_per_angstrom, maker.max_steps)
