"""The BVSE energy landscape of a mobile ion as a periodic grid over the unit cell.

This is the small interface between the BVSE tier and the CI-NEB tier: the BVSE tier
produces a :class:`BVSELandscape`, the NEB preparation reads energies from it to rank
hops and to seed the moving Li along the minimum-energy path.

Grid convention
---------------
``energies_ev[i, j, k]`` is the site energy (eV) of the mobile ion at fractional
coordinates ``(i / na, j / nb, k / nc)`` of ``lattice``: a periodic grid *without* the
duplicated end plane. bvlain builds its grid with ``numpy.linspace(0, 1, n)``, i.e. with
the plane at 1 repeating the plane at 0; :meth:`BVSELandscape.from_bvlain_grid` drops
that plane, after which the spacing ``1 / (n - 1)`` of bvlain equals ``1 / na`` here.

The landscape is evaluated at Cartesian positions. The structure it is used with must
share the Cartesian frame of ``lattice`` (the same cell, or any supercell made from it
with pymatgen, which keeps the frame); the landscape is periodic, so any position in
that frame can be evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from monty.json import MSONable
from numpy.typing import ArrayLike, NDArray
from pymatgen.core import Structure
from scipy.ndimage import map_coordinates


class BVSELandscapeError(ValueError):
    """The BVSE landscape is malformed or does not match the structure."""


@dataclass
class BVSELandscape(MSONable):
    """Mobile-ion site energies on a regular periodic fractional grid.

    Parameters
    ----------
    lattice
        3x3 lattice matrix (rows are the lattice vectors, Angstrom) of the cell the grid
        spans.
    energies_ev
        Array of shape ``(na, nb, nc)``: energy (eV) at fractional ``(i/na, j/nb, k/nc)``.
    """

    lattice: NDArray[np.float64]
    energies_ev: NDArray[np.float64]

    def __post_init__(self) -> None:
        self.lattice = np.asarray(self.lattice, dtype=float)
        self.energies_ev = np.asarray(self.energies_ev, dtype=float)
        if self.lattice.shape != (3, 3):
            raise BVSELandscapeError(f"lattice must be 3x3, got shape {self.lattice.shape}")
        if self.energies_ev.ndim != 3 or min(self.energies_ev.shape) < 2:
            raise BVSELandscapeError(
                f"energies_ev must be a 3-D grid (na, nb, nc), got {self.energies_ev.shape}"
            )
        if not np.all(np.isfinite(self.energies_ev)):
            raise BVSELandscapeError("energies_ev contains NaN or infinite values")
        if abs(np.linalg.det(self.lattice)) < 1e-6:
            raise BVSELandscapeError("lattice is singular")

    @property
    def shape(self) -> tuple[int, int, int]:
        """Grid shape ``(na, nb, nc)``."""
        na, nb, nc = self.energies_ev.shape
        return (int(na), int(nb), int(nc))

    @property
    def spacing_angstrom(self) -> float:
        """Largest grid spacing along a lattice vector (Angstrom)."""
        lengths = np.linalg.norm(self.lattice, axis=1)
        return float(np.max(lengths / np.array(self.shape)))

    def fits_lattice(self, lattice: ArrayLike, atol_angstrom: float = 1e-3) -> bool:
        """Return True if the landscape can be evaluated for a structure with ``lattice``.

        True when every vector of ``lattice`` (rows, Angstrom) is an integer combination
        of the landscape's lattice vectors in the same Cartesian frame: the same cell, or
        a supercell of it as pymatgen builds them (e.g. by ordering a disordered
        structure). A rotated, strained or different cell does not fit.
        """
        target = np.asarray(lattice, dtype=float)
        if target.shape != (3, 3):
            return False
        multiples = np.linalg.solve(self.lattice.T, target.T).T
        rebuilt = np.round(multiples) @ self.lattice
        return bool(
            np.all(np.abs(rebuilt - target) <= atol_angstrom)
            and abs(np.linalg.det(np.round(multiples))) >= 1
        )

    def energy_at(self, cart_coords: ArrayLike) -> NDArray[np.float64]:
        """Return energies (eV) at Cartesian positions by periodic trilinear interpolation.

        Parameters
        ----------
        cart_coords
            Array ``(n, 3)`` (or ``(3,)``) of Cartesian positions in Angstrom.

        Returns
        -------
        numpy.ndarray
            Energies in eV, shape ``(n,)``.
        """
        cart = np.atleast_2d(np.asarray(cart_coords, dtype=float))
        frac = np.linalg.solve(self.lattice.T, cart.T).T
        grid_index = (frac % 1.0) * np.array(self.shape)
        return map_coordinates(self.energies_ev, grid_index.T, order=1, mode="grid-wrap")

    @classmethod
    def from_bvlain_grid(cls, lattice: ArrayLike, data: ArrayLike) -> BVSELandscape:
        """Build a landscape from bvlain's ``Lain.data`` (grid including the end plane)."""
        grid = np.asarray(data, dtype=float)
        if grid.ndim != 3 or min(grid.shape) < 3:
            raise BVSELandscapeError(f"bvlain grid must be 3-D with >= 3 points, got {grid.shape}")
        return cls(lattice=np.asarray(lattice, dtype=float), energies_ev=grid[:-1, :-1, :-1])

    @classmethod
    def from_bvse_grid(cls, grid: Any) -> BVSELandscape:
        """Build a landscape from the BVSE tier's stored grid.

        Parameters
        ----------
        grid
            A :class:`sseflow.bvse.schemas.BVSEGrid` or its dict (bvlain's grid, end
            planes included, zlib-compressed).
        """
        from sseflow.bvse.schemas import BVSEGrid

        if isinstance(grid, dict):
            grid = BVSEGrid.model_validate(grid)
        return cls.from_bvlain_grid(grid.lattice_matrix, grid.to_array())

    @classmethod
    def from_structure(
        cls,
        structure: Structure,
        mobile_ion: str = "Li1+",
        resolution_angstrom: float = 0.3,
        r_cut_angstrom: float = 10.0,
    ) -> BVSELandscape:
        """Compute the landscape of an ordered, oxidation-state decorated structure.

        Uses bvlain (``Lain.bvse_distribution``). Disordered structures must be ordered
        first (bvlain drops occupancies).

        Parameters
        ----------
        structure
            Ordered structure with oxidation states.
        mobile_ion
            Mobile ion with charge, e.g. ``"Li1+"``.
        resolution_angstrom
            Grid spacing (Angstrom); 0.3 is coarse but enough to seed a NEB path.
        r_cut_angstrom
            Interaction cutoff (Angstrom).
        """
        from bvlain import Lain  # deferred: bvlain is slow to import

        if not structure.is_ordered:
            raise BVSELandscapeError("bvlain needs an ordered structure; order it first")
        lain = Lain(verbose=False)
        lain.read_structure(structure, oxi_check=False)
        data = lain.bvse_distribution(
            mobile_ion=mobile_ion, r_cut=r_cut_angstrom, resolution=resolution_angstrom
        )
        return cls.from_bvlain_grid(structure.lattice.matrix, data)

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (arrays as nested lists)."""
        return {
            "@module": type(self).__module__,
            "@class": type(self).__name__,
            "lattice": self.lattice.tolist(),
            "energies_ev": self.energies_ev.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BVSELandscape:
        """Rebuild from :meth:`as_dict` output (or any dict with the two keys)."""
        return cls(lattice=np.asarray(d["lattice"]), energies_ev=np.asarray(d["energies_ev"]))
