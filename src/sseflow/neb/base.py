"""What the CI-NEB tier Makers share: settings, BVSE landscape choice, the run itself.

Every NEB Maker (:mod:`sseflow.neb.jobs`, :mod:`sseflow.qe.jobs`) runs the same
preparation and NEB code (:mod:`sseflow.neb.workflow`) and returns a
:class:`~sseflow.neb.schemas.NEBDocument`. A run that stops before the CI stage converges
(step limit, walltime) or whose calculator crashes is recorded with
``status='failed'`` and the reason; images are on disk in ``work_dir`` and a re-run of
the same job resumes from them.

BVSE landscape, first that applies:

1. ``make(candidate, bvse_landscape=...)`` (a
   :class:`~sseflow.bvse.landscape.BVSELandscape`, the BVSE tier's
   :class:`~sseflow.bvse.schemas.BVSEGrid`, or the dict of either);
2. inside the funnel (``use_stored_bvse_grid=True``): the grid the BVSE tier stored for
   this candidate (candidate record -> ``tiers.bvse.job_uuid`` -> the job's output in
   the ``data`` store), when it is of the structure's cell (see
   :mod:`sseflow.bvse.stored`). The NEB jobs run with ``expose_store=True`` for
   this; used alone (no sseflow store) they skip this step;
3. otherwise computed with bvlain at ``bvse_resolution_angstrom`` (0.2 A by default,
   the BVSE tier's resolution, so a Maker run alone ranks hops as the funnel does; at
   0.3 A the Li2Te face-diagonal hop came out 0.13 eV below the cube edge, at 0.2 A
   they tie) on the ordered unit cell.

``bvse_landscape_source`` in the document says which (``"stored grid <uuid>"``,
``"given (make argument)"`` or ``"recomputed (bvlain, 0.2 A)"``) and
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ase.calculators.calculator import Calculator
from jobflow import CURRENT_JOB, JobConfig
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape, BVSELandscapeError
from sseflow.bvse.schemas import BVSEGrid
from sseflow.bvse.stored import stored_bvse_landscape
from sseflow.common.candidate import Candidate
from sseflow.common.document import TierStatus
from sseflow.common.maker import TierFailure, TierMaker
from sseflow.neb.bvse_path import PathError
from sseflow.neb.hops import HOP_ORDERS, HopError
from sseflow.neb.images import ImageError
from sseflow.neb.ordering import OrderingSettings
from sseflow.neb.ordering_samples import run_ordering_samples
from sseflow.neb.runner import INTERMEDIATE_MINIMUM, NEBCalculatorError, NEBRunSettings
from sseflow.neb.schemas import NEBDocument
from sseflow.neb.supercell import StructurePreparationError
from sseflow.neb.workflow import run_structure_neb
from sseflow.settings import get_settings


def landscape_from(value: Any) -> BVSELandscape | None:
    """Accept a BVSELandscape, its dict, or the BVSE tier's BVSEGrid (or its dict)."""
    if value is None or isinstance(value, BVSELandscape):
        return value
    if isinstance(value, BVSEGrid) or (isinstance(value, dict) and "energies_ev_zlib_b64" in value):
        return BVSELandscape.from_bvse_grid(value)
    return BVSELandscape.from_dict(value)


def judge_convergence(doc: NEBDocument) -> NEBDocument:
    """Turn an unconverged (but finished) NEB into ``status='failed'`` with the reason."""
    if doc.status != TierStatus.PENDING or doc.converged:
        return doc
    stopped = next((h for h in doc.hops if not h.converged), None)
    why = stopped.termination if stopped else "not converged"
    where = ""
    if stopped is not None:
        resumable = INTERMEDIATE_MINIMUM not in why  # a re-run stops there again
        where = f"; images kept in {stopped.work_dir}" + (", re-run resumes there" * resumable)
    return doc.model_copy(update={"status": TierStatus.FAILED, "reason": f"NEB {why}{where}"})


def tier_run_dir(
    work_dir: str | None, tier: str, candidate_id: str, settings_hash: str | None = None
) -> Path:
    """Return ``<work_dir or SSEFLOW_WORK_DIR>/<tier>/<candidate_id>[/<settings_hash[:12]>]``.

    With the Maker's settings hash in the path, runs of the same candidate with other
    settings (another potential, other NEB settings) never share a folder, while a
    killed run with the same settings finds its files again. The path is absolute.
    """
    root = Path(work_dir) if work_dir else get_settings().work_dir
    folder = root.resolve() / tier / candidate_id
    return folder / settings_hash[:12] if settings_hash else folder


#: NEB jobs read the candidate's stored BVSE grid from the job store.
NEB_JOB_CONFIG = JobConfig(expose_store=True)

