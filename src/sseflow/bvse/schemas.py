"""BVSE tier document and the stored energy grid."""

from __future__ import annotations

import base64
import zlib
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, Field

from sseflow.common.document import TierDocument


class BVSEGrid(BaseModel):
    """The Li+ BVSE energy landscape of the unit cell, compressed.

    Grid point ``(i, j, k)`` sits at fractional coordinates
    ``(i / (na - 1), j / (nb - 1), k / (nc - 1))`` (bvlain's grid: both cell faces are
    included, so the last plane repeats the first); both engines store this layout.
    Energies are in eV relative to the landscape minimum; a point on a cation's centre
    (infinite energy) holds the largest float32.
    """

    lattice_matrix: list[list[float]] = Field(..., description="Cell vectors as rows, A.")
    shape: tuple[int, int, int] = Field(..., description="(na, nb, nc) grid points.")
    resolution_angstrom: float = Field(..., description="Nominal grid spacing, A.")
    energies_ev_zlib_b64: str = Field(..., description="float32 energies, C order, zlib+base64.")

    @classmethod
    def from_array(
        cls, energies_ev: np.ndarray, lattice_matrix: np.ndarray, resolution: float
    ) -> BVSEGrid:
        """Compress an (na, nb, nc) energy array."""
        data = np.ascontiguousarray(energies_ev, dtype="<f4")
        return cls(
            lattice_matrix=np.asarray(lattice_matrix, dtype=float).tolist(),
            shape=tuple(int(n) for n in data.shape),  # type: ignore[arg-type]
            resolution_angstrom=resolution,
            energies_ev_zlib_b64=base64.b64encode(zlib.compress(data.tobytes(), 6)).decode(),
        )

    def to_array(self) -> np.ndarray:
        """Return the (na, nb, nc) float32 energy array, eV."""
        raw = zlib.decompress(base64.b64decode(self.energies_ev_zlib_b64))
        return np.frombuffer(raw, dtype="<f4").reshape(self.shape).copy()


class BVSEDocument(TierDocument):
    """Li+ BVSE percolation barriers of one candidate.

    A barrier is None when Li+ does not percolate in that dimensionality within the
    search window (``settings.encut_ev``).
    """

    tier: str = "bvse"
    ea_ev: float | None = Field(None, description="Barrier in the gated dimension, eV.")
    dimension: str | None = Field(None, description="Dimension of ea_ev: 1D, 2D or 3D.")
    ea_1d_ev: float | None = Field(None, description="1D percolation barrier, eV.")
    ea_2d_ev: float | None = Field(None, description="2D percolation barrier, eV.")
    ea_3d_ev: float | None = Field(None, description="3D percolation barrier, eV.")
    occupancy_mode: str | None = Field(None, description="weighted or majority.")
    n_partial_sites: int | None = Field(None, description="Partially occupied sites in input.")
    n_dropped_sites: int | None = Field(None, description="Sites dropped (majority mode).")
    mixed_valence: dict[str, float] | None = Field(None, description="Element-averaged states.")
    n_framework_atoms: int | None = Field(None, description="Atoms in the BVSE framework.")
    grid_shape: tuple[int, int, int] | None = Field(None, description="Grid points (na, nb, nc).")
    peak_memory_mb: float | None = Field(None, description="Peak RSS of the BVSE process, MB.")
    engine: str | None = Field(None, description="BVSE engine: native or bvlain.")
    grid: BVSEGrid | None = Field(None, description="Energy landscape (data store only).")

    record_exclude: ClassVar[set[str]] = {"grid"}
