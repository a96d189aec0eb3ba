"""The bvlain engine: bvlain's energy grid and bisection, with occupancy weights.

bvlain computes the BVSE landscape of a mobile ion and its 1D/2D/3D percolation
energies, but only for ordered structures, so the framework is prepared by
:mod:`sseflow.bvse.framework` and handed to bvlain as ASE atoms with explicit oxidation
states. The occupancy-weighted energy needs a per-atom weight in bvlain's energy sum,
which bvlain has no option for; :class:`WeightedLain` adds it by overriding
``bvse_distribution`` (same formulae: Morse term to counter-ions, screened Coulomb term
to like-charged ions). Kept as the cross-check of the native engine
(``BVSESettings(engine="bvlain")``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ase import Atoms
from bvlain import Lain
from bvlain.potentials import BVSEPotential

from sseflow.bvse.settings import BVSESettings


class WeightedLain(Lain):
    """bvlain's :class:`~bvlain.Lain` with an occupancy weight on every framework atom."""

    def load_framework(self, atoms: Atoms) -> None:
        """Use prepared framework atoms (with ``oxi_states`` and ``weight`` arrays)."""
        self.atoms_copy = atoms.copy()
        self.cell = self.atoms_copy.cell

    def bvse_distribution(  # type: ignore[override]
        self,
        mobile_ion: str = "Li1+",
        r_cut: float = 10.0,
        resolution: float = 0.2,
        k: int = 100,
        f: float = 0.74,
        use_softbv_covalent_radii: bool = False,
    ) -> np.ndarray:
        """Return the weighted BVSE landscape (eV) on bvlain's grid; see bvlain."""
        self.k, self.r_cut, self.resolution = k, r_cut, resolution
        self._get_params(mobile_ion, use_softbv_covalent_radii=use_softbv_covalent_radii)
        _, distances, ids, _ = self._neighbors(r_cut=r_cut, resolution=resolution, k=k)

        def take(name: str) -> np.ndarray:
            return np.take(self._get_array(name), ids, axis=-1)

        q = take("oxi_states")
        q = np.where(q * self.q_mi > 0, q, 0)
        weight = np.nan_to_num(take("weight"), nan=0.0)
        morse = BVSEPotential.Morse(distances, take("r_min"), take("d0"), take("alpha"))
        coulomb = BVSEPotential.Coulomb(
            distances, self.q_mi, q, self.rc_mi, take("r_c"), self.n_mi, take("n"), f=f
        )
        energy = (
            np.nan_to_num(morse * weight, nan=0.0) + np.nan_to_num(coulomb * weight, nan=0.0)
        ).sum(axis=1)
        self.distribution = energy
        self.data = energy.reshape(self.size)
        return self.data


class RepeatedSweepLain(WeightedLain):
    """:class:`WeightedLain` whose periodic label merge is repeated until stable.

    A diagnostic, not an engine: bvlain 0.25.1 merges cluster labels across the cell
    faces (``Lain._apply_pbc``) in one sweep over the labels present when the sweep
    starts; a label renamed during the sweep is skipped, so some connections through the
    faces are missed and a percolating network can be found only at a higher probe
    energy. Repeating the sweep until the labels stop changing removes that effect and
    nothing else, which is how benchmarks/bvse_engines.py attributes differences
    between the engines.
    """

    def _apply_pbc(self, labels: np.ndarray) -> np.ndarray:
        while True:
            before = labels.copy()
            labels = super()._apply_pbc(labels)
            if np.array_equal(before, labels):
                return labels


def bvlain_landscape(framework_atoms: Atoms, settings: BVSESettings) -> dict[str, Any]:
    """Return bvlain's barriers (eV, None = no percolation) and energy grid (eV, float64).

    The grid is bvlain's ``Lain.data`` (end planes included), not shifted.
    """
    lain = WeightedLain(verbose=False)
    lain.load_framework(framework_atoms)
    # bvlain pads missing neighbours with r = inf/nan; the nan terms are zeroed after
    with np.errstate(divide="ignore", invalid="ignore"):
        lain.bvse_distribution(
            mobile_ion="Li1+",
            r_cut=settings.r_cut_angstrom,
            resolution=settings.resolution_angstrom,
            k=settings.k_neighbors,
            f=settings.screening_factor,
        )
    barriers = lain.percolation_barriers(encut=settings.encut_ev)
    return {
        "barriers": [
            None if not np.isfinite(barriers[f"E_{d}D"]) else float(barriers[f"E_{d}D"])
            for d in (1, 2, 3)
        ],
        "energies_ev": np.asarray(lain.data, dtype=np.float64),
    }
