"""Quantum ESPRESSO tiers: CI-NEB (``neb_dft``) and a relaxation stage (``qe_relax``).

:class:`QENEBMaker` runs the same NEB preparation and runner as the MLIP tier
(:class:`~sseflow.neb.base.NEBTierMaker`) with one pw.x calculator per image.

:class:`QERelaxMaker` is a per-candidate tier (``tier = "qe_relax"``) that relaxes the
ordered candidate with pw.x through ASE (positions only, or positions and cell with
``relax_cell=True``, which turns on ``tstress``) and records energy, forces and the
relaxed structure. Insert it as a stage of the funnel like any other tier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
from jobflow import job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.bvse.landscape import BVSELandscape
from sseflow.common.candidate import Candidate
from sseflow.common.document import TierDocument
from sseflow.common.maker import TierFailure, TierMaker
from sseflow.neb.base import (
    NEB_JOB_CONFIG,
    THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM,
    NEBTierMaker,
    landscape_from,
    tier_run_dir,
)
from sseflow.neb.ordering import OrderingResult, OrderingSettings, order_structure
from sseflow.neb.schemas import NEBDocument
from sseflow.neb.supercell import StructurePreparationError
from sseflow.qe.calculator import (
    QESettings,
    QESetupError,
    check_pw_setup,
    make_espresso,
    pw_version,
)
from sseflow.qe.convergence import converge_cutoff_and_kpoints
from sseflow.qe.relax import relax_atoms, relax_bulk, strain_landscape
from sseflow.qe.schemas import QERelaxDocument

DocT = TypeVar("DocT", bound=TierDocument)


def _elements(structure: Structure) -> list[str]:
    return sorted({el.symbol for el in structure.composition.elements})


class PwTier:
    """pw.x handling shared by the QE tiers (mixed into their Makers).

    The Maker provides ``qe`` (:class:`~sseflow.qe.calculator.QESettings`), ``work_dir``
    and ``tier``; this adds the set-up check (pw.x, MPI launcher, pseudopotentials),
    the job directory and the version stamp of the record.
    """

    qe: QESettings
    work_dir: str | None
    tier: ClassVar[str]

    def job_dir(self, candidate_id: str) -> Path:
        """Return the stable directory of this candidate's pw.x runs (resumable)."""
        return tier_run_dir(self.work_dir, self.tier, candidate_id)

    def pw_setup(self, structure: Structure) -> dict[str, str]:
        """Check pw.x can run for ``structure``; return element -> UPF file.

        Raises
        ------
        QESetupError
            pw.x, the MPI launcher or a pseudopotential is missing.
        """
        return check_pw_setup(self.qe, _elements(structure))

    def stamp_qe_version(self, doc: DocT, candidate_id: str) -> DocT:
        """Record the pw.x version of this run (never fails: ``"unknown"``)."""
        version = pw_version(self.qe, self.job_dir(candidate_id))
        update: dict[str, Any] = {
            "qe_version": version,
            "software": {**doc.software, "quantum-espresso": version},
        }
        if getattr(doc, "calculator", None):
            update["calculator"] = f"Quantum ESPRESSO pw.x {version} (ASE Espresso)"
        return doc.model_copy(update=update)


