"""CI-NEB tier Makers: a universal-potential pre-tier (CHGNet) and Quantum ESPRESSO.

Both run the same preparation and NEB code (:mod:`sseflow.analysis.neb_workflow`) and
return a :class:`~sseflow.schemas.neb.NEBDocument`. A run that stops before the CI stage
converges (step limit, walltime) or whose calculator crashes is recorded with
``status='failed'`` and the reason; images are on disk in ``work_dir`` and a re-run of
the same job resumes from them.

BVSE landscape, first that applies:

1. ``make(candidate, bvse_landscape=...)`` (a
   :class:`~sseflow.analysis.bvse_landscape.BVSELandscape`, the BVSE tier's
   :class:`~sseflow.schemas.bvse.BVSEGrid`, or the dict of either);
2. inside the funnel (``use_stored_bvse_grid=True``): the grid the BVSE tier stored for
   this candidate (candidate record -> ``tiers.bvse.job_uuid`` -> the job's output in
   the ``data`` store), when it is of the structure's cell (see
   :mod:`sseflow.makers.stored_bvse`). The NEB jobs run with ``expose_store=True`` for
   this; used alone (no sseflow store) they skip this step;
3. otherwise computed with bvlain at ``bvse_resolution_angstrom`` (0.3 A by default:
   coarse, but only used to rank hops and seed the path) on the ordered unit cell.

``bvse_landscape_source`` in the document says which (``"stored grid <uuid>"``,
``"given (make argument)"`` or ``"recomputed (bvlain, 0.3 A)"``) and
``bvse_landscape_note`` why a stored grid was not used.

Disordered candidates: the stored grid is that of the structure as ingested (framework
sites weighted by occupancy, or the majority species, per the BVSE tier's
``occupancy_mode``); the NEB tier orders the structure first (lowest Ewald energy),
which keeps the lattice (or makes a supercell of it in the same frame), so the stored
grid still covers every position. It is used as is: it is the landscape the BVSE gate
judged, so the NEB computes the hop the screening found limiting, and it only ranks
hops and seeds the path (endpoints and band are relaxed in the ordered cell). Hops that
are equivalent in the averaged structure but not in the ordering get (nearly) equal
BVSE barriers. ``use_stored_bvse_grid=False`` recomputes the landscape on the ordered
cell instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator
from jobflow import CURRENT_JOB, JobConfig, job
from pymatgen.core import Structure
from pymatgen.io.ase import AseAtomsAdaptor

from sseflow.analysis.bvse_landscape import BVSELandscape, BVSELandscapeError
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
    pw_version,
)
from sseflow.makers.base import TierFailure, TierMaker
from sseflow.makers.stored_bvse import stored_bvse_landscape
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
    where = ""
    if stopped is not None:
        resumable = not why.startswith("intermediate minimum")  # a re-run stops there again
        where = f"; images kept in {stopped.work_dir}" + (", re-run resumes there" * resumable)
    return doc.model_copy(update={"status": TierStatus.FAILED, "reason": f"NEB {why}{where}"})


#: NEB jobs read the candidate's stored BVSE grid from the job store.
NEB_JOB_CONFIG = JobConfig(expose_store=True)

#: Endpoint force threshold of the reference work (thesis A.4), eV/A.
THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM = 3e-4


@dataclass
class _NEBTierMaker(TierMaker):
    """Settings shared by the NEB tiers (lengths in A, forces in eV/A, times in s).

    Endpoints are relaxed to ``endpoint_fmax_ev_per_angstrom`` = 3e-4 eV/A, the value
    of the reference work (thesis A.4, :data:`THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM`),
    in at most ``max_steps_relax`` = 1000 steps: in soft cells a looser threshold
    stops far from the minimum (CHGNet, Li3N vacancy endpoint: 0.01 eV/A left it
    52 meV above the 3e-4 eV/A minimum; measurements in ``docs/neb.md``). The NEB and
    CI stages stop at ``fmax_ev_per_angstrom`` = 0.05 eV/A, as in the reference work.
    ``intermediate_minimum_tolerance_ev``: before the climbing-image stage the run stops
    (``status='failed'``, with the reason) when an image lies more than this below
    both endpoints; None disables the check.
    """

    name: str = "neb"
    min_length_angstrom: float = 10.0
    n_hops: int = 1
    max_hop_angstrom: float = 4.0
    bvse_resolution_angstrom: float = 0.3
    seed_method: str = "bvse"
    n_images: int = 5
    fmax_ev_per_angstrom: float = 0.05
    endpoint_fmax_ev_per_angstrom: float = THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM
    spring_constant_ev_per_angstrom2: float = 0.1
    optimizer: str = "FIRE"
    max_steps_relax: int = 1000
    max_steps_neb: int = 200
    max_steps_ci: int = 200
    walltime_s: float | None = None
    work_dir: str | None = None
    use_stored_bvse_grid: bool = True
    intermediate_minimum_tolerance_ev: float | None = 0.05

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
            intermediate_minimum_tolerance_ev=self.intermediate_minimum_tolerance_ev,
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

    def choose_landscape(
        self, candidate: Candidate, given: BVSELandscape | None
    ) -> tuple[BVSELandscape | None, dict[str, Any]]:
        """Return the landscape to start from and the document fields saying which.

        None means: compute it with bvlain during the preparation.
        """
        if given is not None:
            return given, {"bvse_landscape_source": "given (make argument)"}
        info: dict[str, Any] = {"bvse_landscape_source": self._recomputed}
        if not self.use_stored_bvse_grid:
            info["bvse_landscape_note"] = "use_stored_bvse_grid=False"
            return None, info
        found = stored_bvse_landscape(
            CURRENT_JOB.store, candidate.candidate_id, candidate.structure.lattice.matrix
        )
        if found.landscape is None:
            info["bvse_landscape_note"] = found.reason
            info["bvse_grid_job_uuid"] = found.job_uuid
            return None, info
        return found.landscape, {
            "bvse_landscape_source": f"stored grid {found.job_uuid}",
            "bvse_grid_job_uuid": found.job_uuid,
        }

    @property
    def _recomputed(self) -> str:
        return f"recomputed (bvlain, {self.bvse_resolution_angstrom} A)"

    def _run(self, candidate: Candidate, given: BVSELandscape | None) -> NEBDocument:
        def compute() -> dict[str, Any]:
            landscape, source = self.choose_landscape(candidate, given)
            try:
                runner, structure, land, extra = self.preflight(candidate, landscape)
                if landscape is not None and land is None:
                    source = {
                        **source,
                        "bvse_landscape_source": self._recomputed,
                        "bvse_landscape_note": "the bulk relaxation changed the cell",
                    }
                elif land is not landscape:
                    text = f"{source['bvse_landscape_source']}, mapped onto the relaxed cell"
                    source = {**source, "bvse_landscape_source": text}
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
            except (QESetupError, NEBCalculatorError, BVSELandscapeError) as exc:
                raise TierFailure(str(exc)) from exc
            return {**values, **extra, **source}

        doc = self.tier_document(NEBDocument, candidate.candidate_id, compute)
        return _judge_convergence(self.after_run(candidate, doc))

    def after_run(self, candidate: Candidate, doc: NEBDocument) -> NEBDocument:
        """Add what is only known once the calculator ran (e.g. its version)."""
        return doc

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

    @job(config=NEB_JOB_CONFIG)
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

    def __post_init__(self) -> None:
        if isinstance(self.qe, dict):  # from a YAML/JSON funnel description
            self.qe = QESettings(**{k: v for k, v in self.qe.items() if not k.startswith("@")})

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
        version = pw_version(self.qe, self.job_dir(candidate.candidate_id))
        update: dict[str, Any] = {
            "qe_version": version,
            "software": {**doc.software, "quantum-espresso": version},
        }
        if doc.calculator:
            update["calculator"] = f"Quantum ESPRESSO pw.x {version} (ASE Espresso)"
        return doc.model_copy(update=update)

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
            # the grid is fractional: one of the ordered cell (or of a cell the ordered
            # cell is a supercell of) follows the strain; otherwise recompute it
            if landscape.fits_lattice(structure.lattice.matrix):
                multiples = np.round(
                    np.linalg.solve(landscape.lattice.T, structure.lattice.matrix.T).T
                )
                strained = np.linalg.solve(multiples, relaxed.lattice.matrix)
                landscape = BVSELandscape(strained, landscape.energies_ev)
            else:
                landscape = None
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

    @job(config=NEB_JOB_CONFIG)
    def make(
        self, candidate: Candidate, bvse_landscape: BVSELandscape | dict | None = None
    ) -> NEBDocument:
        """Run the Quantum ESPRESSO CI-NEB tier for one candidate."""
        return self._run(candidate, _landscape(bvse_landscape))
