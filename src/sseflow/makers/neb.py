"""CI-NEB tier Makers: a universal-potential pre-tier (CHGNet) and Quantum ESPRESSO.

Both run the same preparation and NEB code (:mod:`sseflow.analysis.neb_workflow`) and
return a :class:`~sseflow.schemas.neb.NEBDocument`. A run that stops before the CI stage
converges (step limit, walltime) or whose calculator crashes is recorded with
``status='failed'`` and the reason; images are on disk in ``work_dir`` and a re-run of
the same job resumes from them.

BVSE landscape: pass the BVSE tier's landscape as ``make(candidate, bvse_landscape=...)``
(a :class:`~sseflow.analysis.bvse_landscape.BVSELandscape`, the BVSE tier's
:class:`~sseflow.schemas.bvse.BVSEGrid`, or the dict of either). Without it the
landscape is computed with bvlain at ``bvse_resolution_angstrom`` (0.3 A by default:
coarse, but only used to rank hops and seed the path).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator
from jobflow import job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.analysis.bvse_landscape import BVSELandscape
from sseflow.analysis.neb_run import NEBCalculatorError, NEBRunSettings
from sseflow.analysis.neb_supercell import order_structure
from sseflow.analysis.neb_workflow import run_structure_neb
from sseflow.analysis.qe_calc import (
    QESettings,
    QESetupError,
    check_pw_command,
    converge_cutoff_and_kpoints,
    find_pseudopotentials,
    make_espresso,
)
from sseflow.makers.base import TierFailure, TierMaker
from sseflow.schemas.bvse import BVSEGrid
from sseflow.schemas.candidate import Candidate
from sseflow.schemas.neb import NEBDocument
from sseflow.schemas.tier import TierStatus


def _landscape(value: Any) -> BVSELandscape | None:
    """Accept a BVSELandscape, its dict, or the BVSE tier's BVSEGrid (or its dict)."""
    if value is None or isinstance(value, BVSELandscape):
        return value
    if isinstance(value, BVSEGrid) or (isinstance(value, dict) and "energies_ev_zlib_b64" in value):
        return BVSELandscape.from_bvse_grid(value)
    return BVSELandscape.from_dict(value)


def _judge_convergence(doc: NEBDocument) -> NEBDocument:
    """Turn an unconverged (but finished) NEB into ``status='failed'`` with the reason."""
    if doc.status != TierStatus.PENDING or doc.converged:
        return doc
    stopped = next((h for h in doc.hops if not h.converged), None)
    why = stopped.termination if stopped else "not converged"
    where = f"; images kept in {stopped.work_dir}, re-run resumes there" if stopped else ""
    return doc.model_copy(update={"status": TierStatus.FAILED, "reason": f"NEB {why}{where}"})


