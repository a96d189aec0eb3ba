"""Ordering a disordered structure for NEB: exact when small, approximate otherwise.

Exact ordering (as the reference work orders structures, thesis section 4.2: pymatgen's
``OrderDisorderedStructureTransformation``, lowest Ewald energy) needs a supercell in
which every occupancy is integral. Measured occupancies (``Li24.90024``, ``Al2.652``)
never are, and "the extensive disorder in the mobile ion sublattice makes supercell
generation computationally prohibitive" (same section). So:

1. **exact**: when a cell of at most ``max_cell_size`` (4) formula multiples makes every
   occupancy integral, pymatgen enumerates the orderings and the lowest Ewald energy is
   kept (unchanged from before, so results computed before are reproduced);
2. **approximate** (:func:`approximate_ordering`): otherwise the occupancies are rounded
   to integers in the supercell the NEB needs anyway (every periodic image >=
   ``min_length_angstrom`` away), grown only when the rounding error there exceeds the
   tolerance. Rounding is per crystallographic site orbit (:func:`round_occupancies`):
   each orbit keeps its number of sites and every species total is the nearest integer
   of the reported amount; when that breaks charge neutrality the mobile-ion (Li) count
   is changed to restore it. The species are then placed by Ewald minimisation: seeded
   random arrangements, each improved by steepest-descent swaps within a site orbit
   (:func:`place_species`), the lowest Ewald energy kept.

The ordering is refused (:class:`~sseflow.neb.supercell.StructurePreparationError`) when
the closest composition reachable within ``max_atoms`` deviates from the reported one by
more than ``max_deviation`` (relative, for any species). What was done is recorded
(:meth:`OrderingResult.summary`, the NEB document's ``ordering``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from monty.json import MSONable
from numpy.typing import NDArray
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Species, Structure
from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
from pymatgen.transformations.standard_transformations import (
    OrderDisorderedStructureTransformation,
)
from scipy.optimize import Bounds, LinearConstraint, milp

from sseflow.neb.supercell import (
    StructurePreparationError,
    _scaling_for_multiple,
    minimum_length_supercell_matrix,
    superlattice_matrix,
)

#: Occupancies closer than this to a whole number count as integral (exact ordering).
INTEGRAL_ATOL = 0.02
#: Disordered sites closer than this (A) are penalised when both are occupied in an
#: approximate ordering: split positions of one atom. Li-Li distances in ordered Li
#: compounds are >= 2.1 A (Li3N: 2.11 A).
CLOSE_PAIR_ANGSTROM = 2.0
#: Penalty per such pair (eV), added to the Ewald energy while arranging.
CLOSE_PAIR_PENALTY_EV = 50.0


@dataclass
class OrderingSettings(MSONable):
    """How a disordered candidate is ordered for NEB (see :mod:`sseflow.neb.ordering`).

    The NEB Makers hold it whole (``ordering``); its fields may be given flat
    (``MLIPNEBMaker(ordering_max_deviation=0.1)``).

    Parameters
    ----------
    approximate_ordering
        Order approximately when exact ordering needs a cell larger than 4 formula
        multiples; False refuses such structures (the behaviour before).
    ordering_max_deviation
        Largest accepted relative deviation of any species' amount,
        ``|n_ordered - n_reported| / n_reported`` (0.05 = 5 %).
    ordering_max_atoms
        Largest approximately ordered cell (atoms); a structure needing more is refused.
    ordering_n_starts
        Random arrangements tried, each minimised by swaps.
    ordering_seed
        Seed of the random arrangements (the ordering is reproducible).
    """

    approximate_ordering: bool = True
    ordering_max_deviation: float = 0.05
    ordering_max_atoms: int = 600
    ordering_n_starts: int = 20
    ordering_seed: int = 0


@dataclass
class OrderingResult:
    """An ordered structure and how it was obtained.

    ``method`` is None for an input that was already ordered, else ``"exact"`` or
    ``"approximate"``. Compositions are species -> number of atoms in the ordered cell
    (``reported_composition``: the input's amounts scaled to that cell);
    ``composition_deviation`` is ``|ordered - reported| / reported`` per species.
    """

    structure: Structure
    was_ordered: bool
    ewald_energy_ev: float | None = None
    n_orderings_considered: int = 0
    method: str | None = None
    supercell_multiple: int = 1
    reported_composition: dict[str, float] = field(default_factory=dict)
    rounded_composition: dict[str, int] = field(default_factory=dict)
    composition_deviation: dict[str, float] = field(default_factory=dict)
    mobile_count_change: int = 0
    ewald_energies_ev: list[float] = field(default_factory=list)
    n_close_pairs: int | None = None

    @property
    def max_composition_deviation(self) -> float:
        """Largest relative deviation of any species' amount (0 when none)."""
        return max(self.composition_deviation.values(), default=0.0)

    def summary(self) -> dict[str, Any] | None:
        """Return the ordering provenance for a document (None when nothing was ordered)."""
        if not self.was_ordered:
            return None
        worst = max(self.composition_deviation, key=self.composition_deviation.get, default=None)  # type: ignore[arg-type]
        energies = self.ewald_energies_ev
        return {
            "method": self.method,
            "supercell_multiple": self.supercell_multiple,
            "n_sites": len(self.structure),
            "reported_composition": _rounded(self.reported_composition),
            "rounded_composition": self.rounded_composition,
            "composition_deviation": _rounded(self.composition_deviation),
            "max_composition_deviation": round(self.max_composition_deviation, 6),
            "max_deviation_species": worst,
            "mobile_count_change_for_neutrality": self.mobile_count_change,
            "n_arrangements": self.n_orderings_considered,
            "ewald_energy_ev": self.ewald_energy_ev,
            "ewald_energy_spread_ev": round(max(energies) - min(energies), 6) if energies else None,
            "n_close_pairs": self.n_close_pairs,
            "min_distance_angstrom": round(min_interatomic_distance(self.structure), 4),
        }


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 6) for k, v in values.items()}


