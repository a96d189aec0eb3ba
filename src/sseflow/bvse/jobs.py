"""The BVSE tier: Li+ percolation barriers from bond-valence site energies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, cast

from jobflow import Job, job

from sseflow.bvse.engine import bvse_barriers
from sseflow.bvse.framework import prepare_bvse_framework
from sseflow.bvse.schemas import BVSEDocument, BVSEGrid
from sseflow.bvse.settings import BVSEError, BVSESettings, Dimension
from sseflow.common.candidate import Candidate
from sseflow.common.maker import TierFailure, TierMaker


@dataclass
class BVSEMaker(TierMaker):
    """Compute E_1D/E_2D/E_3D Li+ percolation barriers of one candidate.

    Parameters
    ----------
    name
        Job name.
    dimension
        Which barrier is reported as ``ea_ev`` (the one the default gate uses).
    bvse
        Settings of the calculation (grid spacing, cut-off, occupancy handling, time
        and memory guards); a mapping is accepted (YAML). Its fields may also be given
        flat (``BVSEMaker(resolution_angstrom=0.3)``), as in funnel files written
        before the Maker held them whole.
    keep_grid
        Keep the energy grid in the job output (data store) for the CI-NEB tier.

    Notes
    -----
    The engine (``bvse.engine``, ``native`` by default) enters the settings hash only
    when it is not ``bvlain``: results stored before the native engine existed were all
    computed by bvlain, so they keep their hash and are reused by runs that ask for
    ``engine="bvlain"`` (as do Makers serialised before the engine existed, see
    :meth:`from_dict`); runs with the default native engine have a new hash and compute
    their results once with it (the two engines' barriers differ by up to bvlain's 0.01
    eV bisection step, more where bvlain's 2x2x2-image test misjudges a network's
    dimensionality: see :mod:`sseflow.bvse.percolation`).

    Examples
    --------
    >>> from sseflow.bvse import BVSEMaker, BVSESettings
    >>> maker = BVSEMaker(bvse=BVSESettings(resolution_angstrom=0.3))
    >>> maker.tier_settings()["resolution_angstrom"]
    0.3
    >>> maker.tier_settings()["engine"], "engine" in BVSEMaker(engine="bvlain").tier_settings()
    ('native', False)
    """

    name: str = "bvse"
    dimension: Dimension = "1D"
    bvse: BVSESettings = field(default_factory=BVSESettings)
    keep_grid: bool = True

    tier: ClassVar[str] = "bvse"
    document_class: ClassVar[type[BVSEDocument]] = BVSEDocument
    packages: ClassVar[tuple[str, ...]] = ("bvlain", "numba", "scipy", "pymatgen", "ase", "numpy")
    flat_settings: ClassVar[tuple[str, ...]] = ("bvse",)
    #: bvlain computed every BVSE result stored before the native engine existed
    hashed_if_changed: ClassVar[dict[str, Any]] = {"engine": "bvlain"}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BVSEMaker:
        """Rebuild a serialised Maker; one serialised without an engine keeps bvlain.

        Makers stored before the engine setting existed (in workflows on a LaunchPad or
        in a job store) ran bvlain: they keep running it, and so keep their settings
        hash and reuse their stored results. Plain mappings (funnel YAML) get the
        default engine.
        """
        d = dict(d)
        nested = d.get("bvse")
        if isinstance(nested, dict):
            if "engine" not in nested:
                d["bvse"] = {**nested, "engine": "bvlain"}
        elif "engine" not in d:
            d["engine"] = "bvlain"
        # monty types from_dict as returning MSONable; it returns an instance of cls
        return cast("BVSEMaker", super().from_dict(d))

    def make(self, candidate: Candidate) -> Job:
        """Return the BVSE job for one candidate; its output is a BVSEDocument."""
        new_job = bvse_activation_energy(candidate, self)
        new_job.name = f"{self.name} {candidate.formula} {candidate.candidate_id}"
        return new_job


@job(data="grid")
def bvse_activation_energy(candidate: Candidate, maker: BVSEMaker) -> BVSEDocument:
    """Run the BVSE tier on one candidate (see :class:`BVSEMaker`)."""
    settings = maker.bvse

    def compute() -> dict[str, Any]:
        try:
            framework = prepare_bvse_framework(candidate.structure, settings.occupancy_mode)
            result = bvse_barriers(framework, settings)
        except BVSEError as exc:
            raise TierFailure(str(exc)) from exc
        barriers = {"1D": result.ea_1d_ev, "2D": result.ea_2d_ev, "3D": result.ea_3d_ev}
        grid = None
        if maker.keep_grid:
            grid = BVSEGrid.from_array(
                result.energies_ev, result.lattice_matrix, settings.resolution_angstrom
            )
        return {
            "ea_ev": barriers[maker.dimension],
            "dimension": maker.dimension,
            "ea_1d_ev": result.ea_1d_ev,
            "ea_2d_ev": result.ea_2d_ev,
            "ea_3d_ev": result.ea_3d_ev,
            "occupancy_mode": framework.occupancy_mode,
            "n_partial_sites": framework.n_partial_sites,
            "n_dropped_sites": framework.n_dropped_sites,
            "mixed_valence": framework.mixed_valence or None,
            "n_framework_atoms": result.n_framework_atoms,
            "grid_shape": tuple(result.energies_ev.shape),
            "peak_memory_mb": round(result.peak_memory_mb, 1),
            "engine": result.engine,
            "grid": grid,
        }

    return maker.tier_document(BVSEDocument, candidate.candidate_id, compute)
