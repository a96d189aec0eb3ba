"""Several ordered approximants of one disordered structure, and the spread of their barriers.

An approximately ordered cell (:func:`~sseflow.neb.ordering.approximate_ordering`) is one
low-Ewald-energy arrangement of the species over the partially occupied sites; another
seed of the random starts gives another. The barrier of the hop a NEB computes depends
on the arrangement around it (an argyrodite's Li sites, a NASICON's Al/Ge), so a single
approximant is one sample of the disorder. :func:`run_ordering_samples` runs the same NEB
on ``n_samples`` distinct approximants (seeds ``ordering_seed``, ``ordering_seed + 1``,
...; a seed whose arrangement has the Ewald energy of one already taken is the same
ordering and is skipped) and returns the run with the median barrier, the barrier of
every sample and their spread (max - min).

Only approximate orderings are sampled: an input that is ordered, or ordered exactly
(pymatgen's ranking in a cell of up to 4 formula multiples is deterministic), has one
ordering and is run once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from sseflow.neb.ordering import OrderingSettings, order_structure

#: Ewald energies (eV, whole ordered cell) closer than this are the same arrangement.
SAME_ORDERING_EV = 1e-6
#: Seeds tried per requested sample before giving up on finding more distinct orderings.
SEEDS_PER_SAMPLE = 3


@dataclass
class OrderingSample:
    """One distinct ordering of a disordered structure.

    Attributes
    ----------
    seed
        ``ordering_seed`` that gives it.
    method
        ``"approximate"``, ``"exact"`` or None (the input was ordered).
    ewald_energy_ev
        Ewald energy of the ordered cell (eV; None for an ordered input).
    """

    seed: int
    method: str | None
    ewald_energy_ev: float | None

    def settings(self, base: OrderingSettings) -> OrderingSettings:
        """Return ``base`` with this sample's seed."""
        return dataclasses.replace(base, ordering_seed=self.seed)


def distinct_orderings(
    structure: Structure,
    settings: OrderingSettings,
    n_samples: int,
    min_length_angstrom: float = 10.0,
    mobile_element: str = "Li",
) -> tuple[list[OrderingSample], int]:
    """Return up to ``n_samples`` distinct orderings and the number of seeds tried.

    Seeds ``settings.ordering_seed``, +1, ... are tried (at most
    :data:`SEEDS_PER_SAMPLE` x ``n_samples``); the first sample is always the Maker's
    own seed, so ``n_samples = 1`` is the single ordering the NEB tiers use. An input
    that is ordered or ordered exactly gives one sample. The orderings are computed as
    the NEB preparation computes them (same supercell length), which repeats them
    exactly (seeded).
    """
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    samples: list[OrderingSample] = []
    tried = 0
    for seed in range(
        settings.ordering_seed, settings.ordering_seed + SEEDS_PER_SAMPLE * n_samples
    ):
        result = order_structure(
            structure,
            settings=dataclasses.replace(settings, ordering_seed=seed),
            min_length_angstrom=min_length_angstrom,
            mobile_element=mobile_element,
        )
        tried += 1
        sample = OrderingSample(seed, result.method, result.ewald_energy_ev)
        if result.method != "approximate":
            return [sample], tried
        if not any(_same(sample, taken) for taken in samples):
            samples.append(sample)
        if len(samples) == n_samples:
            break
    return samples, tried


def _same(a: OrderingSample, b: OrderingSample) -> bool:
    if a.ewald_energy_ev is None or b.ewald_energy_ev is None:
        return a.ewald_energy_ev is b.ewald_energy_ev
    return abs(a.ewald_energy_ev - b.ewald_energy_ev) < SAME_ORDERING_EV