def order_structure(
    structure: Structure,
    max_cell_size: int = 4,
    settings: OrderingSettings | None = None,
    min_length_angstrom: float = 10.0,
    mobile_element: str = "Li",
) -> OrderingResult:
    """Return an ordered version of ``structure`` (lowest Ewald energy).

    Exact first: the structure is scaled so that every occupancy times the number of
    sites is integral (up to ``max_cell_size`` formula multiples) and pymatgen's
    :class:`OrderDisorderedStructureTransformation` ranks the orderings. When no such
    cell exists the structure is ordered approximately (:func:`approximate_ordering`)
    unless ``settings.approximate_ordering`` is False.

    Parameters
    ----------
    structure
        Structure with oxidation states; may contain partial occupancies.
    max_cell_size
        Largest supercell multiple tried to make occupancies integral.
    settings
        Approximate-ordering settings; None uses the defaults.
    min_length_angstrom
        Periodic-image distance of the NEB supercell (approximate ordering orders in it).
    mobile_element
        Element whose count may change to keep the approximate cell neutral.

    Returns
    -------
    OrderingResult
        ``was_ordered`` is False (and the structure an unchanged copy) when the input was
        already ordered.

    Raises
    ------
    StructurePreparationError
        When oxidation states are missing or no acceptable ordering is found.
    """
    if structure.is_ordered:
        return OrderingResult(structure=structure.copy(), was_ordered=False)
    _check_oxidation_states(structure)
    settings = settings or OrderingSettings()
    multiple = _integral_multiple(structure, max_cell_size)
    if multiple is None:
        if not settings.approximate_ordering:
            raise StructurePreparationError(
                f"occupancies of {structure.composition.reduced_formula} need a supercell "
                f"larger than {max_cell_size}x to be ordered (approximate ordering is off)"
            )
        return approximate_ordering(structure, settings, min_length_angstrom, mobile_element)
    scaled = structure.copy()
    if multiple > 1:
        scaled.make_supercell(_scaling_for_multiple(scaled.lattice, multiple))
    transformation = OrderDisorderedStructureTransformation(algo=0, no_oxi_states=False)
    ranked = transformation.apply_transformation(scaled, return_ranked_list=10)
    if not ranked:
        raise StructurePreparationError("no ordering found")
    best: dict[str, Any] = min(ranked, key=lambda entry: entry["energy"])  # type: ignore[arg-type,return-value]
    ordered = best["structure"]
    reported = _species_amounts(scaled)
    rounded = {k: round(v) for k, v in _species_amounts(ordered).items()}
    return OrderingResult(
        structure=ordered,
        was_ordered=True,
        ewald_energy_ev=float(best["energy"]),
        n_orderings_considered=len(ranked),
        method="exact",
        supercell_multiple=multiple,
        reported_composition=reported,
        rounded_composition=rounded,
        composition_deviation=_deviation(reported, rounded),
        ewald_energies_ev=[float(entry["energy"]) for entry in ranked],  # type: ignore[call-overload,index]
    )


