"""Several orderings of a disordered candidate: distinct samples, median run, spread."""

from pathlib import Path

import pytest
from pymatgen.core import Lattice, Structure

from sseflow.neb.hops import HopError
from sseflow.neb.jobs import MLIPNEBMaker
from sseflow.neb.ordering import OrderingSettings, order_structure
from sseflow.neb.ordering_samples import (
    distinct_orderings,
    representative_ordering,
    run_ordering_samples,
)
from sseflow.qe.jobs import QENEBMaker
from tests.neb.test_ordering import doped_candidate, doped_li2s, run_tiny_chgnet_neb

#: one swap-minimised random start per seed: different seeds end in different orderings
ONE_START = OrderingSettings(ordering_max_deviation=0.2, ordering_n_starts=1)


def test_distinct_orderings_start_at_the_makers_seed_and_differ():
    structure = doped_li2s()
    samples, tried = distinct_orderings(structure, ONE_START, 3, min_length_angstrom=8.0)
    assert len(samples) == 3
    seeds = [s.seed for s in samples]
    assert seeds[0] == ONE_START.ordering_seed and seeds == sorted(seeds)
    assert tried == seeds[-1] + 1 > 3  # here a seed repeats an ordering and is skipped
    energies = [s.ewald_energy_ev for s in samples]
    assert len({round(e, 6) for e in energies}) == 3
    # each sample is the ordering the NEB preparation computes with its seed
    for sample in samples:
        again = order_structure(
            structure, settings=sample.settings(ONE_START), min_length_angstrom=8.0
        )
        assert again.ewald_energy_ev == pytest.approx(sample.ewald_energy_ev, abs=1e-9)
        assert sample.method == "approximate"


def test_ordered_and_exactly_ordered_inputs_have_one_ordering():
    ordered = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", "Li+"], [[0, 0, 0], [0.25] * 3]
    )
    samples, tried = distinct_orderings(ordered, ONE_START, 4)
    assert [s.method for s in samples] == [None] and tried == 1
    half = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", {"Li+": 0.5, "Na+": 0.5}], [[0, 0, 0], [0.25] * 3]
    )
    samples, tried = distinct_orderings(half, ONE_START, 4)
    assert [s.method for s in samples] == ["exact"] and tried == 1


class FakeNEB:
    """Stands in for one NEB run in these aggregation tests: barrier by seed, or an error."""

    def __init__(self, barriers: dict[int, float | tuple[float, bool] | Exception]):
        self.barriers = barriers
        self.calls: list[tuple[int, Path]] = []

    def __call__(self, settings: OrderingSettings, folder: Path) -> dict:
        self.calls.append((settings.ordering_seed, folder))
        value = self.barriers[settings.ordering_seed]
        if isinstance(value, Exception):
            raise value
        barrier, converged = value if isinstance(value, tuple) else (value, True)
        return {
            "barrier_forward_ev": barrier,
            "converged": converged,
            "seed_seen": settings.ordering_seed,
        }


def test_the_median_run_is_kept_with_every_barrier_and_the_spread(tmp_path):
    structure = doped_li2s()
    samples, _ = distinct_orderings(structure, ONE_START, 3, min_length_angstrom=8.0)
    seeds = [s.seed for s in samples]
    run = FakeNEB(dict(zip(seeds, [0.50, 0.20, 0.35], strict=True)))
    out = run_ordering_samples(
        run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
    )
    assert [seed for seed, _ in run.calls] == seeds
    assert [folder for _, folder in run.calls] == [tmp_path / f"ordering_seed_{s}" for s in seeds]
    assert out["barrier_forward_ev"] == 0.35 and out["seed_seen"] == seeds[2]
    assert out["barrier_spread_ev"] == pytest.approx(0.30)
    rows = out["ordering_samples"]
    assert [r["barrier_forward_ev"] for r in rows] == [0.50, 0.20, 0.35]
    assert [r["representative"] for r in rows] == [False, False, True]
    assert all(r["status"] == "ran" for r in rows)
    assert representative_ordering(out, ONE_START).ordering_seed == seeds[2]


