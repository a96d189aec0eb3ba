"""Ordering disordered structures for NEB: exact (unchanged) and approximate."""

import numpy as np
import pytest
from pymatgen.analysis.ewald import EwaldSummation
from pymatgen.core import Lattice, Structure

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.neb.jobs import CHGNetNEBMaker, MLIPNEBMaker
from sseflow.neb.ordering import (
    OrderingSettings,
    approximate_ordering,
    order_structure,
    round_occupancies,
)
from sseflow.neb.setup import prepare_neb_hops
from sseflow.neb.supercell import StructurePreparationError, shortest_vector_length
from sseflow.qe.jobs import QENEBMaker, QERelaxMaker


def doped_li2s(cl: float = 0.3, mg: float = 0.15) -> Structure:
    """Antifluorite Li2S with S/Cl on the anion site and Li/Mg/vacancy on the Li site.

    Neutral as given; no cell of <= 4 formula multiples makes the occupancies integral.
    """
    li = (4 * (2 - cl) - 16 * mg) / 8
    li_site = {"Li+": li, "Mg2+": mg} if mg else {"Li+": li}
    return Structure.from_spacegroup(
        "Fm-3m",
        Lattice.cubic(5.71),
        [{"S2-": 1 - cl, "Cl-": cl}, li_site],
        [[0, 0, 0], [0.25, 0.25, 0.25]],
    )


def doped_candidate(mg: float = 0.0) -> Candidate:
    """The Cl-doped Li2S (no Mg unless asked for) as a funnel candidate."""
    structure = doped_li2s(cl=0.3, mg=mg)
    oxidation_states = {"Li": 1.0, "S": -2.0, "Cl": -1.0} | ({"Mg": 2.0} if mg else {})
    return Candidate(
        candidate_id="li2s-cl-mg-disordered" if mg else "li2s-cl-disordered",
        formula=structure.composition.reduced_formula,
        structure=structure,
        oxidation_states=oxidation_states,
        source=SourceInfo(path="<memory>", format="structure"),
    )


def run_tiny_chgnet_neb(candidate: Candidate, tmp_path, **settings):
    """Run a small, loose CHGNet CI-NEB tier job on ``candidate``; return its document."""
    from jobflow import run_locally

    maker = CHGNetNEBMaker(
        n_images=3,
        work_dir=str(tmp_path),
        use_stored_bvse_grid=False,
        bvse_resolution_angstrom=0.3,
        **settings,
    )
    job = maker.make(candidate)
    return run_locally(job, ensure_success=True, log=False)[job.uuid][1].output


LOOSE = OrderingSettings(ordering_max_deviation=0.2, ordering_n_starts=8)


def charge(structure: Structure) -> float:
    return sum(site.specie.oxi_state for site in structure)


def test_exact_ordering_is_used_first_and_recorded():
    disordered = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", {"Li+": 0.5, "Na+": 0.5}], [[0, 0, 0], [0.25] * 3]
    )
    result = order_structure(disordered)
    assert result.method == "exact" and result.supercell_multiple == 2  # 0.5 per site
    assert result.max_composition_deviation == 0.0
    summary = result.summary()
    assert (
        summary["method"] == "exact" and summary["n_arrangements"] == result.n_orderings_considered
    )
    assert summary["ewald_energy_ev"] == result.ewald_energy_ev == min(result.ewald_energies_ev)