def _check_oxidation_states(structure: Structure) -> None:
    if not all(hasattr(sp, "oxi_state") for site in structure for sp in site.species):
        raise StructurePreparationError("ordering needs oxidation states on every species")


def _integral_multiple(structure: Structure, max_cell_size: int) -> int | None:
    """Return the smallest multiple <= ``max_cell_size`` making occupancies integral."""
    occupancies = np.array([occ for site in structure for occ in site.species.values()])
    vacancy_fill = np.array([1.0 - site.species.num_atoms for site in structure])
    for multiple in range(1, max_cell_size + 1):
        counts = np.concatenate([occupancies, vacancy_fill]) * multiple
        if np.allclose(counts, np.round(counts), atol=INTEGRAL_ATOL):
            return multiple
    return None


def min_interatomic_distance(structure: Structure) -> float:
    """Shortest interatomic distance, periodic images included (Angstrom)."""
    if len(structure) == 1:
        return float(min(structure.lattice.abc))
    distances = structure.distance_matrix
    return float(distances[np.triu_indices(len(structure), 1)].min())


def _charge(species: Any) -> float:
    """Return the oxidation state of a pymatgen species (e)."""
    return float(getattr(species, "oxi_state", 0.0) or 0.0)


def _species_amounts(structure: Structure) -> dict[str, float]:
    amounts: dict[str, float] = {}
    for site in structure:
        for sp, occ in site.species.items():
            amounts[str(sp)] = amounts.get(str(sp), 0.0) + float(occ)
    return dict(sorted(amounts.items()))


def _deviation(reported: dict[str, float], rounded: dict[str, int]) -> dict[str, float]:
    return {
        k: abs(rounded.get(k, 0) - v) / v if v > 0 else float(rounded.get(k, 0) > 0)
        for k, v in reported.items()
    }


# --- rounding -------------------------------------------------------------------------


@dataclass
class Rounding:
    """Integer species counts of each disordered site orbit of a ``multiple``-fold cell.

    ``counts[g][species]`` atoms on orbit ``g`` (vacancies are the remaining sites);
    compositions are over the whole cell, ordered sites included.
    """

    multiple: int
    species: list[Any]
    counts: list[dict[Any, int]]
    reported: dict[str, float]
    rounded: dict[str, int]
    deviation: dict[str, float]
    mobile_change: int

    @property
    def max_deviation(self) -> float:
        """Largest relative deviation of any species' amount."""
        return max(self.deviation.values(), default=0.0)

    def worst(self) -> str:
        """Return a description of the species with the largest deviation."""
        name = max(self.deviation, key=self.deviation.get)  # type: ignore[arg-type]
        return (
            f"{name}: {self.reported[name]:.4g} -> {self.rounded.get(name, 0)} in the "
            f"{self.multiple}x cell, {self.deviation[name]:.1%}"
        )