@dataclass
class QERelaxMaker(PwTier, TierMaker):
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
        Root of the job directories; None uses ``SSEFLOW_WORK_DIR``.
    ordering
        How a disordered candidate is ordered, as in the NEB tiers
        (:class:`~sseflow.neb.ordering.OrderingSettings`; an approximately ordered cell
        is the 10 A NEB supercell); recorded in ``ordering``.

    The pw.x version (output header, else a probe of ``qe.pw_command``, else
    ``"unknown"``) is recorded as ``qe_version`` and in ``software``.
    """

    name: str = "qe_relax"
    qe: QESettings = field(default_factory=QESettings)
    relax_cell: bool = False
    fmax_ev_per_angstrom: float = 0.05
    max_steps: int = 100
    work_dir: str | None = None
    ordering: OrderingSettings = field(default_factory=OrderingSettings)

    tier: ClassVar[str] = "qe_relax"
    batch: ClassVar[bool] = False
    document_class: ClassVar[type[QERelaxDocument]] = QERelaxDocument
    nested_settings: ClassVar[tuple[str, ...]] = ("qe",)
    flat_settings: ClassVar[tuple[str, ...]] = ("ordering",)
    #: Added with approximate ordering; the defaults order every structure ordered
    #: before as before, so stored results keep their settings hash.
    hashed_if_changed: ClassVar[dict[str, Any]] = dict(vars(OrderingSettings()))
    packages: ClassVar[tuple[str, ...]] = ("pymatgen", "ase")

    @job
    def make(self, candidate: Candidate) -> QERelaxDocument:
        """Relax one candidate with Quantum ESPRESSO."""

        def compute() -> dict[str, Any]:
            try:
                ordering = order_structure(candidate.structure, settings=self.ordering)
            except StructurePreparationError as exc:
                raise TierFailure(str(exc)) from exc
            structure = ordering.structure
            structure.remove_oxidation_states()
            try:
                pseudos = self.pw_setup(structure)
            except QESetupError as exc:
                raise TierFailure(str(exc)) from exc
            calc = make_espresso(
                _elements(structure),
                self.qe,
                self.job_dir(candidate.candidate_id),
                tstress=self.relax_cell,
            )
            try:
                relaxed, converged, steps = relax_atoms(
                    AseAtomsAdaptor.get_atoms(structure),
                    calc,
                    self.fmax_ev_per_angstrom,
                    self.max_steps,
                    relax_cell=self.relax_cell,
                )
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
                "ordering": ordering.summary(),
            }

        doc = self.tier_document(QERelaxDocument, candidate.candidate_id, compute)
        return self.stamp_qe_version(doc, candidate.candidate_id)


@dataclass
class QENEBMaker(PwTier, NEBTierMaker):
    """CI-NEB with Quantum ESPRESSO pw.x driven by ASE (one Espresso per image).

    ``charged_vacancy=True`` (default) removes a Li+ and sets ``tot_charge = -1``: the
    cell keeps the electrons of the removed Li, compensated by QE's uniform background.
    ``False`` removes a neutral Li atom (``tot_charge = 0``).

    Cutoffs and k-points come from ``qe`` or, with ``convergence_test=True``, from
    :func:`~sseflow.qe.convergence.converge_cutoff_and_kpoints` on the unit cell
    (``convergence_tolerance_ev_per_atom``, 1 meV/atom by default; the converged
    k-point spacing is reused for the supercell). ``relax_bulk=True`` relaxes cell and
    positions of the ordered unit cell first (``tstress=True``). ``qe`` carries the MPI
    launcher (e.g. ``"mpirun -np 64"``) for HPC; it may be given as a dict (YAML).

    Force thresholds (eV/A): endpoints to 3e-4 and NEB/CI to 0.05, as in the reference
    work (see the base class). pw.x forces must be converged below 3e-4 eV/A for the
    endpoint relaxation to end: ``qe.conv_thr_ry`` = 1e-8 Ry sufficed for a 23-atom
    cell; tighten it for large cells if ``hops[*].endpoints_converged`` comes back
    False. A looser endpoint threshold (e.g. 0.01) trades accuracy for steps.
    :meth:`thesis` returns a Maker with every setting of thesis appendix A.4.

    The pw.x version (header of the run's outputs, else a probe of ``qe.pw_command``,
    else ``"unknown"``) is recorded as ``qe_version`` and in ``software``.
    """

    name: str = "neb_dft"
    qe: QESettings = field(default_factory=QESettings)
    charged_vacancy: bool = True
    convergence_test: bool = False
    convergence_ecutwfc_ry: tuple[float, ...] = (30.0, 40.0, 50.0, 60.0, 80.0)
    convergence_kspacing_per_angstrom: tuple[float, ...] = (0.8, 0.6, 0.45, 0.3, 0.2)
    convergence_tolerance_ev_per_atom: float = 1e-3
    relax_bulk: bool = False
    bulk_fmax_ev_per_angstrom: float = 0.01

    tier: ClassVar[str] = "neb_dft"
    batch: ClassVar[bool] = False
    expected_errors: ClassVar[tuple[type[Exception], ...]] = (
        *NEBTierMaker.expected_errors,
        QESetupError,
    )
    nested_settings: ClassVar[tuple[str, ...]] = ("qe",)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.relax_bulk and self.ordering_samples > 1:
            raise ValueError(
                f"ordering_samples = {self.ordering_samples} needs relax_bulk=False: the bulk "
                "relaxation relaxes one ordering, which every NEB then starts from"
            )

    def job_dir(self, candidate_id: str) -> Path:
        """Return the directory of this candidate's pw.x runs with these settings.

        ``<work_dir>/neb_dft/<candidate_id>/<settings hash[:12]>``: resumable; other
        settings (e.g. another cutoff) get their own folder.
        """
        return NEBTierMaker.job_dir(self, candidate_id)

    @classmethod
    def thesis(cls, qe: QESettings | dict, **overrides: Any) -> QENEBMaker:
        """Return a Maker with the reference work's settings (thesis appendix A.4).

        Supercell >= 10 A, charged vacancy, bulk (cell and positions) relaxed first,
        cutoff and k-points converged to 1 meV/atom, endpoints relaxed to 3e-4 eV/A,
        NEB then climbing image to 0.05 eV/A, images seeded from the BVSE path.

        Parameters
        ----------
        qe
            Machine settings (pw.x, MPI launcher, PAW pseudopotential directory).
        overrides
            Any other Maker field.
        """
        qe_settings = qe if isinstance(qe, QESettings) else QESettings(**qe)
        settings: dict[str, Any] = {
            "min_length_angstrom": 10.0,
            "charged_vacancy": True,
            "relax_bulk": True,
            "convergence_test": True,
            "convergence_tolerance_ev_per_atom": 1e-3,
            "endpoint_fmax_ev_per_angstrom": THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM,
            "fmax_ev_per_angstrom": 0.05,
            "seed_method": "bvse",
        }
        return cls(qe=qe_settings, **{**settings, **overrides})

    def after_run(self, candidate: Candidate, doc: NEBDocument) -> NEBDocument:
        """Record the pw.x version of this run (never fails: ``"unknown"``)."""
        return self.stamp_qe_version(doc, candidate.candidate_id)

    @property
    def tot_charge(self) -> float:
        """Total cell charge (e) passed to pw.x."""
        return -1.0 if self.charged_vacancy else 0.0

    def calculator_identity(self) -> dict[str, Any]:
        """Return the pw.x settings that decide the energies (no machine paths)."""
        qe = self.qe.to_plain_dict()
        for machine in ("pw_command", "mpi_command", "pseudo_dir"):
            qe.pop(machine, None)
        return {"code": "Quantum ESPRESSO pw.x", "qe": qe, "tot_charge": self.tot_charge}

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Any]:
        """Return a factory of Espresso calculators, one directory per image."""
        qe, charge = self.qe, self.tot_charge
        elements = list(qe.pseudopotentials)
        return lambda label: make_espresso(elements, qe, hop_dir / label, charge)

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Check pw.x and pseudopotentials, converge settings and relax the bulk if asked."""
        pseudos = self.pw_setup(candidate.structure)
        qe = replace(self.qe, pseudopotentials=pseudos)
        record = None
        if self.convergence_test:
            qe, record = self._converge(candidate, qe)
        runner = replace(self, qe=qe)
        structure = candidate.structure
        extra: dict[str, Any] = {
            "calculator": "Quantum ESPRESSO pw.x (ASE Espresso)",
            "calculator_settings": runner.qe.to_plain_dict(),
            "pseudopotentials": pseudos,
            "vacancy_charge_e": self.tot_charge,
            "convergence_test": record,
        }
        if self.relax_bulk:
            folder = self.job_dir(candidate.candidate_id) / "bulk_relax"
            ordering = self.ordered(candidate)
            structure, landscape, bulk = runner._relax_bulk(ordering.structure, landscape, folder)
            extra["calculator_settings"] = {**extra["calculator_settings"], "bulk_relax": bulk}
            # the NEB starts from the relaxed ordered cell: keep how it was ordered
            extra["was_ordered"] = ordering.was_ordered
            extra["ordering_ewald_energy_ev"] = ordering.ewald_energy_ev
            extra["ordering"] = ordering.summary()
        return runner, structure, landscape, extra

    def ordered(self, candidate: Candidate) -> OrderingResult:
        """Return the candidate ordered as the NEB preparation orders it (same settings).

        The ordering is deterministic (exact enumeration, or the seeded approximate
        one), so the convergence test, the bulk relaxation and the NEB share one cell.
        """
        return order_structure(
            candidate.structure,
            settings=self.ordering,
            min_length_angstrom=self.min_length_angstrom,
        )

    def _relax_bulk(
        self, structure: Structure, landscape: BVSELandscape | None, folder: Path
    ) -> tuple[Structure, BVSELandscape | None, dict[str, Any]]:
        """Relax cell and positions of the ordered unit cell ``structure`` in ``folder``.

        The BVSE landscape is carried over to the relaxed cell.
        """
        bulk = relax_bulk(
            structure,
            self.qe,
            folder,
            self.bulk_fmax_ev_per_angstrom,
            self.neb.max_steps_relax,
        )
        if landscape is not None:
            landscape = strain_landscape(
                landscape, structure.lattice.matrix, bulk.structure.lattice.matrix
            )
        return bulk.structure, landscape, bulk.record

    def _converge(self, candidate: Candidate, qe: QESettings) -> tuple[QESettings, dict[str, Any]]:
        """Converge cutoff and k-points on the ordered unit cell (1 meV/atom default)."""
        structure = self.ordered(candidate).structure
        structure.remove_oxidation_states()
        chosen, record = converge_cutoff_and_kpoints(
            AseAtomsAdaptor.get_atoms(structure),
            qe,
            self.job_dir(candidate.candidate_id) / "convergence",
            ecutwfc_values_ry=list(self.convergence_ecutwfc_ry),
            kspacing_values_per_angstrom=list(self.convergence_kspacing_per_angstrom),
            tolerance_ev_per_atom=self.convergence_tolerance_ev_per_atom,
        )
        # transfer the k-point density (not the grid) to the NEB supercell
        return replace(
            chosen, kpoints=None, kspacing_per_angstrom=record["kspacing_chosen"]
        ), record

    @job(config=NEB_JOB_CONFIG)
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the Quantum ESPRESSO CI-NEB tier for one candidate."""
        return self._run(candidate, landscape_from(bvse_landscape))
