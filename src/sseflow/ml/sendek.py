"""Interpretable structure features of Sendek et al. for the logistic-regression baseline.

Sendek et al. (Energy Environ. Sci. 10, 306 (2017)) screened Li conductors with a
logistic regression on a handful of physically motivated features; McHaffie et al. use
five of them as the baseline to beat:

- ``li_li_bonds_per_li`` (LLB): mean number of Li neighbours of a Li site closer than
  ``li_li_bond_cutoff_angstrom``;
- ``sublattice_bond_ionicity`` (SBI): mean Pauling ionicity
  ``1 - exp(-(chi_a - chi_b)^2 / 4)`` of the bonds of the Li-free framework (each
  non-Li atom to its neighbours closer than ``bond_cutoff_angstrom``);
- ``anion_framework_coordination`` (AFC): mean number of anion neighbours of an anion
  closer than ``anion_anion_cutoff_angstrom``;
- ``li_anion_separation_angstrom`` (LASD): mean over Li sites of the shortest Li-anion
  distance;
- ``li_li_separation_angstrom`` (LLSD): mean over Li sites of the shortest Li-Li
  distance.

Sendek's exact bonding criteria are not published as code; the cutoffs here are our
documented choices. Disordered sites: a site counts as Li / anion / framework by the
species it holds, weighted by occupancy (a neighbour holding 0.5 Li adds 0.5 Li-Li
bonds; averages over Li sites are weighted by Li occupancy). Oxidation states come from
the species decoration or :func:`sseflow.ingest.oxidation.guess_oxidation_states`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pymatgen.core import Element, Structure

from sseflow.ingest.oxidation import OxidationStateError, guess_oxidation_states

#: Feature names, in the column order of :func:`sendek_feature_matrix`.
SENDEK_FEATURES: tuple[str, ...] = (
    "li_li_bonds_per_li",
    "sublattice_bond_ionicity",
    "anion_framework_coordination",
    "li_anion_separation_angstrom",
    "li_li_separation_angstrom",
)


class SendekFeatureError(ValueError):
    """A structure lacks what a Sendek feature needs (e.g. no Li or no anion)."""


def _oxidation_states(structure: Structure) -> dict[str, float]:
    states: dict[str, float] = {}
    for site in structure:
        for species in site.species:
            ox = getattr(species, "oxi_state", None)
            if ox is not None:
                states[species.symbol] = float(ox)
    elements = {el.symbol for el in structure.composition.elements}
    if elements <= set(states):
        return states
    try:
        return guess_oxidation_states(structure.composition.element_composition)
    except OxidationStateError:
        # Sign-only fallback: the most electronegative element(s) are anions.
        chi = {e: Element(e).X for e in elements}
        top = max(chi.values())
        return {e: (-1.0 if chi[e] >= top - 0.3 and e != "Li" else 1.0) for e in elements}


def sendek_features(
    structure: Structure,
    li_li_bond_cutoff_angstrom: float = 3.0,
    bond_cutoff_angstrom: float = 3.0,
    anion_anion_cutoff_angstrom: float = 4.0,
    search_radius_angstrom: float = 8.0,
) -> dict[str, float]:
    """Return the five Sendek et al. features of one structure.

    Parameters
    ----------
    structure
        Structure, possibly disordered.
    li_li_bond_cutoff_angstrom, bond_cutoff_angstrom, anion_anion_cutoff_angstrom
        Distance criteria (A) for Li-Li bonds, framework bonds and anion-anion contacts.
    search_radius_angstrom
        Largest distance searched for the shortest Li-anion and Li-Li separations (A);
        a separation not found within it is reported as this value.

    Returns
    -------
    dict
        Feature name -> value (counts are dimensionless, distances in A).
    """
    states = _oxidation_states(structure)
    n = len(structure)
    li_occ = np.zeros(n)
    anion_occ = np.zeros(n)
    frame_occ = np.zeros(n)
    chi = np.zeros(n)
    for i, site in enumerate(structure):
        weight = 0.0
        for species, occ in site.species.items():
            symbol = species.symbol
            if symbol == "Li":
                li_occ[i] += occ
            else:
                frame_occ[i] += occ
                if states.get(symbol, 0.0) < 0:
                    anion_occ[i] += occ
            x = Element(symbol).X
            if not math.isnan(x):
                chi[i] += occ * x
                weight += occ
        chi[i] = chi[i] / weight if weight > 0 else np.nan
    if li_occ.sum() == 0:
        raise SendekFeatureError(f"{structure.composition.reduced_formula} has no Li")
    if anion_occ.sum() == 0:
        raise SendekFeatureError(f"{structure.composition.reduced_formula} has no anion")

    center, neighbor, _, dist = structure.get_neighbor_list(search_radius_angstrom)
    li_sites = np.flatnonzero(li_occ > 0)
    llb, lasd, llsd = [], [], []
    for li_index in li_sites:
        mask = center == li_index
        nb, d = neighbor[mask], dist[mask]
        llb.append(float((li_occ[nb] * (d < li_li_bond_cutoff_angstrom)).sum()))
        d_anion = d[anion_occ[nb] > 0]
        d_li = d[li_occ[nb] > 0]
        lasd.append(float(d_anion.min()) if len(d_anion) else search_radius_angstrom)
        llsd.append(float(d_li.min()) if len(d_li) else search_radius_angstrom)
    w_li = li_occ[li_sites]

    bond = (dist < bond_cutoff_angstrom) & (frame_occ[center] > 0) & (frame_occ[neighbor] > 0)
    pair_w = frame_occ[center[bond]] * frame_occ[neighbor[bond]]
    dchi = chi[center[bond]] - chi[neighbor[bond]]
    ok = ~np.isnan(dchi) & (pair_w > 0)
    ionicity = 1.0 - np.exp(-(dchi[ok] ** 2) / 4.0)
    sbi = float(np.average(ionicity, weights=pair_w[ok])) if ok.any() else 0.0

    anion_sites = np.flatnonzero(anion_occ > 0)
    contact = (dist < anion_anion_cutoff_angstrom) & (anion_occ[center] > 0)
    afc_per_site = np.bincount(center[contact], weights=anion_occ[neighbor[contact]], minlength=n)[
        anion_sites
    ]
    afc = float(np.average(afc_per_site, weights=anion_occ[anion_sites]))

    return {
        "li_li_bonds_per_li": float(np.average(llb, weights=w_li)),
        "sublattice_bond_ionicity": sbi,
        "anion_framework_coordination": afc,
        "li_anion_separation_angstrom": float(np.average(lasd, weights=w_li)),
        "li_li_separation_angstrom": float(np.average(llsd, weights=w_li)),
    }


def sendek_feature_matrix(
    structures: Sequence[Structure], missing_as_nan: bool = True
) -> np.ndarray:
    """Return an ``(n_structures, 5)`` matrix, columns in :data:`SENDEK_FEATURES` order.

    Parameters
    ----------
    structures
        Structures to featurize.
    missing_as_nan
        Some experimental CIFs lack Li positions (or anions); their row is NaN (to be
        imputed by the model) instead of raising :class:`SendekFeatureError`.
    """
    rows = []
    for structure in structures:
        try:
            values = sendek_features(structure)
        except SendekFeatureError:
            if not missing_as_nan:
                raise
            values = dict.fromkeys(SENDEK_FEATURES, float("nan"))
        rows.append([values[name] for name in SENDEK_FEATURES])
    return np.asarray(rows, dtype=np.float64)