def site_orbits(structure: Structure) -> list[list[int]]:
    """Return the symmetry-equivalent disordered sites of ``structure`` (index lists).

    Sites equivalent by the space group of the disordered structure (pymatgen/spglib
    treat each distinct occupancy as its own type); sites with the same occupancies
    but not equivalent stay apart, so each crystallographic site keeps its share.
    """
    disordered = [i for i, site in enumerate(structure) if not site.is_ordered]
    try:
        analyzer = SpacegroupAnalyzer(structure, symprec=0.01)
        orbits = analyzer.get_symmetrized_structure().equivalent_indices
    except Exception:  # no symmetry found: every site is its own orbit
        orbits = [[i] for i in range(len(structure))]
    wanted = set(disordered)
    groups = [sorted(i for i in orbit if i in wanted) for orbit in orbits]
    return sorted((g for g in groups if g), key=lambda g: g[0])


def round_occupancies(
    structure: Structure,
    multiple: int,
    orbits: list[list[int]] | None = None,
    mobile_element: str = "Li",
) -> Rounding:
    """Round the occupancies of a ``multiple``-fold supercell to whole atoms.

    Largest-remainder rounding generalised to several site orbits sharing species: every
    species total over the cell is the nearest integer of its reported amount and each
    orbit keeps its number of sites; among such roundings the one closest to the
    reported per-orbit amounts (least total absolute error, a small integer programme)
    is taken. When the rounded cell is not charge neutral, the mobile-ion count is
    changed until it is (recorded as ``mobile_change``).

    Raises
    ------
    StructurePreparationError
        When no rounding is charge neutral (e.g. no disordered mobile-ion site).
    """
    orbits = site_orbits(structure) if orbits is None else orbits
    species = sorted({sp for g in orbits for sp in structure[g[0]].species}, key=str)
    fixed: dict[str, float] = {}
    fixed_charge = 0.0
    in_orbit = {i for g in orbits for i in g}
    for i, site in enumerate(structure):
        if i not in in_orbit:
            sp = site.specie
            fixed[str(sp)] = fixed.get(str(sp), 0.0) + multiple
            fixed_charge += multiple * _charge(sp)
    totals = {
        sp: multiple * sum(structure[i].species.get(sp, 0.0) for g in orbits for i in g)
        for sp in species
    }
    formula = structure.composition.reduced_formula
    counts = _solve_counts(structure, orbits, species, totals, None, multiple)
    if counts is None:  # cannot happen: every orbit can be filled with floor/ceil totals
        raise StructurePreparationError(f"the occupancies of {formula} cannot be rounded")
    targets = {sp: sum(c.get(sp, 0) for c in counts) for sp in species}
    charge = fixed_charge + sum(n * _charge(sp) for sp, n in targets.items())
    mobile = [sp for sp in species if sp.symbol == mobile_element and _charge(sp)]
    change = 0
    if abs(charge) > 1e-6:
        if not mobile:
            raise StructurePreparationError(
                f"rounding the occupancies of {formula} leaves a charge of {charge:+.3g} e "
                f"and there is no disordered {mobile_element} site to restore neutrality"
            )
        ion = mobile[0]
        change = round(-charge / _charge(ion))
        targets[ion] += change
        counts = _solve_counts(structure, orbits, species, totals, targets, multiple)
        if counts is None:
            raise StructurePreparationError(
                f"the rounded {multiple}x cell of {formula} has a charge of {charge:+.3g} e "
                f"and its {mobile_element} sites cannot take {change:+d} {mobile_element} "
                "to restore neutrality"
            )
    reported = dict(fixed)
    rounded = {k: round(v) for k, v in fixed.items()}
    for sp in species:
        reported[str(sp)] = reported.get(str(sp), 0.0) + totals[sp]
        rounded[str(sp)] = rounded.get(str(sp), 0) + targets[sp]
    reported, rounded = dict(sorted(reported.items())), dict(sorted(rounded.items()))
    return Rounding(
        multiple=multiple,
        species=species,
        counts=counts,
        reported=reported,
        rounded=rounded,
        deviation=_deviation(reported, rounded),
        mobile_change=change,
    )


