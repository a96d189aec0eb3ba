"""Bond-valence site-energy (BVSE) Li+ migration barriers with bvlain.

bvlain computes the BVSE landscape of a mobile ion and its 1D/2D/3D percolation
energies, but only for ordered structures, so the framework is prepared by
:mod:`sseflow.bvse.framework` and handed to bvlain as ASE atoms with explicit
oxidation states. The occupancy-weighted
energy needs a per-atom weight in bvlain's energy sum, which bvlain has no option for;
:class:`WeightedLain` adds it by overriding ``bvse_distribution`` (same formulae:
Morse term to counter-ions, screened Coulomb term to like-charged ions).

Each calculation runs in a child process with a wall-time limit and an address-space
memory watch, so one pathological structure is recorded as failed and never hangs the batch.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil
from ase import Atoms
from bvlain import Lain
from bvlain.potentials import BVSEPotential

from sseflow.bvse.framework import BVSEFramework
from sseflow.bvse.settings import BVSEError, BVSESettings


@dataclass
class BVSEResult:
    """Percolation barriers (eV; None when no percolation within ``encut_ev``) and grid."""

    ea_1d_ev: float | None
    ea_2d_ev: float | None
    ea_3d_ev: float | None
    energies_ev: np.ndarray  # (na, nb, nc) float32, minimum shifted to 0
    lattice_matrix: np.ndarray  # (3, 3) A
    n_framework_atoms: int
    peak_memory_mb: float


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


def grid_shape(lattice_abc: tuple[float, float, float], resolution: float) -> tuple[int, int, int]:
    """Return bvlain's grid shape for lattice lengths (A) and a spacing (A)."""
    a, b, c = lattice_abc
    return int(a // resolution), int(b // resolution), int(c // resolution)


def estimated_memory_gb(lattice_abc: tuple[float, float, float], settings: BVSESettings) -> float:
    """Rough peak memory of bvlain's vectorised energy sum, GB.

    bvlain holds about ten (grid points x k) float64 arrays at once.
    """
    n_points = math.prod(grid_shape(lattice_abc, settings.resolution_angstrom))
    return n_points * settings.k_neighbors * 8 * 10 / 1e9


def _compute(framework_atoms: Atoms, settings: BVSESettings) -> dict[str, Any]:
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
    data = np.asarray(lain.data, dtype=np.float64)
    return {
        "barriers": {k: (None if not np.isfinite(v) else float(v)) for k, v in barriers.items()},
        "energies_ev": (data - data.min()).astype(np.float32),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _child(conn: Any, framework_atoms: Atoms, settings: BVSESettings) -> None:
    try:
        conn.send(("ok", _compute(framework_atoms, settings)))
    except MemoryError:
        conn.send(("error", "out of memory"))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def _wait_within_limits(proc: Any, conn: Any, settings: BVSESettings, start: float) -> None:
    """Wait for the child's answer; raise if it runs too long or uses too much memory.

    Memory is watched as the child's resident set size (an address-space rlimit makes
    BLAS/KD-tree worker threads fail to start and the child hang instead of failing).
    """
    limit_bytes = settings.memory_limit_gb * 1e9
    watched = psutil.Process(proc.pid)
    while not conn.poll(0.2):
        elapsed = time.monotonic() - start
        if elapsed > settings.time_limit_s:
            raise BVSEError(f"time limit of {settings.time_limit_s:.0f} s exceeded")
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            return  # finished between checks; recv() tells how
        if rss > limit_bytes:
            raise BVSEError(
                f"memory limit exceeded: {rss / 1e9:.2f} GB resident > "
                f"memory_limit_gb={settings.memory_limit_gb}"
            )
        if not proc.is_alive() and not conn.poll(0):
            return


def missing_bvse_parameters(framework_atoms: Atoms) -> list[str]:
    """Return framework anions (e.g. ``P3-``) that bvlain has no Li+ parameters for.

    bvlain's softBV table pairs the mobile Li+ with each anion species and charge;
    bvlain itself only prints "Oops" and raises a bare ``KeyError`` (an atomic number)
    for a missing pair, so the BVSE tier checks first and reports which one is missing.
    """
    import pickle

    from ase.data import chemical_symbols
    from bvlain import Lain  # deferred: bvlain is slow to import

    with open(Lain(verbose=False).cation_file, "rb") as handle:
        li_pairs = pickle.load(handle)[3][1]  # mobile ion Li (Z = 3), charge +1
    missing = set()
    for number, charge in zip(
        framework_atoms.numbers, framework_atoms.get_array("oxi_states"), strict=True
    ):
        if charge < 0 and charge not in li_pairs.get(int(number), {}):
            missing.add(f"{chemical_symbols[int(number)]}{abs(int(charge))}-")
    return sorted(missing)


def bvse_barriers(
    framework: BVSEFramework, settings: BVSESettings | None = None, isolate: bool = True
) -> BVSEResult:
    """Compute the Li+ BVSE landscape and its 1D/2D/3D percolation barriers.

    Parameters
    ----------
    framework
        Output of :func:`prepare_bvse_framework`.
    settings
        Grid, cut-off and guards.
    isolate
        Run in a child process with the time and memory guards (default). ``False``
        runs in this process without guards (for debugging).

    Returns
    -------
    BVSEResult

    Raises
    ------
    BVSEError
        On time-out, memory exhaustion, a refused grid or a bvlain error (e.g. no
        bond-valence parameters for an oxidation state).
    """
    settings = settings or BVSESettings()
    missing = missing_bvse_parameters(framework.atoms)
    if missing:
        raise BVSEError(
            f"bvlain has no softBV parameters for Li+ with the anion(s) {', '.join(missing)} "
            "(e.g. phosphides, hydrides): BVSE cannot rank this framework"
        )
    abc = tuple(framework.atoms.cell.cellpar()[:3])
    estimate = estimated_memory_gb(abc, settings)  # type: ignore[arg-type]
    if estimate > settings.memory_limit_gb:
        raise BVSEError(
            f"grid needs ~{estimate:.1f} GB (> memory_limit_gb={settings.memory_limit_gb}); "
            "use a coarser resolution_angstrom or raise the limit"
        )
    if not isolate:
        out = _compute(framework.atoms, settings)
    else:
        ctx = mp.get_context("fork")
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(child, framework.atoms, settings), daemon=True)
        start = time.monotonic()
        proc.start()
        child.close()
        try:
            _wait_within_limits(proc, parent, settings, start)
            status, out = parent.recv()
        except EOFError as exc:
            raise BVSEError(
                f"BVSE process died (exit code {proc.exitcode}) after "
                f"{time.monotonic() - start:.0f} s; likely memory exhaustion"
            ) from exc
        finally:
            if proc.is_alive():
                proc.kill()
            proc.join(5)
            parent.close()
        if status != "ok":
            raise BVSEError(out)
    barriers = out["barriers"]
    return BVSEResult(
        ea_1d_ev=barriers["E_1D"],
        ea_2d_ev=barriers["E_2D"],
        ea_3d_ev=barriers["E_3D"],
        energies_ev=out["energies_ev"],
        lattice_matrix=np.array(framework.atoms.cell[:]),
        n_framework_atoms=len(framework.atoms),
        peak_memory_mb=out["peak_memory_mb"],
    )