#: Endpoint force threshold of the reference work (thesis A.4), eV/A.
THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM = 3e-4


@dataclass
class NEBTierMaker(TierMaker):
    """Settings shared by the NEB tiers (lengths in A, forces in eV/A, times in s).

    ``neb`` holds the numerical settings of the run whole
    (:class:`~sseflow.neb.runner.NEBRunSettings`; a mapping is accepted, and its fields
    may be given flat, e.g. ``CHGNetNEBMaker(n_images=3)``). Endpoints are relaxed to
    ``neb.endpoint_fmax_ev_per_angstrom`` = 3e-4 eV/A, the value of the reference work
    (thesis A.4, :data:`THESIS_ENDPOINT_FMAX_EV_PER_ANGSTROM`), in at most
    ``neb.max_steps_relax`` = 1000 steps: in soft cells a looser threshold stops far
    from the minimum (CHGNet, Li3N vacancy endpoint: 0.01 eV/A left it 52 meV above the
    3e-4 eV/A minimum; measurements in ``docs/neb.md``). The NEB and CI stages stop at
    ``neb.fmax_ev_per_angstrom`` = 0.05 eV/A, as in the reference work. Before the
    climbing-image stage the run stops (``status='failed'``, with the reason) when an
    image lies more than ``neb.intermediate_minimum_tolerance_ev`` below both
    endpoints; None disables the check.

    Parameters
    ----------
    min_length_angstrom
        Smallest distance between a vacancy and its periodic images in the supercell.
    n_hops
        How many symmetry-distinct hops of the BVSE percolation path to compute.
    hop_order
        Which of them first (:func:`~sseflow.neb.hops.select_hops`): ``"bottleneck"``
        (default) the family that completed the BVSE percolation, i.e. the highest
        barrier long-range transport must cross; ``"lowest"`` the lowest BVSE barrier
        (before 2026-11-29; the same hop wherever one family percolates alone).
    max_hop_angstrom
        Longest Li-Li hop considered (A); None (default) derives a safety limit from
        the structure (2 x the distance at which the Li sites percolate,
        :func:`~sseflow.neb.hops.hop_search_limit`): the BVSE landscape decides which
        hops are computed, whatever their length.
    bvse_resolution_angstrom
        Grid spacing when the BVSE landscape has to be recomputed.
    seed_method
        ``bvse`` (images on the BVSE path), ``idpp`` or ``linear``.
    neb
        Numerical settings of the NEB run.
    ordering
        How a disordered candidate is ordered
        (:class:`~sseflow.neb.ordering.OrderingSettings`; fields may be given flat, e.g.
        ``ordering_max_deviation=0.1``): exactly when a cell of up to 4 formula
        multiples makes every occupancy integral, otherwise approximately in the NEB
        supercell (refused beyond ``ordering_max_deviation`` or ``ordering_max_atoms``).
    ordering_samples
        Distinct approximate orderings of a disordered candidate to run the NEB on
        (:mod:`sseflow.neb.ordering_samples`; seeds ``ordering_seed``, +1, ...). The
        document holds the run with the median barrier, every sample's barrier
        (``ordering_samples``) and their spread (``barrier_spread_ev``); each sample has
        the whole ``neb.walltime_s``. 1 (default) runs the single lowest-energy ordering;
        ordered and exactly ordered inputs are always run once.
    work_dir
        Root of the run folders; None uses ``SSEFLOW_WORK_DIR`` (see
        :class:`~sseflow.settings.SseflowSettings`).
    use_stored_bvse_grid
        Start from the BVSE tier's stored grid inside the funnel.
    """

    name: str = "neb"
    min_length_angstrom: float = 10.0
    n_hops: int = 1
    hop_order: str = "bottleneck"
    max_hop_angstrom: float | None = None
    bvse_resolution_angstrom: float = 0.2
    seed_method: str = "bvse"
    neb: NEBRunSettings = field(default_factory=NEBRunSettings)
    ordering: OrderingSettings = field(default_factory=OrderingSettings)
    ordering_samples: int = 1
    work_dir: str | None = None
    use_stored_bvse_grid: bool = True

    packages: ClassVar[tuple[str, ...]] = (
        "pymatgen",
        "ase",
        "pymatgen-analysis-diffusion",
        "bvlain",
        "emmet-core",
    )
    document_class: ClassVar[type[NEBDocument]] = NEBDocument
    #: Errors that are a property of the candidate or the set-up, recorded as the
    #: tier's failure reason (anything else is recorded with where it happened).
    expected_errors: ClassVar[tuple[type[Exception], ...]] = (
        NEBCalculatorError,
        BVSELandscapeError,
        HopError,
        PathError,
        ImageError,
        StructurePreparationError,
    )
    flat_settings: ClassVar[tuple[str, ...]] = ("neb", "ordering")
    #: NEBRunSettings fields the Makers did not expose before they held it whole, and
    #: the ordering settings: with their defaults every structure ordered before is
    #: ordered as before (exact ordering comes first; the approximate one only runs
    #: where the tier failed before, and failed results are never reused), so stored
    #: results keep their settings hash.
    hashed_if_changed: ClassVar[dict[str, Any]] = {
        "relax_endpoints": True,
        "climb": True,
        "neb_method": "improvedtangent",
        **vars(OrderingSettings()),
        # hashed at its default "bottleneck": results computed before with the lowest
        # hop first are not reused for it (they may be the wrong hop)
        "hop_order": "lowest",
        "ordering_samples": 1,
    }
    #: A Maker serialised before ``hop_order`` existed keeps the lowest hop first.
    legacy_defaults: ClassVar[dict[str, Any]] = {"hop_order": "lowest"}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hop_order not in HOP_ORDERS:
            raise ValueError(f"hop_order {self.hop_order!r}: choose from {HOP_ORDERS}")
        samples = self.ordering_samples
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(
                f"ordering_samples must be an integer >= 1, got {self.ordering_samples!r}"
            )

    def job_dir(self, candidate_id: str) -> Path:
        """Return the stable directory of this candidate's run with these settings.

        ``<work_dir>/<tier>/<candidate_id>/<settings hash[:12]>``: a re-run with the
        same settings resumes there, one with other settings gets its own folder.
        """
        return tier_run_dir(self.work_dir, self.tier, candidate_id, self.tier_settings_hash())

    def preflight(
        self, candidate: Candidate, landscape: BVSELandscape | None
    ) -> tuple[NEBTierMaker, Structure, BVSELandscape | None, dict[str, Any]]:
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
                work_dir = self.job_dir(candidate.candidate_id)

                def run_one(ordering: OrderingSettings, folder: Path) -> dict[str, Any]:
                    return self.run_neb_with(
                        structure,
                        runner.calculator_factory,
                        folder,
                        land,
                        runner.calculator_identity(),
                        ordering=ordering,
                    )

                values = run_ordering_samples(
                    run_one,
                    structure,
                    self.ordering,
                    self.ordering_samples,
                    work_dir,
                    expected_errors=self.expected_errors,
                    min_length_angstrom=self.min_length_angstrom,
                )
                values.update(runner.more_fields(structure, land, values, work_dir))
            except self.expected_errors as exc:
                raise TierFailure(str(exc)) from exc
            return {**values, **extra, **source}

        doc = self.tier_document(NEBDocument, candidate.candidate_id, compute)
        return judge_convergence(self.after_run(candidate, doc))

    def run_neb_with(
        self,
        structure: Structure,
        calculator_factory: Callable[[Path], Callable[[str], Calculator]],
        work_dir: Path,
        landscape: BVSELandscape | None,
        calculator_identity: Any,
        ordering: OrderingSettings | None = None,
    ) -> dict[str, Any]:
        """Run this Maker's NEB of ``structure`` with a calculator factory (document fields).

        ``calculator_identity`` identifies the factory's calculators in the runner's state
        (:func:`~sseflow.neb.runner.run_identity`); ``ordering`` replaces the Maker's
        ordering settings (another sample of a disordered structure).
        """
        return run_structure_neb(
            structure,
            calculator_factory,
            work_dir,
            landscape=landscape,
            min_length_angstrom=self.min_length_angstrom,
            n_hops=self.n_hops,
            max_hop_angstrom=self.max_hop_angstrom,
            bvse_resolution_angstrom=self.bvse_resolution_angstrom,
            seed_method=self.seed_method,
            run_settings=self.neb,
            calculator_identity=calculator_identity,
            ordering=ordering or self.ordering,
            hop_order=self.hop_order,
        )

    def more_fields(
        self,
        structure: Structure,
        landscape: BVSELandscape | None,
        values: dict[str, Any],
        work_dir: Path,
    ) -> dict[str, Any]:
        """Return document fields computed after the NEB (e.g. calibration, cross-checks)."""
        return {}

    def after_run(self, candidate: Candidate, doc: NEBDocument) -> NEBDocument:
        """Add what is only known once the calculator ran (e.g. its version)."""
        return doc

    def calculator_factory(self, hop_dir: Path) -> Callable[[str], Calculator]:
        """Return ``factory(label)`` building one calculator per image."""
        raise NotImplementedError

    def calculator_identity(self) -> dict[str, Any]:
        """Return what identifies this Maker's calculators (recorded by the runner)."""
        raise NotImplementedError