def _solve_counts(
    structure: Structure,
    orbits: list[list[int]],
    species: list[Any],
    totals: dict[Any, float],
    targets: dict[Any, int] | None,
    multiple: int,
) -> list[dict[Any, int]] | None:
    """Integer counts per (orbit, species) with fixed orbit sizes.

    Species totals are ``targets`` when given, else each the floor or ceiling of its
    reported total ``totals`` (the nearest that fills every orbit, weighted 1000x over
    the per-orbit error); among those, the counts closest to the reported per-orbit
    amounts (least total absolute error). A small transportation-like integer
    programme (variables: counts x, totals c and the deviations |x - t|, |c - T|),
    solved by HiGHS in milliseconds.
    """
    entries: list[tuple[int, Any, float, int]] = []  # orbit, species, target, size
    for g, orbit in enumerate(orbits):
        size = multiple * len(orbit)
        occ = structure[orbit[0]].species
        for sp in species:
            if sp in occ:
                entries.append((g, sp, size * float(occ[sp]), size))
        vacancy = 1.0 - float(occ.num_atoms)
        if vacancy > 1e-6:
            entries.append((g, None, size * vacancy, size))
    n, m = len(entries), len(species)
    width = 2 * n + 2 * m  # x, d (per entry), c, e (per species)
    rows: list[NDArray[np.float64]] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(coefficients: dict[int, float], low: float, high: float) -> None:
        row = np.zeros(width)
        for column, value in coefficients.items():
            row[column] = value
        rows.append(row)
        lower.append(low)
        upper.append(high)

    for g, orbit in enumerate(orbits):
        size = multiple * len(orbit)
        add({k: 1.0 for k, e in enumerate(entries) if e[0] == g}, size, size)
    for j, sp in enumerate(species):
        column = {k: 1.0 for k, e in enumerate(entries) if e[1] == sp}
        add({**column, 2 * n + j: -1.0}, 0.0, 0.0)
        add({2 * n + m + j: 1.0, 2 * n + j: -1.0}, -totals[sp], np.inf)
        add({2 * n + m + j: 1.0, 2 * n + j: 1.0}, totals[sp], np.inf)
    for k, (_, _, target, _) in enumerate(entries):
        add({n + k: 1.0, k: -1.0}, -target, np.inf)
        add({n + k: 1.0, k: 1.0}, target, np.inf)
    if targets is None:
        low_c = [np.floor(totals[sp] + 1e-9) for sp in species]
        high_c = [np.ceil(totals[sp] - 1e-9) for sp in species]
    else:
        low_c = high_c = [float(targets[sp]) for sp in species]
    sizes = [float(e[3]) for e in entries]
    cost = np.concatenate([np.zeros(n), np.ones(n), np.zeros(m), np.full(m, 1000.0)])
    result = milp(
        cost,
        constraints=LinearConstraint(np.array(rows), lower, upper),
        integrality=np.concatenate([np.ones(n), np.zeros(n), np.ones(m), np.zeros(m)]),
        bounds=Bounds(
            np.concatenate([np.zeros(2 * n), low_c, np.zeros(m)]),
            np.concatenate([sizes, np.full(n, np.inf), high_c, np.full(m, np.inf)]),
        ),
    )
    if not result.success:
        return None
    x = np.round(result.x[:n]).astype(int)
    counts: list[dict[Any, int]] = [{} for _ in orbits]
    for (g, sp, _, _), value in zip(entries, x, strict=True):
        if sp is not None and value > 0:
            counts[g][sp] = int(value)
    return counts


# --- placement ------------------------------------------------------------------------


