"""Composition features: element fractions and Magpie-style statistics of element properties.

Composition alone scores every labelled row (478 OBELiX rows, 224 of which have no
structure) and every candidate. Two feature blocks, both from pymatgen's element data:

- **element fractions**: the atomic fraction of each element Z = 1..94 (a fixed layout,
  mostly zeros);
- **property statistics** in the style of Magpie (Ward et al., npj Comput. Mater. 2,
  16028 (2016)): for each element property below, the fraction-weighted mean, the
  fraction-weighted mean absolute deviation, the minimum, the maximum and the range
  over the elements present; plus the number of elements and the Li fraction.

Properties: atomic number, atomic mass, Mendeleev (Pettifor) number, period, group,
Pauling electronegativity, atomic radius, average ionic radius, first ionisation energy
(eV), electron affinity (eV), molar volume (cm3/mol), melting point (K), and the numbers
of valence s, p, d and f electrons. A property pymatgen lacks for an element (e.g. no
Pauling electronegativity for noble gases) is left out of that element's statistics.

We compute these ourselves instead of depending on matminer (not in the stack; its
Magpie tables are a separate download) - the numbers come from the same pymatgen data
the rest of sseflow uses.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
from pymatgen.core import Composition, Element

#: Elements of the fraction block (Z = 1..94), in order.
FRACTION_ELEMENTS: tuple[str, ...] = tuple(Element.from_Z(z).symbol for z in range(1, 95))
#: Statistics computed for every property.
STATISTICS: tuple[str, ...] = ("mean", "mad", "min", "max", "range")


def _valence_electrons(element: Element) -> tuple[float, float, float, float]:
    """Electrons in the valence s, p, d and f subshells (Magpie's NsValence ... NfValence)."""
    shells = element.full_electronic_structure
    n_max = max(n for n, _, _ in shells)
    s = sum(e for n, orb, e in shells if orb == "s" and n == n_max)
    p = sum(e for n, orb, e in shells if orb == "p" and n == n_max)
    d = sum(e for n, orb, e in shells if orb == "d" and n == n_max - 1)
    f = sum(e for n, orb, e in shells if orb == "f" and n == n_max - 2)
    return float(s), float(p), float(d), float(f)


def _number(value: object) -> float:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return float("nan")
    return out if np.isfinite(out) else float("nan")


#: Element properties of the statistics block: name -> function of the Element.
PROPERTIES: dict[str, Callable[[Element], float]] = {
    "Z": lambda e: float(e.Z),
    "atomic_mass": lambda e: _number(e.atomic_mass),
    "mendeleev_no": lambda e: _number(e.mendeleev_no),
    "row": lambda e: float(e.row),
    "group": lambda e: float(e.group),
    "electronegativity": lambda e: _number(e.X),
    "atomic_radius": lambda e: _number(e.atomic_radius),
    "average_ionic_radius": lambda e: _number(e.average_ionic_radius) or float("nan"),
    "ionization_energy_ev": lambda e: _number(e.ionization_energy),
    "electron_affinity_ev": lambda e: _number(e.electron_affinity),
    "molar_volume_cm3_per_mol": lambda e: _number(e.molar_volume),
    "melting_point_k": lambda e: _number(e.melting_point),
    "valence_s": lambda e: _valence_electrons(e)[0],
    "valence_p": lambda e: _valence_electrons(e)[1],
    "valence_d": lambda e: _valence_electrons(e)[2],
    "valence_f": lambda e: _valence_electrons(e)[3],
}


@cache
def element_property_table() -> np.ndarray:
    """Return the ``(95, n_properties)`` property table indexed by Z (row 0 unused, NaN)."""
    table = np.full((95, len(PROPERTIES)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns for every missing value
        for z in range(1, 95):
            element = Element.from_Z(z)
            for j, function in enumerate(PROPERTIES.values()):
                try:
                    table[z, j] = function(element)
                except (AttributeError, KeyError, TypeError, ValueError):
                    table[z, j] = np.nan
    return table


def feature_names() -> list[str]:
    """Return the names of the columns of :func:`composition_features`."""
    names = [f"frac_{symbol}" for symbol in FRACTION_ELEMENTS]
    names += [f"{prop}_{stat}" for prop in PROPERTIES for stat in STATISTICS]
    return [*names, "n_elements", "li_fraction"]


def _weighted_stats(values: np.ndarray, weights: np.ndarray) -> list[float]:
    keep = np.isfinite(values)
    if not keep.any():
        return [float("nan")] * len(STATISTICS)
    v, w = values[keep], weights[keep] / weights[keep].sum()
    mean = float(w @ v)
    return [mean, float(w @ np.abs(v - mean)), float(v.min()), float(v.max()), float(np.ptp(v))]


def composition_features(compositions: Sequence[Composition | str]) -> np.ndarray:
    """Return the composition feature matrix (see the module docstring).

    Parameters
    ----------
    compositions
        Compositions or formulas (fractional amounts and oxidation states fine).

    Returns
    -------
    numpy.ndarray
        ``(n, len(feature_names()))``; NaN where a property is unknown for every element
        of a composition.

    Raises
    ------
    ValueError
        For an element beyond Pu (Z > 94) or a composition without atoms.

    Examples
    --------
    >>> x = composition_features(["Li3N", "LiCl"])
    >>> x.shape == (2, len(feature_names()))
    True
    >>> float(x[0, feature_names().index("li_fraction")])
    0.75
    """
    table = element_property_table()
    rows = []
    for comp in compositions:
        fractions = Composition(comp).element_composition.fractional_composition
        if not len(fractions):
            raise ValueError(f"composition {comp!r} has no atoms")
        z = np.array([el.Z for el in fractions], dtype=int)
        if z.max() > 94:
            raise ValueError(f"composition {comp!r}: no element data beyond Pu (Z = 94)")
        w = np.array([fractions[el] for el in fractions], dtype=float)
        frac = np.zeros(len(FRACTION_ELEMENTS))
        frac[z - 1] = w
        stats = [s for j in range(table.shape[1]) for s in _weighted_stats(table[z, j], w)]
        li = float(fractions["Li"]) if "Li" in [el.symbol for el in fractions] else 0.0
        rows.append([*frac, *stats, float(len(z)), li])
    return np.asarray(rows, dtype=float)