def run_ordering_samples(
    run: Callable[[OrderingSettings, Path], dict[str, Any]],
    structure: Structure,
    settings: OrderingSettings,
    n_samples: int,
    work_dir: str | Path,
    expected_errors: tuple[type[Exception], ...] = (),
    min_length_angstrom: float = 10.0,
    mobile_element: str = "Li",
) -> dict[str, Any]:
    """Run ``run(settings, folder)`` on each distinct ordering; return the median run.

    Parameters
    ----------
    run
        One NEB of ``structure`` with the given ordering settings in the given folder,
        returning document fields with ``barrier_forward_ev`` (eV) and ``converged``.
    structure
        The (disordered) structure the NEB tier received.
    settings
        The Maker's ordering settings; the samples change only ``ordering_seed``.
    n_samples
        Distinct orderings wanted (1: the single run, in ``work_dir`` itself).
    work_dir
        Folder of the tier's run; sample ``k`` runs in ``ordering_seed_<seed>`` under it.
    expected_errors
        Errors that fail one sample (recorded with their reason) without stopping the
        others; when every sample fails, the first sample's error is raised.
    min_length_angstrom, mobile_element
        As for the NEB preparation (the orderings are those it computes).

    Returns
    -------
    dict
        The fields of the sample with the median forward barrier among those that ran
        and converged (all that ran when none converged; the lower one of the two
        middle values for an even count), plus
        ``ordering_samples`` (per sample: seed, ewald_energy_ev, status, barrier_forward_ev,
        converged, reason, representative) and ``barrier_spread_ev`` (max - min forward
        barrier over the same samples; None with fewer than two).
    """
    work_dir = Path(work_dir)
    if n_samples == 1:
        return run(settings, work_dir)
    samples, tried = distinct_orderings(
        structure, settings, n_samples, min_length_angstrom, mobile_element
    )
    if len(samples) == 1:
        values = run(settings, work_dir)
        values["ordering_samples"] = [_row(samples[0], values, None, True)]
        values["ordering_samples_note"] = _single_note(samples[0], tried, n_samples)
        values["barrier_spread_ev"] = None
        return values
    runs: list[tuple[OrderingSample, dict[str, Any] | None, Exception | None]] = []
    for sample in samples:
        try:
            values = run(sample.settings(settings), work_dir / f"ordering_seed_{sample.seed}")
            runs.append((sample, values, None))
        except expected_errors as exc:
            runs.append((sample, None, exc))
    ran = [(s, v) for s, v, _ in runs if v is not None and v.get("barrier_forward_ev") is not None]
    if not ran:
        first_error = next((e for _, _, e in runs if e is not None), None)
        if first_error is not None:
            raise first_error
        representative = runs[0][1] or {}
        chosen = runs[0][0]
        barriers: list[float] = []
    else:
        # a run that did not converge (walltime, step limit) counts only when none did
        pool = [(s, v) for s, v in ran if v.get("converged")] or ran
        ranked = sorted(pool, key=lambda sv: float(sv[1]["barrier_forward_ev"]))
        chosen, representative = ranked[(len(ranked) - 1) // 2]
        barriers = [float(v["barrier_forward_ev"]) for _, v in ranked]
    out = dict(representative)
    out["ordering_samples"] = [_row(s, v, e, s is chosen) for s, v, e in runs]
    out["barrier_spread_ev"] = max(barriers) - min(barriers) if len(barriers) > 1 else None
    if len(samples) < n_samples:
        out["ordering_samples_note"] = (
            f"{len(samples)} distinct orderings in {tried} seeds ({n_samples} asked for)"
        )
    return out


def representative_ordering(values: dict[str, Any], base: OrderingSettings) -> OrderingSettings:
    """Return the ordering settings of the run ``values`` came from (for cross-checks)."""
    for row in values.get("ordering_samples") or []:
        if row.get("representative"):
            return dataclasses.replace(base, ordering_seed=int(row["seed"]))
    return base


def _row(
    sample: OrderingSample,
    values: dict[str, Any] | None,
    error: Exception | None,
    representative: bool,
) -> dict[str, Any]:
    values = values or {}
    return {
        "seed": sample.seed,
        "ewald_energy_ev": sample.ewald_energy_ev,
        "status": "failed" if error is not None else "ran",
        "barrier_forward_ev": values.get("barrier_forward_ev"),
        "converged": values.get("converged"),
        "reason": str(error) if error is not None else None,
        "representative": representative,
    }


def _single_note(sample: OrderingSample, tried: int, n_samples: int) -> str:
    if sample.method is None:
        return "the input is ordered: one ordering"
    if sample.method == "exact":
        return "ordered exactly (deterministic ranking): one ordering"
    return f"1 distinct ordering in {tried} seeds ({n_samples} asked for)"
