"""Prepare and run the CI-NEB of a structure's percolation hops with any ASE calculator.

This is the calculator-independent core shared by the universal-potential and the
Quantum ESPRESSO tiers: both produce the same :class:`~sseflow.neb.schemas.NEBDocument`
fields from it.

A hop is one band from Li site to Li site, seeded along the BVSE path (through the
interstitial sites the path passes). When the band, after the NEB stage, holds an
image well below both ends (:func:`~sseflow.neb.runner.intermediate_minimum`: the path
runs through an interstitial that is a minimum, or a relaxation the ends did not find),
it is split there into two half-hops, each run to convergence with its own climbing
image, and joined: the hop's barriers are then the largest energy rise along the whole
path, forward and backward.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator
from monty.json import jsanitize
from pymatgen.core import Structure

from sseflow.bvse.landscape import BVSELandscape
from sseflow.neb.images import idpp_images, images_along_path
from sseflow.neb.ordering import OrderingSettings
from sseflow.neb.runner import INTERMEDIATE_MINIMUM, NEBRunResult, NEBRunSettings, run_neb
from sseflow.neb.schemas import NEBHopResult
from sseflow.neb.setup import PreparedHop, prepare_neb_hops

SEED_METHODS = ("bvse", "idpp", "linear")


def run_structure_neb(
    structure: Structure,
    calculator_factory: Callable[[Path], Callable[[str], Calculator]],
    work_dir: str | Path,
    landscape: BVSELandscape | None = None,
    min_length_angstrom: float = 10.0,
    n_hops: int = 1,
    max_hop_angstrom: float | None = None,
    bvse_resolution_angstrom: float = 0.2,
    seed_method: str = "bvse",
    run_settings: NEBRunSettings | None = None,
    calculator_identity: Any = None,
    ordering: OrderingSettings | None = None,
    hop_order: str = "bottleneck",
) -> dict[str, Any]:
    """Run CI-NEB for the ``n_hops`` lowest-BVSE-barrier percolation hops.

    Parameters
    ----------
    structure
        Oxidation-state decorated candidate structure (ordered here if needed).
    calculator_factory
        ``calculator_factory(hop_dir)`` returns ``factory(label)`` building a fresh
        calculator for one image/endpoint (file codes write to ``hop_dir / label``).
    work_dir
        Root directory; each hop runs in ``work_dir / hop_<label>`` and resumes there.
    landscape
        BVSE landscape; computed with bvlain when None.
    min_length_angstrom, n_hops, max_hop_angstrom, bvse_resolution_angstrom
        Preparation settings (see :func:`~sseflow.neb.setup.prepare_neb_hops`).
    seed_method
        ``bvse`` (Li along the BVSE path), ``idpp`` or ``linear``.
    run_settings
        NEB numerical settings.
    calculator_identity
        What identifies the calculators (JSON-serialisable; see
        :func:`~sseflow.neb.runner.run_identity`): a hop folder holding a run of another
        calculator or other settings is never resumed.
    ordering
        How a disordered structure is ordered (:mod:`sseflow.neb.ordering`).

    Returns
    -------
    dict
        Fields of :class:`~sseflow.neb.schemas.NEBDocument` (without provenance).
    """
    if seed_method not in SEED_METHODS:
        raise ValueError(f"seed_method must be one of {SEED_METHODS}, got {seed_method!r}")
    run_settings = run_settings or NEBRunSettings()
    prep = prepare_neb_hops(
        structure,
        landscape=landscape,
        min_length_angstrom=min_length_angstrom,
        n_hops=n_hops,
        max_hop_angstrom=max_hop_angstrom,
        bvse_resolution_angstrom=bvse_resolution_angstrom,
        ordering=ordering,
        hop_order=hop_order,
    )
    results: list[NEBHopResult] = []
    for prepared in prep.hops:
        hop_dir = Path(work_dir) / f"hop_{prepared.hop.label}"
        results.append(
            run_hop_neb(
                prepared,
                calculator_factory,
                hop_dir,
                seed_method,
                run_settings,
                calculator_identity=calculator_identity,
            )
        )
        if not results[-1].converged:
            break  # do not spend more compute on this candidate; the record says why
    limiting = max(results, key=lambda r: r.barrier_forward_ev)
    return {
        "barrier_forward_ev": limiting.barrier_forward_ev,
        "barrier_reverse_ev": limiting.barrier_reverse_ev,
        "bvse_hop_barrier_ev": limiting.hop.get("bvse_barrier_ev"),
        "converged": all(r.converged for r in results),
        "n_steps": sum(r.n_steps_neb + r.n_steps_ci for r in results),
        "hops": results,
        "n_hops_distinct": len(prep.all_hops),
        "percolating_hop_labels": prep.percolating_labels,
        "was_ordered": prep.was_ordered,
        "ordering_ewald_energy_ev": prep.ordering_ewald_energy_ev,
        "ordering": prep.ordering.summary() if prep.ordering else None,
        "unit_cell": prep.unit_cell,
        "supercell": prep.supercell_summary(),
        "hop_search": prep.hop_search_summary(),
    }


def run_hop_neb(
    prepared: PreparedHop,
    calculator_factory: Callable[[Path], Callable[[str], Calculator]],
    hop_dir: str | Path,
    seed_method: str = "bvse",
    run_settings: NEBRunSettings | None = None,
    seed_images: list[Structure] | None = None,
    calculator_identity: Any = None,
) -> NEBHopResult:
    """Run the CI-NEB of one prepared hop (split into half-hops at an intermediate minimum).

    Parameters
    ----------
    prepared
        The hop, its endpoints and BVSE seed path (:func:`~sseflow.neb.setup.prepare_neb_hops`).
    calculator_factory
        ``calculator_factory(band_dir)`` returns ``factory(label)`` (see
        :func:`run_structure_neb`).
    hop_dir
        Directory of the hop's band (resumable); half-hops run in ``half_0``/``half_1``.
    seed_method
        ``bvse``, ``idpp`` or ``linear``.
    run_settings
        NEB numerical settings.
    seed_images
        Start the band from these ``n_images + 2`` images instead (e.g. a band converged
        with a cheaper calculator on the same endpoints); the ends are relaxed from the
        first and last of them.
    calculator_identity
        What identifies the calculators (see :func:`run_structure_neb`).
    """
    run_settings = run_settings or NEBRunSettings()
    hop_dir = Path(hop_dir)
    endpoints = prepared.endpoints
    if seed_images is not None:
        initial, final = seed_images[0], seed_images[-1]
        seed: Any = seed_images
    else:
        initial, final = endpoints.initial, endpoints.final
        seed = _seeder(seed_method, endpoints.moving_index, prepared.seed_path_cart, run_settings)
    identity = {
        "calculator": calculator_identity,
        "seed": "given images" if seed_images is not None else seed_method,
    }
    factory = calculator_factory(hop_dir)
    band = run_neb(initial, final, seed, factory, hop_dir, run_settings, identity)
    halves: list[NEBRunResult] = []
    if band.termination.startswith(INTERMEDIATE_MINIMUM):
        moving = endpoints.moving_index
        halves = _half_hops(band, moving, calculator_factory, hop_dir, run_settings, identity)
    return _hop_result(prepared, band, halves, seed_method, hop_dir)


def _seeder(
    seed_method: str,
    moving_index: int,
    path_cart: np.ndarray | None,
    settings: NEBRunSettings,
) -> Callable[[Structure, Structure], list[Structure]]:
    """Return the function building a band's starting images from its relaxed ends."""

    def seed(initial: Structure, final: Structure) -> list[Structure]:
        if seed_method == "idpp":
            return idpp_images(initial, final, settings.n_images)
        along = path_cart if seed_method == "bvse" else None
        return images_along_path(initial, final, moving_index, along, settings.n_images)

    return seed