def test_needing_more_than_4x_is_ordered_approximately():
    structure = doped_li2s()
    with pytest.raises(StructurePreparationError, match="larger than 4x"):
        order_structure(structure, settings=OrderingSettings(approximate_ordering=False))
    result = order_structure(structure, settings=LOOSE, min_length_angstrom=8.0)
    ordered = result.structure
    assert result.method == "approximate" and ordered.is_ordered
    # ordered in the NEB supercell itself: the fcc-like 2x cell, images >= 8 A apart
    assert result.supercell_multiple == 2
    assert shortest_vector_length(ordered.lattice.matrix) >= 8.0
    assert ordered.lattice.volume == pytest.approx(2 * structure.lattice.volume)
    assert charge(ordered) == pytest.approx(0.0)
    # 8 anion sites: Cl 2.4 -> 2, S 5.6 -> 6; 16 Li sites: Mg 2.4 -> 2 and Li 8.8 -> 9
    # is one short of neutrality (-14 + 2 * 2 + 9), so the Li count becomes 10
    counts = {str(k): int(v) for k, v in ordered.composition.items()}
    assert counts == {"S2-": 6, "Cl-": 2, "Li+": 10, "Mg2+": 2}
    assert result.rounded_composition == {"Cl-": 2, "Li+": 10, "Mg2+": 2, "S2-": 6}
    assert result.mobile_count_change == 1
    reported = result.reported_composition
    assert reported["Cl-"] == pytest.approx(2.4) and reported["Li+"] == pytest.approx(8.8)
    assert result.composition_deviation["Cl-"] == pytest.approx(0.4 / 2.4)
    assert result.composition_deviation["Li+"] == pytest.approx(1.2 / 8.8)
    assert result.max_composition_deviation == pytest.approx(0.4 / 2.4)
    summary = result.summary()
    assert summary["max_deviation_species"] == "Cl-"
    assert summary["mobile_count_change_for_neutrality"] == 1
    assert summary["n_arrangements"] == 8 == len(result.ewald_energies_ev)


def test_approximate_ordering_is_the_lowest_ewald_and_reproducible():
    structure = doped_li2s()
    result = order_structure(structure, settings=LOOSE, min_length_angstrom=8.0)
    # the recorded energy is the Ewald energy of the ordered cell (pymatgen) ...
    assert EwaldSummation(result.structure).total_energy == pytest.approx(
        result.ewald_energy_ev, abs=1e-3
    )
    # ... and the lowest of the arrangements tried
    assert result.ewald_energy_ev == pytest.approx(min(result.ewald_energies_ev))
    again = order_structure(structure, settings=LOOSE, min_length_angstrom=8.0)
    assert again.structure == result.structure
    assert again.ewald_energies_ev == result.ewald_energies_ev
    # the swaps improve the same random arrangements (same seed) they start from
    random_only = approximate_ordering(structure, LOOSE, 8.0, swaps=False)
    assert len(random_only.ewald_energies_ev) == 8
    assert all(
        s <= r + 1e-9
        for s, r in zip(result.ewald_energies_ev, random_only.ewald_energies_ev, strict=True)
    )
    assert result.ewald_energy_ev < min(random_only.ewald_energies_ev)


def test_rounding_keeps_site_counts_and_nearest_totals():
    rounding = round_occupancies(doped_li2s(cl=0.35, mg=0.05), multiple=2)
    # 8 anion sites: Cl 2.8 -> 3, S 5.2 -> 5; 16 Li sites: Mg 0.8 -> 1, Li 11.6 -> 12
    # would leave +1 e, so Li is 11
    assert rounding.rounded == {"Cl-": 3, "Li+": 11, "Mg2+": 1, "S2-": 5}
    assert rounding.mobile_change == -1
    assert rounding.deviation["Li+"] == pytest.approx(0.6 / 11.6)
    sizes = [sum(c.values()) for c in rounding.counts]
    assert sorted(sizes) == [8, 12]  # the anion orbit full, 4 vacancies on the Li orbit


def test_too_poor_approximation_is_refused_with_the_reason():
    structure = doped_li2s()
    strict = OrderingSettings(ordering_max_deviation=0.05, ordering_max_atoms=30)
    with pytest.raises(StructurePreparationError) as error:
        order_structure(structure, settings=strict, min_length_angstrom=8.0)
    message = str(error.value)
    assert "refused" in message and "ordering_max_deviation = 5%" in message
    assert "Cl-" in message or "Mg2+" in message or "Li+" in message
    assert "%" in message.split("deviates")[1]
    small = OrderingSettings(ordering_max_atoms=10)
    with pytest.raises(StructurePreparationError, match="exceeds ordering_max_atoms = 10"):
        order_structure(structure, settings=small, min_length_angstrom=8.0)