@dataclass
class _NEBTierMaker(TierMaker):
    """Settings shared by the NEB tiers (lengths in A, forces in eV/A, times in s)."""

    name: str = "neb"
    min_length_angstrom: float = 10.0
    n_hops: int = 1
    max_hop_angstrom: float = 4.0
    bvse_resolution_angstrom: float = 0.3
    seed_method: str = "bvse"
    n_images: int = 5
    fmax_ev_per_angstrom: float = 0.05
    endpoint_fmax_ev_per_angstrom: float = 0.01
    spring_constant_ev_per_angstrom2: float = 0.1
    optimizer: str = "FIRE"
    max_steps_relax: int = 200
    max_steps_neb: int = 200
    max_steps_ci: int = 200
    walltime_s: float | None = None
    work_dir: str | None = None

    packages: ClassVar[tuple[str, ...]] = (
        "pymatgen",
        "ase",
        "pymatgen-analysis-diffusion",
        "bvlain",
        "emmet-core",
    )

    def run_settings(self) -> NEBRunSettings:
        """Return the numerical NEB settings."""
        return NEBRunSettings(
            n_images=self.n_images,
            fmax_ev_per_angstrom=self.fmax_ev_per_angstrom,
            endpoint_fmax_ev_per_angstrom=self.endpoint_fmax_ev_per_angstrom,
            spring_constant_ev_per_angstrom2=self.spring_constant_ev_per_angstrom2,
            optimizer=self.optimizer,
            max_steps_relax=self.max_steps_relax,
            max_steps_neb=self.max_steps_neb,
            max_steps_ci=self.max_steps_ci,
            walltime_s=self.walltime_s,
        )

    def job_dir(self, candidate_id: str) -> Path:
        """Return the stable directory of this candidate's run (resumable)."""
        root = Path(self.work_dir) if self.work_dir else Path.cwd() / "sseflow-neb"
        return root / self.tier / candidate_id

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[_NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Check the calculator can run.

        Returns the Maker to run with, the structure and landscape to use and extra
        document fields.
        """
        return self, candidate.structure, landscape, {}

    def _run(self, candidate: Candidate, landscape: BVSELandscape | None) -> NEBDocument:
        def compute() -> dict[str, Any]:
            try:
                runner, structure, land, extra = self.preflight(candidate, landscape)
                values = run_structure_neb(
                    structure,
                    runner.calculator_factory,
                    self.job_dir(candidate.candidate_id),
                    landscape=land,
                    min_length_angstrom=self.min_length_angstrom,
                    n_hops=self.n_hops,
                    max_hop_angstrom=self.max_hop_angstrom,
                    bvse_resolution_angstrom=self.bvse_resolution_angstrom,
                    seed_method=self.seed_method,
                    run_settings=self.run_settings(),
                )
            except (QESetupError, NEBCalculatorError) as exc:
                raise TierFailure(str(exc)) from exc
            return {**values, **extra}

        doc = self.tier_document(NEBDocument, candidate.candidate_id, compute)
        return _judge_convergence(doc)

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Calculator]:
        """Return ``factory(label)`` building one calculator per image."""
        raise NotImplementedError


@dataclass
class CHGNetNEBMaker(_NEBTierMaker):
    """CI-NEB with the CHGNet universal potential (weights ship with chgnet 0.4.2).

    The vacancy is a removed Li atom: CHGNet has no notion of cell charge, so
    ``vacancy_charge_e`` is None.
    """

    name: str = "neb_mlip"
    torch_threads: int = 1

    tier: ClassVar[str] = "neb_mlip"
    batch: ClassVar[bool] = False
    packages: ClassVar[tuple[str, ...]] = (*_NEBTierMaker.packages, "chgnet", "torch")

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Calculator]:
        """Return a factory of CHGNet calculators sharing one loaded model."""
        import torch
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        torch.set_num_threads(self.torch_threads)
        model = CHGNet.load(verbose=False)
        return lambda label: CHGNetCalculator(model=model, use_device="cpu")

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[_NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Return self, the candidate's structure and the calculator description."""
        from importlib.metadata import version

        return (
            self,
            candidate.structure,
            landscape,
            {
                "calculator": f"CHGNet {version('chgnet')}",
                "calculator_settings": {"model": "chgnet package default (CHGNet.load())"},
                "vacancy_charge_e": None,
            },
        )

    @job
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the CHGNet CI-NEB tier for one candidate."""
        return self._run(candidate, _landscape(bvse_landscape))


@dataclass
class QENEBMaker(_NEBTierMaker):
    """CI-NEB with Quantum ESPRESSO pw.x driven by ASE (one Espresso per image).

    ``charged_vacancy=True`` (default) removes a Li+ and sets ``tot_charge = -1``: the
    cell keeps the electrons of the removed Li, compensated by QE's uniform background.
    ``False`` removes a neutral Li atom (``tot_charge = 0``).

    Cutoffs and k-points come from ``qe`` or, with ``convergence_test=True``, from
    :func:`~sseflow.analysis.qe_calc.converge_cutoff_and_kpoints` on the unit cell
    (``convergence_tolerance_ev_per_atom``, 1 meV/atom by default; the converged
    k-point spacing is reused for the supercell). ``relax_bulk=True`` relaxes cell and
    positions of the ordered unit cell first (``tstress=True``). Production settings
    follow thesis A.4: PAW pseudopotentials (pslibrary), ``min_length_angstrom=10``,
    ``endpoint_fmax_ev_per_angstrom=3e-4``, ``fmax_ev_per_angstrom=0.05``; ``qe``
    carries the MPI launcher (e.g. ``"mpirun -np 64"``) for HPC.
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

    @property
    def tot_charge(self) -> float:
        """Total cell charge (e) passed to pw.x."""
        return -1.0 if self.charged_vacancy else 0.0

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Any]:
        """Return a factory of Espresso calculators, one directory per image."""
        qe, charge = self.qe, self.tot_charge
        elements = list(qe.pseudopotentials)
        return lambda label: make_espresso(elements, qe, hop_dir / label, charge)

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[_NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
        """Check pw.x and pseudopotentials, converge settings and relax the bulk if asked."""
        elements = sorted({el.symbol for el in candidate.structure.composition.elements})
        check_pw_command(self.qe)
        pseudos = find_pseudopotentials(elements, self.qe.pseudo_dir, self.qe.pseudopotentials)
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
            structure, landscape, bulk = runner._relax_bulk(candidate, landscape)
            extra["calculator_settings"] = {**extra["calculator_settings"], "bulk_relax": bulk}
        return runner, structure, landscape, extra

    def _relax_bulk(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[Structure, BVSELandscape | None, dict[str, Any]]:
        """Relax cell and positions of the ordered unit cell (neutral, tstress=True)."""
        from ase.filters import FrechetCellFilter
        from ase.optimize import BFGS

        ordering = order_structure(candidate.structure)
        structure = ordering.structure
        atoms = AseAtomsAdaptor.get_atoms(structure)
        atoms.calc = make_espresso(
            atoms.get_chemical_symbols(),
            self.qe,
            self.job_dir(candidate.candidate_id) / "bulk_relax",
            tstress=True,
        )
        try:
            opt = BFGS(FrechetCellFilter(atoms), logfile=None)  # type: ignore[arg-type]
            converged = bool(
                opt.run(fmax=self.bulk_fmax_ev_per_angstrom, steps=self.max_steps_relax)
            )
        except Exception as exc:
            raise NEBCalculatorError(
                f"calculator failed during the bulk relaxation: {exc}"
            ) from exc
        relaxed = structure.copy()
        relaxed.lattice = AseAtomsAdaptor.get_structure(atoms).lattice
        for i, site in enumerate(AseAtomsAdaptor.get_structure(atoms)):
            relaxed.replace(i, relaxed[i].species, site.frac_coords)
        if landscape is not None:
            same_cell = np.allclose(landscape.lattice, structure.lattice.matrix, atol=1e-3)
            # a BVSE grid of the same cell is fractional: it follows the strained cell;
            # otherwise the landscape is recomputed on the relaxed cell
            landscape = (
                BVSELandscape(relaxed.lattice.matrix, landscape.energies_ev) if same_cell else None
            )
        record = {
            "converged": converged,
            "n_steps": opt.nsteps,
            "volume_change_percent": 100 * (relaxed.volume / structure.volume - 1),
            "energy_ev": float(atoms.get_potential_energy()),
        }
        return relaxed, landscape, record

    def _converge(self, candidate: Candidate, qe: QESettings) -> tuple[QESettings, dict[str, Any]]:
        """Converge cutoff and k-points on the ordered unit cell (1 meV/atom default)."""
        structure = order_structure(candidate.structure).structure
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

    @job
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the Quantum ESPRESSO CI-NEB tier for one candidate."""
        return self._run(candidate, _landscape(bvse_landscape))