def _half_hops(
    band: NEBRunResult,
    moving_index: int,
    calculator_factory: Callable[[Path], Callable[[str], Calculator]],
    hop_dir: Path,
    settings: NEBRunSettings,
    identity: Any = None,
) -> list[NEBRunResult]:
    """Split a band at its lowest interior image and run both halves (in ``half_0/1``).

    The lowest image is relaxed as the end of the first half and the start of the
    second; each half is seeded along the moving ion's positions in the band.
    """
    interior = band.energies_ev[1:-1]
    m = int(np.argmin(interior)) + 1
    moving = np.array([image[moving_index].coords for image in band.images])
    pieces = [(band.images[0], band.images[m], moving[: m + 1])]
    pieces.append((band.images[m], band.images[-1], moving[m:]))
    halves: list[NEBRunResult] = []
    for k, (initial, final, path) in enumerate(pieces):
        half_dir = hop_dir / f"half_{k}"
        if halves:
            initial = halves[-1].images[-1]  # the relaxed minimum
        seed = _seeder("bvse", moving_index, path, settings)
        halves.append(
            run_neb(
                initial, final, seed, calculator_factory(half_dir), half_dir, settings, identity
            )
        )
        if not halves[-1].converged:
            break
    return halves


def _largest_rise(energies: list[float]) -> float:
    """Return ``max_j (E_j - min_{i<=j} E_i)`` (eV)."""
    e = np.asarray(energies, dtype=float)
    return float(np.max(e - np.minimum.accumulate(e)))