def test_ordering_settings_keep_the_stored_settings_hashes():
    # the hashes of the default Makers before approximate ordering existed (with the hop
    # choice of that time, hop_order="lowest"; the bottleneck default is hashed apart)
    assert CHGNetNEBMaker(hop_order="lowest").tier_settings_hash() == "c860fe63236f3a06"
    assert MLIPNEBMaker(hop_order="lowest").tier_settings_hash() == "978f2e379bbcda6b"
    assert QENEBMaker(hop_order="lowest").tier_settings_hash() == "0fc67cabc46fe137"
    assert QERelaxMaker().tier_settings_hash() == "f38950c2053c9c13"
    changed = MLIPNEBMaker(ordering_max_deviation=0.1)
    assert changed.ordering.ordering_max_deviation == 0.1
    assert changed.tier_settings()["ordering_max_deviation"] == 0.1
    assert changed.tier_settings_hash() != MLIPNEBMaker().tier_settings_hash()
    assert MLIPNEBMaker.from_dict(changed.as_dict()) == changed


def test_a_structure_refused_before_now_reaches_the_neb_setup():
    structure = doped_li2s(cl=0.3, mg=0.0)
    with pytest.raises(StructurePreparationError, match="larger than 4x"):
        prepare_neb_hops(
            structure,
            min_length_angstrom=8.0,
            ordering=OrderingSettings(approximate_ordering=False),
        )
    prep = prepare_neb_hops(
        structure, min_length_angstrom=8.0, ordering=LOOSE, bvse_resolution_angstrom=0.3
    )
    assert prep.was_ordered and prep.ordering is not None
    assert prep.ordering.method == "approximate"
    # the ordered cell is already the NEB supercell
    assert len(prep.supercell) == len(prep.unit_cell)
    assert np.allclose(prep.supercell.lattice.volume, prep.unit_cell.lattice.volume)
    assert prep.hops and prep.hops[0].endpoints is not None


@pytest.mark.slow
def test_mlip_tier_runs_a_candidate_that_needed_more_than_4x(tmp_path):
    """Tiny CHGNet CI-NEB of an approximately ordered cell (11 atoms), jobflow (~20 s)."""
    from sseflow.common.document import TierStatus

    doc = run_tiny_chgnet_neb(
        doped_candidate(),
        tmp_path,
        min_length_angstrom=5.5,
        ordering_max_deviation=0.2,
        ordering_n_starts=4,
    )
    assert doc.status == TierStatus.PENDING, doc.reason
    assert doc.was_ordered and doc.ordering["method"] == "approximate"
    assert doc.ordering["rounded_composition"] == {"Cl-": 1, "Li+": 7, "S2-": 3}
    assert doc.ordering["max_composition_deviation"] == pytest.approx(0.2 / 1.2, abs=1e-6)
    assert doc.ordering["n_arrangements"] == 4
    assert doc.supercell["n_sites_perfect"] == 11
    assert doc.barrier_forward_ev is not None and doc.hops
    assert doc.settings["ordering_max_deviation"] == 0.2


def test_qe_tier_orders_as_the_neb_preparation():
    """Convergence test, bulk relaxation and NEB of the QE tier share one ordered cell."""
    candidate = doped_candidate()
    structure = candidate.structure
    maker = QENEBMaker(min_length_angstrom=8.0, ordering_max_deviation=0.2, ordering_n_starts=4)
    ordered = maker.ordered(candidate)
    assert ordered.method == "approximate"
    prep = prepare_neb_hops(
        structure, min_length_angstrom=8.0, ordering=maker.ordering, bvse_resolution_angstrom=0.3
    )
    assert prep.unit_cell == ordered.structure
    assert prep.ordering is not None and prep.ordering.summary() == ordered.summary()
