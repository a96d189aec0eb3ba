"""Oxidation states guessed from the composition, including partially occupied cells.

pymatgen's ``Structure.add_oxidation_state_by_guess`` works site by site and can run for
many minutes on a disordered cell, and ``Composition.oxi_state_guesses`` needs integer
amounts, so fractional (disordered) compositions must first be rounded, which breaks
their charge balance. Here each element gets one oxidation state chosen from its
ICSD-observed states so that the *fractional* composition balances within a tolerance,
ranked by pymatgen's own ICSD occurrence statistics, with no cation more electronegative
than an anion. Only when no single state per
element balances (mixed valence, e.g. Fe3O4) do we fall back to pymatgen's guesser on a
small integer formula, which returns element-averaged (possibly non-integer) states.
"""

from __future__ import annotations

import itertools
import math
from functools import cache
from typing import cast

from monty.serialization import loadfn
from pymatgen.core import Composition, Element, Species, Structure
from pymatgen.core import composition as pmg_composition


class OxidationStateError(ValueError):
    """No charge-balanced set of oxidation states fits the composition."""


@cache
def _occurrence() -> dict[str, float]:
    """ICSD occurrence counts of species (the table pymatgen ranks its guesses with)."""
    data = loadfn(f"{pmg_composition.MODULE_DIR}/icsd_bv.yaml")["occurrence"]
    return {str(Species.from_str(sp)): float(n) for sp, n in data.items()}


def _allowed_states(element: Element) -> tuple[int, ...]:
    states = element.icsd_oxidation_states or element.common_oxidation_states
    states = states or element.oxidation_states
    return tuple(sorted(set(states))) or (0,)


def _ionic_order(electronegativity: list[float], states: tuple[int, ...]) -> bool:
    """Return False when a cation is more electronegative than an anion (Pauling scale).

    Without this, a composition that balances only with rare ICSD states can be
    "balanced" by absurd pairs such as Br5+ with P2- (OBELiX entry dlj).
    """
    cations = [x for x, ox in zip(electronegativity, states, strict=True) if ox > 0]
    anions = [x for x, ox in zip(electronegativity, states, strict=True) if ox < 0]
    return not (cations and anions and max(cations) > min(anions))


def _pymatgen_fallback(comp: Composition, max_atoms: int) -> dict[str, float] | None:
    """Element-averaged states from pymatgen on a small integer version of ``comp``."""
    for denominator in (1, 2, 3, 4, 6, 8):
        formula, _ = comp.get_integer_formula_and_factor(max_denominator=denominator)
        rounded = Composition(formula)
        err = max(abs(rounded.get_atomic_fraction(e) - comp.get_atomic_fraction(e)) for e in comp)
        if err > 1e-3:
            continue
        if rounded.num_atoms > max_atoms:
            return None
        guesses = rounded.oxi_state_guesses(max_sites=-max_atoms)
        if guesses:
            return {el: float(ox) for el, ox in guesses[0].items()}
    return None


def guess_oxidation_states(
    composition: Composition,
    fixed: dict[str, int] | None = None,
    tolerance: float = 0.03,
    fallback_max_atoms: int = 60,
) -> dict[str, float]:
    """Guess one oxidation state per element for a (possibly fractional) composition.

    Parameters
    ----------
    composition
        Composition; fractional amounts (partial occupancies) are fine.
    fixed
        Elements whose state is fixed, by default ``{"Li": 1}`` (the mobile ion).
    tolerance
        Allowed residual charge as a fraction of the total positive charge
        (occupancies refined from diffraction rarely balance exactly).
    fallback_max_atoms
        Largest integer formula handed to pymatgen's guesser for mixed valence.

    Returns
    -------
    dict
        Element symbol -> oxidation state (float; integer-valued except for
        element-averaged mixed valence from the fallback).

    Raises
    ------
    OxidationStateError
        When no combination balances the charge.
    """
    fixed = {"Li": 1} if fixed is None else fixed
    comp = composition.element_composition
    if comp.num_atoms <= 0:
        raise OxidationStateError("empty composition")
    # element_composition holds plain Elements (its stubs say Element | Species)
    elements = sorted(cast(list[Element], comp.elements), key=lambda el: el.symbol)
    options = [
        (fixed[el.symbol],) if el.symbol in fixed else _allowed_states(el) for el in elements
    ]
    amounts = [comp[el] for el in elements]
    occurrence = _occurrence()
    best: tuple[float, float, tuple[int, ...]] | None = None
    electronegativity = [el.X for el in elements]
    for combo in itertools.product(*options):
        if not _ionic_order(electronegativity, combo):
            continue
        positive = sum(a * ox for a, ox in zip(amounts, combo, strict=True) if ox > 0)
        charge = sum(a * ox for a, ox in zip(amounts, combo, strict=True))
        if positive <= 0 or abs(charge) > tolerance * positive:
            continue
        score = sum(
            a * math.log(occurrence.get(str(Species(el.symbol, ox)), 0.0) + 1.0)
            for el, a, ox in zip(elements, amounts, combo, strict=True)
        )
        key = (score, -abs(charge), combo)
        if best is None or key[:2] > best[:2]:
            best = key
    if best is not None:
        return {el.symbol: float(ox) for el, ox in zip(elements, best[2], strict=True)}
    fallback = _pymatgen_fallback(comp, fallback_max_atoms)
    if fallback is not None and all(
        fallback.get(k) == v for k, v in fixed.items() if k in fallback
    ):
        return fallback
    raise OxidationStateError(
        f"no charge-balanced oxidation states fit {comp.reduced_formula} "
        f"(one ICSD-observed state per element, Li fixed at +1, tolerance {tolerance:.0%})"
    )


def decorate_with_oxidation_states(structure: Structure, states: dict[str, float]) -> Structure:
    """Return a copy of ``structure`` whose species carry ``states`` (occupancies kept)."""
    decorated = structure.copy()
    decorated.remove_oxidation_states()
    decorated.add_oxidation_state_by_element(states)
    return decorated