def _hop_result(
    prepared: PreparedHop,
    band: NEBRunResult,
    halves: list[NEBRunResult],
    seed_method: str,
    hop_dir: Path,
) -> NEBHopResult:
    """Return the record of one hop: its band, or the two half-hops joined."""
    endpoints = prepared.endpoints
    runs = [band, *halves]
    climbing: int | None  # the band's index may be None; the joined halves' never is
    if halves:
        energies = [e for k, h in enumerate(halves) for e in h.energies_ev[(k > 0) :]]
        images = [im for k, h in enumerate(halves) for im in h.images[(k > 0) :]]
        converged = len(halves) == 2 and all(h.converged for h in halves)
        failed = next((h for h in halves if not h.converged), None)
        if converged:
            termination = "converged"
        else:
            # _half_hops stops at the first unconverged half, so an unconverged pair has one
            assert failed is not None
            termination = f"half-hop: {failed.termination}"
        forward, reverse = _largest_rise(energies), _largest_rise(energies[::-1])
        climbing = int(np.argmax(energies[1:-1])) + 1
        analysis: dict[str, Any] = {}
        max_force = max(h.max_force_ev_per_angstrom for h in halves)
        segments = [
            {
                "barrier_forward_ev": h.barrier_forward_ev,
                "barrier_reverse_ev": h.barrier_reverse_ev,
                "converged": h.converged,
                "termination": h.termination,
                "n_images": len(h.energies_ev),
                "work_dir": str(hop_dir / f"half_{k}"),
            }
            for k, h in enumerate(halves)
        ]
    else:
        energies, images = band.energies_ev, band.images
        converged, termination = band.converged, band.termination
        forward, reverse = band.barrier_forward_ev, band.barrier_reverse_ev
        climbing, analysis = band.climbing_image_index, band.barrier_analysis
        max_force = band.max_force_ev_per_angstrom
        segments = []
    timings: dict[str, float] = {}
    for run in runs:
        for key, value in run.timings_s.items():
            timings[key] = round(timings.get(key, 0.0) + value, 3)
    e0 = energies[0]
    return NEBHopResult(
        hop=prepared.hop.summary(),
        supercell_site_indices=[endpoints.start_site_index, endpoints.end_site_index],
        moving_index=endpoints.moving_index,
        seed_method=seed_method,
        barrier_forward_ev=forward,
        barrier_reverse_ev=reverse,
        energies_ev=energies,
        relative_energies_ev=[e - e0 for e in energies],
        images=[_plain_structure(image) for image in images],
        climbing_image_index=climbing,
        max_force_ev_per_angstrom=max_force,
        converged=converged,
        termination=termination,
        n_steps_neb=sum(r.n_steps_neb for r in runs),
        n_steps_ci=sum(r.n_steps_ci for r in runs),
        endpoint_relax_steps=[n for r in runs for n in r.endpoint_relax_steps],
        endpoints_converged=all(r.endpoints_converged for r in runs),
        resumed=any(r.resumed for r in runs),
        barrier_analysis=analysis,
        work_dir=str(hop_dir),
        timings_s=timings,
        split_reason=band.termination if halves else None,
        segments=segments,
    )


def _plain_structure(structure: Structure) -> Structure:
    """Return a copy whose properties hold plain Python numbers (JSON-safe)."""
    return Structure.from_dict(jsanitize(structure.as_dict()))
