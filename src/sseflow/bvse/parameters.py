"""softBV force-field parameters of the mobile Li+ against each framework atom.

Both BVSE engines use the same numbers, read from the tables that ship with bvlain
0.25.1 (``bvlain/data``), which are the softBV parameter set of Chen, Wong and Adams,
*Acta Cryst. B* 75 (2019) 18-33 ("SoftBV - a software tool for screening the materials
genome of inorganic fast ion conductors"):

- ``cation.pkl``: for the mobile cation (Z, charge) and every anion (Z, charge) the Morse
  parameters ``r_min`` (A), ``alpha`` (1/A) and ``d0`` (eV);
- ``quantum_n.pkl``: the principal quantum number ``n`` of each element, which scales
  the Coulomb repulsion;
- covalent radii ``r_c`` (A): bvlain's default (``use_softbv_covalent_radii=False``)
  takes them from ASE (``ase.data.covalent_radii``), and so do we.

The energy of the mobile ion at distance ``r`` from framework atom ``j`` is bvlain's
(``bvlain.potentials.BVSEPotential``): for an anion (charge opposite to Li+) the Morse
term ``d0 / 2 * ((exp(alpha * (r_min - r)) - 1) ** 2 - 1)``; for a cation (same sign)
the screened Coulomb term ``14.4 * q_Li * q_j / sqrt(n_Li * n_j) / r *
erfc(r / (f * (r_c,Li + r_c,j)))`` with ``f`` the screening factor (0.74). Each term
is multiplied by the atom's occupancy weight (:mod:`sseflow.bvse.framework`).

The tables are read from bvlain's package directory without importing bvlain (whose
import pulls in pandas and joblib): the native engine does not need it.
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols, covalent_radii

#: Coulomb constant e^2 / (4 pi eps0) in eV A, as bvlain writes it.
COULOMB_EV_ANGSTROM = 14.4
#: The mobile ion: Li+ (atomic number, charge).
LI_Z, LI_CHARGE = 3, 1


def bvlain_data_dir() -> Path:
    """Return the directory of bvlain's parameter tables (bvlain is not imported)."""
    spec = importlib.util.find_spec("bvlain")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("bvlain is not installed: its softBV tables are needed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


@cache
def _tables() -> tuple[dict, dict]:
    """Return (Li+ pair table by anion Z and charge, principal quantum number by Z)."""
    data = bvlain_data_dir()
    with (data / "cation.pkl").open("rb") as handle:
        cation = pickle.load(handle)  # trusted file of the installed bvlain package
    with (data / "quantum_n.pkl").open("rb") as handle:
        quantum_n = pickle.load(handle)
    li_pairs = {
        int(z): {int(q): dict(p) for q, p in by_charge.items()}
        for z, by_charge in cation[LI_Z][LI_CHARGE].items()
    }
    return li_pairs, {int(z): int(n) for z, n in quantum_n.items()}


def missing_bvse_parameters(framework_atoms: Atoms) -> list[str]:
    """Return framework anions (e.g. ``P3-``) that have no Li+ softBV parameters.

    bvlain itself only prints "Oops" and raises a bare ``KeyError`` (an atomic number)
    for a missing pair, so the BVSE tier checks first and reports which one is missing.
    """
    li_pairs, _ = _tables()
    missing = set()
    for number, charge in zip(
        framework_atoms.numbers, framework_atoms.get_array("oxi_states"), strict=True
    ):
        if charge < 0 and int(charge) not in li_pairs.get(int(number), {}):
            missing.add(f"{chemical_symbols[int(number)]}{abs(int(charge))}-")
    return sorted(missing)


@dataclass(frozen=True)
class PairParameters:
    """Per-atom parameters of the Li+ energy (one entry per framework atom).

    Attributes
    ----------
    is_anion
        True: Morse term; False: screened Coulomb term.
    r_min_angstrom, alpha_per_angstrom, d0_ev
        Morse parameters (0 for cations).
    coulomb_ev_angstrom
        ``14.4 * q_Li * q_j / sqrt(n_Li * n_j)``, eV A (0 for anions).
    screening_angstrom
        ``f * (r_c,Li + r_c,j)``, A (1 for anions).
    weight
        Occupancy weight of the atom.
    """

    is_anion: np.ndarray
    r_min_angstrom: np.ndarray
    alpha_per_angstrom: np.ndarray
    d0_ev: np.ndarray
    coulomb_ev_angstrom: np.ndarray
    screening_angstrom: np.ndarray
    weight: np.ndarray


def pair_parameters(framework_atoms: Atoms, screening_factor: float = 0.74) -> PairParameters:
    """Return the Li+ softBV parameters of every framework atom.

    Parameters
    ----------
    framework_atoms
        Li-free framework with ``oxi_states`` and ``weight`` arrays
        (:func:`sseflow.bvse.framework.prepare_bvse_framework`).
    screening_factor
        Coulomb screening factor ``f``.

    Raises
    ------
    KeyError
        If an anion has no Li+ parameters (check with :func:`missing_bvse_parameters`).
    """
    li_pairs, quantum_n = _tables()
    numbers = np.asarray(framework_atoms.numbers, dtype=int)
    charges = np.asarray(framework_atoms.get_array("oxi_states"), dtype=int)
    weight = np.asarray(framework_atoms.get_array("weight"), dtype=float)
    n_atoms = len(numbers)
    is_anion = charges * LI_CHARGE < 0
    r_min, alpha, d0 = np.zeros(n_atoms), np.zeros(n_atoms), np.zeros(n_atoms)
    coulomb, screening = np.zeros(n_atoms), np.ones(n_atoms)
    n_li, rc_li = quantum_n[LI_Z], covalent_radii[LI_Z]
    for i, (z, q) in enumerate(zip(numbers, charges, strict=True)):
        if is_anion[i]:
            pair = li_pairs[int(z)][int(q)]
            r_min[i], alpha[i], d0[i] = pair["r_min"], pair["alpha"], pair["d0"]
        else:
            coulomb[i] = COULOMB_EV_ANGSTROM * LI_CHARGE * q / np.sqrt(n_li * quantum_n[int(z)])
            screening[i] = screening_factor * (rc_li + covalent_radii[int(z)])
    return PairParameters(is_anion, r_min, alpha, d0, coulomb, screening, weight)