@dataclass
class Placement:
    """Species (None: vacancy) of every disordered supercell site and the Ewald energies."""

    labels: dict[int, Any]
    energy_ev: float
    energies_ev: list[float]
    n_close_pairs: int = 0


def ewald_matrix(lattice: Lattice, frac_coords: NDArray[np.float64]) -> NDArray[np.float64]:
    """Return the Ewald matrix ``A`` of unit charges: ``E(q) = q @ A @ q`` (eV).

    pymatgen's :class:`EwaldSummation` on the sites with charge +1; the energy of any
    charge assignment (0 for a vacancy) of a neutral cell is then a quadratic form, so
    thousands of arrangements cost one Ewald summation.
    """
    unit = Structure(lattice, [Species("H", 1)] * len(frac_coords), frac_coords)
    return np.asarray(EwaldSummation(unit).total_energy_matrix)


def close_pair_matrix(
    distances: NDArray[np.float64],
    disordered: NDArray[np.bool_],
    cutoff_angstrom: float = CLOSE_PAIR_ANGSTROM,
    penalty_ev: float = CLOSE_PAIR_PENALTY_EV,
) -> NDArray[np.float64]:
    """Return ``C`` with ``o @ C @ o`` = penalty x (occupied disordered pairs < cutoff).

    ``o`` is 1 on occupied sites. Split sites of one disordered atom (e.g. Li 0.7 A
    apart in argyrodites) must not both be occupied: the Ewald energy alone disfavours
    it (14.4 eV / 1 A for two Li+) but a swap search can stop with such a pair.
    """
    close = (distances < cutoff_angstrom) & np.outer(disordered, disordered)
    np.fill_diagonal(close, False)
    return np.asarray(close * (penalty_ev / 2.0), dtype=float)


def place_species(
    groups: list[list[int]],
    counts: list[dict[Any, int]],
    fixed_charges: NDArray[np.float64],
    matrix: NDArray[np.float64],
    n_starts: int,
    seed: int,
    swaps: bool = True,
    close_pairs: NDArray[np.float64] | None = None,
) -> Placement:
    """Place the rounded counts on the supercell sites at the lowest Ewald energy found.

    ``n_starts`` random arrangements (seeded) are drawn; with ``swaps`` each is improved
    by steepest descent over exchanges of two sites of one orbit holding different
    species (the energy change of a swap is O(N) from the site potentials) until no
    exchange lowers the objective: the Ewald energy plus the close-pair penalty
    (:func:`close_pair_matrix`). The arrangement with the lowest objective is kept;
    ``energies_ev`` are the Ewald energies of all (minimised) arrangements.

    Parameters
    ----------
    groups
        Supercell site indices of each disordered orbit.
    counts
        Species counts of each orbit (the rest are vacancies).
    fixed_charges
        Charge of every supercell site from the ordered sites (0 on disordered ones).
    matrix
        :func:`ewald_matrix` of all supercell sites.
    n_starts, seed
        Number of arrangements and random seed.
    swaps
        Minimise each arrangement by swaps (False: keep the random arrangements).
    close_pairs
        :func:`close_pair_matrix`; None: no penalty.
    """
    rng = np.random.default_rng(seed)
    penalty = np.zeros_like(matrix) if close_pairs is None else close_pairs
    pools = []
    for orbit_sites, orbit_counts in zip(groups, counts, strict=True):
        pool: list[Any] = [sp for sp, k in orbit_counts.items() for _ in range(k)]
        pools.append(pool + [None] * (len(orbit_sites) - len(pool)))
    best: tuple[float, float, dict[int, Any], int] | None = None
    energies = []
    for _ in range(n_starts):
        labels: dict[int, Any] = {}
        for orbit_sites, pool in zip(groups, pools, strict=True):
            order = rng.permutation(len(pool))
            labels.update({site: pool[k] for site, k in zip(orbit_sites, order, strict=True)})
        charges = fixed_charges.copy()
        occupied = np.ones(len(fixed_charges))
        for site, sp in labels.items():
            charges[site] = 0.0 if sp is None else _charge(sp)
            occupied[site] = 0.0 if sp is None else 1.0
        if swaps:
            labels = _swap_descent(groups, labels, [(matrix, charges), (penalty, occupied)])
        energy = float(charges @ matrix @ charges)
        objective = energy + float(occupied @ penalty @ occupied)
        energies.append(energy)
        if best is None or objective < best[0] - 1e-9:
            pairs = int(np.count_nonzero(penalty * np.outer(occupied, occupied))) // 2
            best = (objective, energy, labels, pairs)
    assert best is not None
    return Placement(labels=best[2], energy_ev=best[1], energies_ev=energies, n_close_pairs=best[3])


