"""The BVSE tier: Li+ percolation barriers from bond-valence site energies (bvlain)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from jobflow import Job, job

from sseflow.analysis.bvse import (
    BVSEError,
    BVSESettings,
    Dimension,
    OccupancyMode,
    bvse_barriers,
    prepare_bvse_framework,
)
from sseflow.makers.base import TierFailure, TierMaker
from sseflow.schemas.bvse import BVSEDocument, BVSEGrid
from sseflow.schemas.candidate import Candidate


@dataclass
class BVSEMaker(TierMaker):
    """Compute E_1D/E_2D/E_3D Li+ percolation barriers of one candidate.

    Parameters
    ----------
    name
        Job name.
    dimension
        Which barrier is reported as ``ea_ev`` (the one the default gate uses).
    occupancy_mode
        ``weighted`` or ``majority`` handling of partially occupied framework sites.
    resolution_angstrom, r_cut_angstrom, k_neighbors, screening_factor, encut_ev
        bvlain settings (grid spacing A, cut-off A, neighbours, Coulomb screening,
        percolation window eV).
    time_limit_s, memory_limit_gb
        Per-structure guards; exceeding them records the candidate as failed.
    keep_grid
        Keep the energy grid in the job output (data store) for the CI-NEB tier.
    """

    name: str = "bvse"
    dimension: Dimension = "1D"
    occupancy_mode: OccupancyMode = "weighted"
    resolution_angstrom: float = 0.2
    r_cut_angstrom: float = 10.0
    k_neighbors: int = 100
    screening_factor: float = 0.74
    encut_ev: float = 5.0
    time_limit_s: float = 600.0
    memory_limit_gb: float = 8.0
    keep_grid: bool = True

    tier: ClassVar[str] = "bvse"
    packages: ClassVar[tuple[str, ...]] = ("bvlain", "pymatgen", "ase", "numpy")

    def bvse_settings(self) -> BVSESettings:
        """Return the analysis settings held by this Maker."""
        return BVSESettings(
            resolution_angstrom=self.resolution_angstrom,
            r_cut_angstrom=self.r_cut_angstrom,
            k_neighbors=self.k_neighbors,
            screening_factor=self.screening_factor,
            encut_ev=self.encut_ev,
            occupancy_mode=self.occupancy_mode,
            time_limit_s=self.time_limit_s,
            memory_limit_gb=self.memory_limit_gb,
        )

    def make(self, candidate: Candidate) -> Job:
        """Return the BVSE job for one candidate; its output is a BVSEDocument."""
        new_job = bvse_activation_energy(candidate, self)
        new_job.name = f"{self.name} {candidate.formula} {candidate.candidate_id}"
        return new_job


@job(data="grid")
def bvse_activation_energy(candidate: Candidate, maker: BVSEMaker) -> BVSEDocument:
    """Run the BVSE tier on one candidate (see :class:`BVSEMaker`)."""
    settings = maker.bvse_settings()

    def compute() -> dict:
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
            "grid": grid,
        }

    return maker.tier_document(BVSEDocument, candidate.candidate_id, compute)
