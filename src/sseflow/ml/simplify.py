"""Structure simplifications of Laskowski, McHaffie & See (Energy Environ. Sci. 16, 1264, 2023).

Every atom is put in one of four categories by its oxidation state:

- **M** (mobile ion): Li, whatever its state;
- **C** (cation): oxidation state > 0;
- **A** (anion): oxidation state < 0;
- **N** (neutral): oxidation state 0.

A scheme keeps some categories and (by default) replaces every species of a category by
one representative species: C -> Al, A -> S, M -> Li, N -> Mg (thesis chapter 2). The
schemes are

========== ======================== ==============================================
scheme     categories kept          notes
========== ======================== ==============================================
CAMN       C, A, M, N               all atoms
CAN        C, A, N                  mobile Li removed (the paper's best with SOAP)
AM         A, M                     cations and neutral atoms removed
A          A                        anions only
X-40       as X                     lattice scaled to 40 A^3 per anion
CAMNS      C, A, M, N               chapter 4 naming: always substituted, Li kept
CANS       C, A, N                  chapter 4 naming: always substituted, Li removed
========== ======================== ==============================================

Chapter 4 of the thesis (AtomSets) uses "CAMN"/"CAN" for the *unsubstituted* structure
(original species, Li kept/removed) and "CAMNS"/"CANS" for the substituted ones; pass
``substitute_species=False`` to get the chapter 4 meaning of CAMN, CAN, AM or A.
CAMNS and CANS are always substituted.

Disordered (partially occupied) sites are kept. On each site, every species is mapped
to its representative (or kept, without substitution) and dropped if its category is
removed; occupancies of species that map to the same representative are **summed**
(capped at 1, which only guards rounding since a site's total occupancy is <= 1). A site
whose remaining occupancy is zero (e.g. a pure Li site in CAN) is dropped. Mixed sites
whose species fall in different kept categories stay mixed (e.g. Li0.5Al0.5 in CAMN).
The number of anions used for the "-40" rescaling is the occupancy-weighted anion
count of the cell.

Oxidation states come from the species decoration, else from
:func:`sseflow.ingest.oxidation.guess_oxidation_states`. Only their sign is used, so
when no charge-balanced guess exists (refined occupancies of some experimental cells are
far from neutral) a documented sign-only rule is used instead (:func:`_sign_only_states`);
:func:`simplify_structure` with ``oxidation_states=`` overrides both.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from pymatgen.core import Element, Lattice, Structure

from sseflow.ingest.oxidation import OxidationStateError, guess_oxidation_states

#: Representative species of each category (thesis, chapter 2).
REPRESENTATIVE: Final[dict[str, str]] = {"C": "Al", "A": "S", "M": "Li", "N": "Mg"}

#: Mobile ion of the whole project.
MOBILE_ELEMENT: Final[str] = "Li"

#: Volume per anion of the "-40" schemes, in A^3.
VOLUME_PER_ANION_A3: Final[float] = 40.0

_BASE_CATEGORIES: Final[dict[str, frozenset[str]]] = {
    "CAMN": frozenset("CAMN"),
    "CAN": frozenset("CAN"),
    "AM": frozenset("AM"),
    "A": frozenset("A"),
}

#: All supported scheme names.
SCHEMES: Final[tuple[str, ...]] = (
    "CAMN",
    "CAN",
    "AM",
    "A",
    "CAMN-40",
    "CAN-40",
    "AM-40",
    "A-40",
    "CAMNS",
    "CANS",
)


class SimplificationError(ValueError):
    """A structure cannot be simplified with the requested scheme."""


def scheme_species(scheme: str) -> list[str]:
    """Return the sorted element symbols a substituted simplification can contain.

    This is the fixed species layout of descriptors (e.g. SOAP) computed on the
    simplified structures, so all structures share one vector layout.

    Parameters
    ----------
    scheme
        One of :data:`SCHEMES`.

    Returns
    -------
    list of str
        E.g. ``["Al", "Mg", "S"]`` for CAN.
    """
    categories, _ = _parse_scheme(scheme)
    return sorted(REPRESENTATIVE[c] for c in categories)


def _parse_scheme(scheme: str) -> tuple[frozenset[str], bool]:
    """Return (kept categories, rescale to 40 A^3 per anion) of a scheme name."""
    if scheme == "CAMNS":
        return _BASE_CATEGORIES["CAMN"], False
    if scheme == "CANS":
        return _BASE_CATEGORIES["CAN"], False
    base, _, suffix = scheme.partition("-")
    if base not in _BASE_CATEGORIES or suffix not in ("", "40"):
        raise SimplificationError(
            f"unknown simplification scheme {scheme!r}; choose one of {', '.join(SCHEMES)}"
        )
    return _BASE_CATEGORIES[base], suffix == "40"


def species_category(element: str, oxidation_state: float) -> str:
    """Return the category letter (C, A, M or N) of one species.

    Parameters
    ----------
    element
        Element symbol.
    oxidation_state
        Its oxidation state (elementary charges).

    Returns
    -------
    str
        ``"M"`` for Li, else ``"C"`` (> 0), ``"A"`` (< 0) or ``"N"`` (0).
    """
    if element == MOBILE_ELEMENT:
        return "M"
    if oxidation_state > 0:
        return "C"
    if oxidation_state < 0:
        return "A"
    return "N"


def _oxidation_states(structure: Structure) -> dict[str, float]:
    """Element -> oxidation state, from the decoration or guessed from the composition."""
    species = structure.composition.keys()
    decorated = [sp for sp in species if getattr(sp, "oxi_state", None) is not None]
    if decorated and len(decorated) == len(species):
        states: dict[str, float] = {}
        for sp in decorated:
            symbol = sp.symbol
            # one element with two decorated states (mixed valence): the category is
            # decided by the sign, and both states of a metal are positive.
            if symbol not in states or abs(sp.oxi_state) > abs(states[symbol]):
                states[symbol] = float(sp.oxi_state)
        return states
    try:
        return guess_oxidation_states(structure.composition)
    except OxidationStateError:
        return _sign_only_states(structure)


def _sign_only_states(structure: Structure) -> dict[str, float]:
    """Signs of oxidation states when no charge-balanced guess exists (see module doc).

    Only the sign matters for the categories, and refined occupancies of experimental
    structures are often too far from charge balance for the guesser. Rule: halogens are
    anions; oxygen is an anion; S, Se and Te are anions unless oxygen is present (then
    they are cations, as in sulfates); N is an anion when no chalcogen or halogen is
    present; noble gases are neutral; every other element is a cation.
    """
    elements = [el for el in structure.composition.element_composition]
    has_oxygen = any(el.symbol == "O" for el in elements)
    has_chalcogen_or_halogen = any(el.group in (16, 17) for el in elements)
    states: dict[str, float] = {}
    for el in elements:
        if el.group == 17 or el.symbol == "O":
            states[el.symbol] = -1.0
        elif el.symbol in ("S", "Se", "Te"):
            states[el.symbol] = 1.0 if has_oxygen else -1.0
        elif el.symbol == "N" and not has_chalcogen_or_halogen:
            states[el.symbol] = -1.0
        elif el.is_noble_gas:
            states[el.symbol] = 0.0
        else:
            states[el.symbol] = 1.0
    return states


def simplify_structure(
    structure: Structure,
    scheme: str,
    substitute_species: bool = True,
    oxidation_states: dict[str, float] | None = None,
) -> Structure:
    """Simplify a structure by atom category (see the module docstring).

    Parameters
    ----------
    structure
        Input structure; partial occupancies are allowed. Oxidation states are taken
        from its species when every species is decorated, otherwise from
        ``oxidation_states`` or guessed with
        :func:`sseflow.ingest.oxidation.guess_oxidation_states`.
    scheme
        One of :data:`SCHEMES`.
    substitute_species
        Replace species by their category's representative (C -> Al, A -> S, M -> Li,
        N -> Mg). ``False`` keeps the original elements (chapter 4 CAMN/CAN); ignored
        for CAMNS/CANS, which are always substituted.
    oxidation_states
        Element -> oxidation state, overriding the decoration and the guess.

    Returns
    -------
    Structure
        A new structure with undecorated elements; sites may be partially occupied.
        For "-40" schemes the lattice is scaled isotropically to 40 A^3 per
        (occupancy-weighted) anion, fractional coordinates unchanged.

    Raises
    ------
    SimplificationError
        (a ``ValueError``) on an unknown scheme, when no atom is left, or when a "-40"
        scheme meets a structure without anions.
    """
    categories, rescale = _parse_scheme(scheme)
    if scheme in ("CAMNS", "CANS"):
        substitute_species = True
    states = oxidation_states if oxidation_states is not None else _oxidation_states(structure)

    species_out: list[dict[Element, float]] = []
    coords_out = []
    n_anions = 0.0
    for site in structure:
        occupancy: dict[str, float] = defaultdict(float)
        for sp, occ in site.species.items():
            symbol = sp.symbol
            if symbol not in states:
                raise SimplificationError(f"no oxidation state for {symbol} in {scheme}")
            category = species_category(symbol, states[symbol])
            if category == "A":
                n_anions += occ
            if category not in categories:
                continue
            target = REPRESENTATIVE[category] if substitute_species else symbol
            occupancy[target] += occ
        kept = {Element(el): min(occ, 1.0) for el, occ in occupancy.items() if occ > 1e-8}
        if not kept:
            continue
        species_out.append(kept)
        coords_out.append(site.frac_coords)

    if not species_out:
        raise SimplificationError(
            f"{structure.composition.reduced_formula}: no atoms left after {scheme} "
            f"simplification (kept categories {''.join(sorted(categories))})"
        )
    lattice = structure.lattice
    if rescale:
        if n_anions <= 1e-8:
            raise SimplificationError(
                f"{structure.composition.reduced_formula} has no anions: "
                f"cannot scale to {VOLUME_PER_ANION_A3} A^3 per anion ({scheme})"
            )
        lattice = Lattice(lattice.matrix).scale(VOLUME_PER_ANION_A3 * n_anions)
    return Structure(lattice, species_out, coords_out)