def _swap_descent(
    groups: list[list[int]],
    labels: dict[int, Any],
    forms: list[tuple[NDArray[np.float64], NDArray[np.float64]]],
) -> dict[int, Any]:
    """Apply the best objective-lowering swap within an orbit until there is none.

    The objective is a sum of quadratic forms ``x @ M @ x`` (the vectors ``x`` are
    updated in place). Swapping sites i and j changes ``x_i`` by ``d = x_j - x_i`` and
    ``x_j`` by ``-d``, so the form changes by ``2 d (phi_i - phi_j) + d^2 (M_ii + M_jj -
    2 M_ij)`` with ``phi = M @ x``.
    """
    labels = dict(labels)
    potentials = [m @ x for m, x in forms]
    index = [np.array(g) for g in groups]
    while True:
        best_gain, best_pair = -1e-9, None
        for sites in index:
            change = np.zeros((len(sites), len(sites)))
            for (m, x), phi_all in zip(forms, potentials, strict=True):
                values = x[sites]
                delta = values[None, :] - values[:, None]  # onto i from j
                if not np.any(delta):
                    continue
                phi = phi_all[sites]
                diagonal = np.diag(m)[sites]
                pair = diagonal[:, None] + diagonal[None, :] - 2 * m[np.ix_(sites, sites)]
                change += 2 * delta * (phi[:, None] - phi[None, :]) + delta**2 * pair
            k = int(np.argmin(change))
            if change.flat[k] < best_gain:
                i, j = divmod(k, len(sites))
                best_gain, best_pair = float(change.flat[k]), (int(sites[i]), int(sites[j]))
        if best_pair is None:
            return labels
        i, j = best_pair
        for (m, x), phi_all in zip(forms, potentials, strict=True):
            d = x[j] - x[i]
            if d:
                phi_all += m[:, i] * d - m[:, j] * d
                x[i], x[j] = x[j], x[i]
        labels[i], labels[j] = labels[j], labels[i]


# --- the whole approximate ordering ---------------------------------------------------