def test_a_failed_sample_is_recorded_and_the_others_kept(tmp_path):
    structure = doped_li2s()
    samples, _ = distinct_orderings(structure, ONE_START, 3, min_length_angstrom=8.0)
    seeds = [s.seed for s in samples]
    run = FakeNEB({seeds[0]: 0.4, seeds[1]: HopError("no hop percolates"), seeds[2]: 0.3})
    out = run_ordering_samples(
        run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
    )
    # even count: the lower of the two middle barriers
    assert out["barrier_forward_ev"] == 0.3 and out["barrier_spread_ev"] == pytest.approx(0.1)
    failed = out["ordering_samples"][1]
    assert failed["status"] == "failed" and failed["reason"] == "no hop percolates"
    assert failed["barrier_forward_ev"] is None and not failed["representative"]
    # every sample failing fails the candidate with the first sample's reason
    run = FakeNEB({s: HopError(f"seed {s}") for s in seeds})
    with pytest.raises(HopError, match=f"seed {seeds[0]}"):
        run_ordering_samples(
            run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
        )
    # a run stopped before convergence (walltime) is recorded but not the median ...
    run = FakeNEB({seeds[0]: 0.4, seeds[1]: (0.1, False), seeds[2]: 0.3})
    out = run_ordering_samples(
        run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
    )
    assert out["barrier_forward_ev"] == 0.3 and out["barrier_spread_ev"] == pytest.approx(0.1)
    assert out["ordering_samples"][1]["converged"] is False
    # ... unless none converged
    run = FakeNEB({seeds[0]: (0.4, False), seeds[1]: (0.1, False), seeds[2]: (0.3, False)})
    out = run_ordering_samples(
        run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
    )
    assert out["barrier_forward_ev"] == 0.3 and out["converged"] is False
    # an unexpected error is not swallowed
    run = FakeNEB({seeds[0]: 0.4, seeds[1]: RuntimeError("bug"), seeds[2]: 0.3})
    with pytest.raises(RuntimeError, match="bug"):
        run_ordering_samples(
            run, structure, ONE_START, 3, tmp_path, (HopError,), min_length_angstrom=8.0
        )


def test_one_sample_is_the_single_run_in_the_tier_folder(tmp_path):
    run = FakeNEB({0: 0.25})
    out = run_ordering_samples(run, doped_li2s(), ONE_START, 1, tmp_path)
    assert run.calls == [(0, tmp_path)]
    assert "ordering_samples" not in out and "barrier_spread_ev" not in out
    # an ordered input asked for several orderings runs once, and says why
    ordered = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.71), ["S2-", "Li+"], [[0, 0, 0], [0.25] * 3]
    )
    run = FakeNEB({0: 0.25})
    out = run_ordering_samples(run, ordered, ONE_START, 3, tmp_path)
    assert run.calls == [(0, tmp_path)]
    assert out["ordering_samples_note"] == "the input is ordered: one ordering"
    assert out["barrier_spread_ev"] is None and len(out["ordering_samples"]) == 1
    # fewer distinct orderings than asked for: all of them run, and the note says so
    samples, tried = distinct_orderings(doped_li2s(), ONE_START, 6, min_length_angstrom=8.0)
    assert len(samples) < 6 and tried == 18
    run = FakeNEB({s.seed: 0.1 * (i + 1) for i, s in enumerate(samples)})
    out = run_ordering_samples(run, doped_li2s(), ONE_START, 6, tmp_path, min_length_angstrom=8.0)
    assert len(run.calls) == len(samples) == len(out["ordering_samples"])
    assert (
        out["ordering_samples_note"]
        == f"{len(samples)} distinct orderings in 18 seeds (6 asked for)"
    )


def test_makers_validate_and_hash_ordering_samples():
    assert (
        MLIPNEBMaker().tier_settings_hash() == MLIPNEBMaker(ordering_samples=1).tier_settings_hash()
    )
    sampled = MLIPNEBMaker(ordering_samples=3)
    assert sampled.tier_settings()["ordering_samples"] == 3
    assert sampled.tier_settings_hash() != MLIPNEBMaker().tier_settings_hash()
    assert MLIPNEBMaker.from_dict(sampled.as_dict()) == sampled
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="ordering_samples must be an integer >= 1"):
            MLIPNEBMaker(ordering_samples=bad)
    with pytest.raises(ValueError, match="needs relax_bulk=False"):
        QENEBMaker(relax_bulk=True, ordering_samples=2)
    assert QENEBMaker(ordering_samples=2).ordering_samples == 2


@pytest.mark.slow
def test_mlip_tier_runs_several_orderings(tmp_path):
    """Tiny CHGNet CI-NEB of two orderings of an approximately ordered cell, loose forces."""
    from sseflow.common.document import TierStatus

    # Cl on the anion site, Mg and vacancies on the Li site: orderings differ by seed
    doc = run_tiny_chgnet_neb(
        doped_candidate(mg=0.15),
        tmp_path,
        min_length_angstrom=8.0,
        fmax_ev_per_angstrom=0.1,
        endpoint_fmax_ev_per_angstrom=0.05,
        ordering_max_deviation=0.2,
        ordering_n_starts=1,
        ordering_samples=2,
    )
    assert doc.status == TierStatus.PENDING, doc.reason
    rows = doc.ordering_samples
    assert rows is not None and len(rows) == 2, doc.ordering_samples_note
    assert len({r["ewald_energy_ev"] for r in rows}) == 2
    assert all(r["status"] == "ran" and r["barrier_forward_ev"] is not None for r in rows)
    barriers = sorted(r["barrier_forward_ev"] for r in rows)
    assert doc.barrier_forward_ev == pytest.approx(barriers[0])  # lower middle of two
    assert doc.barrier_spread_ev == pytest.approx(barriers[1] - barriers[0])
    chosen = next(r for r in rows if r["representative"])
    assert doc.ordering_ewald_energy_ev == pytest.approx(chosen["ewald_energy_ev"])
    assert doc.settings["ordering_samples"] == 2