def approximate_ordering(
    structure: Structure,
    settings: OrderingSettings | None = None,
    min_length_angstrom: float = 10.0,
    mobile_element: str = "Li",
    swaps: bool = True,
) -> OrderingResult:
    """Order ``structure`` approximately in (at least) its NEB supercell.

    The cell is the NEB supercell of the input (every periodic image >=
    ``min_length_angstrom`` away, :func:`~sseflow.neb.supercell.minimum_length_supercell_matrix`),
    so the NEB runs on the ordered cell itself and no ordering is repeated periodically.
    When the rounding error there exceeds ``settings.ordering_max_deviation`` the next
    larger multiples are tried (each as its most orthogonal superlattice with long
    vectors) up to ``settings.ordering_max_atoms`` atoms.

    Raises
    ------
    StructurePreparationError
        When the cell would exceed the atom limit, or no multiple within it rounds the
        composition within the tolerance (the message names the species and deviation).
    """
    settings = settings or OrderingSettings()
    _check_oxidation_states(structure)
    formula = structure.composition.reduced_formula
    orbits = site_orbits(structure)
    atoms_per_cell = structure.composition.num_atoms
    neb_matrix = minimum_length_supercell_matrix(structure.lattice, min_length_angstrom)
    first = round(abs(np.linalg.det(neb_matrix)))
    last = int(settings.ordering_max_atoms // atoms_per_cell)
    if first > last:
        raise StructurePreparationError(
            f"approximate ordering of {formula} refused: its NEB supercell ({first}x, "
            f"~{first * atoms_per_cell:.0f} atoms) exceeds ordering_max_atoms = "
            f"{settings.ordering_max_atoms}"
        )
    closest: Rounding | None = None
    for multiple in range(first, last + 1):
        rounding = round_occupancies(structure, multiple, orbits, mobile_element)
        if rounding.max_deviation > settings.ordering_max_deviation:
            if closest is None or rounding.max_deviation < closest.max_deviation:
                closest = rounding
            continue
        matrix = neb_matrix if multiple == first else None
        if matrix is None:
            matrix = superlattice_matrix(structure.lattice, multiple, min_length_angstrom)
        if matrix is not None:
            return _place(structure, rounding, matrix, orbits, settings, swaps)
    if closest is None:  # within tolerance, but no cell of those sizes is long enough
        raise StructurePreparationError(
            f"approximate ordering of {formula} refused: no {first}x to {last}x supercell "
            f"(up to {settings.ordering_max_atoms} atoms) whose composition rounds within "
            f"ordering_max_deviation has all periodic images >= {min_length_angstrom} A"
        )
    raise StructurePreparationError(
        f"approximate ordering of {formula} refused: within {settings.ordering_max_atoms} "
        f"atoms ({first}x to {last}x cells) the closest rounded composition deviates "
        f"{closest.max_deviation:.1%} from the reported one ({closest.worst()}), more than "
        f"ordering_max_deviation = {settings.ordering_max_deviation:.0%}"
    )


def _place(
    structure: Structure,
    rounding: Rounding,
    scaling: NDArray[np.int64],
    orbits: list[list[int]],
    settings: OrderingSettings,
    swaps: bool,
) -> OrderingResult:
    """Build the supercell, place the rounded species and return the ordered cell."""
    tagged = structure.copy()
    tagged.add_site_property("unit_cell_index", list(range(len(structure))))
    tagged.make_supercell(scaling, to_unit_cell=True)
    origin = np.array(tagged.site_properties["unit_cell_index"])
    groups = [sorted(np.flatnonzero(np.isin(origin, orbit)).tolist()) for orbit in orbits]
    fixed = np.array([_charge(site.specie) if site.is_ordered else 0.0 for site in tagged])
    matrix = ewald_matrix(tagged.lattice, tagged.frac_coords)
    disordered = np.array([not site.is_ordered for site in tagged])
    close = close_pair_matrix(tagged.distance_matrix, disordered)
    placement = place_species(
        groups,
        rounding.counts,
        fixed,
        matrix,
        settings.ordering_n_starts,
        settings.ordering_seed,
        swaps=swaps,
        close_pairs=close,
    )
    species, coords = [], []
    for i, site in enumerate(tagged):
        sp: Any = site.specie if site.is_ordered else placement.labels[i]
        if sp is not None:
            species.append(sp)
            coords.append(site.frac_coords)
    ordered = Structure(tagged.lattice, species, coords)
    return OrderingResult(
        structure=ordered,
        was_ordered=True,
        ewald_energy_ev=round(placement.energy_ev, 6),
        n_orderings_considered=len(placement.energies_ev),
        method="approximate",
        supercell_multiple=rounding.multiple,
        reported_composition=rounding.reported,
        rounded_composition=rounding.rounded,
        composition_deviation=rounding.deviation,
        mobile_count_change=rounding.mobile_change,
        ewald_energies_ev=[round(e, 6) for e in placement.energies_ev],
        n_close_pairs=placement.n_close_pairs,
    )
