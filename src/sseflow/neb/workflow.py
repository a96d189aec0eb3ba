"""Prepare and run the CI-NEB of a structure's percolation hops with any ASE calculator.

This is the calculator-independent core shared by the universal-potential and the
Quantum ESPRESSO tiers: both produce the same :class:`~sseflow.neb.schemas.NEBDocument`
fields from it.
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
from sseflow.neb.runner import NEBRunSettings, run_neb
from sseflow.neb.schemas import NEBHopResult
from sseflow.neb.setup import prepare_neb_hops

SEED_METHODS = ("bvse", "idpp", "linear")


def run_structure_neb(
    structure: Structure,
    calculator_factory: Callable[[Path], Callable[[str], Calculator]],
    work_dir: str | Path,
    landscape: BVSELandscape | None = None,
    min_length_angstrom: float = 10.0,
    n_hops: int = 1,
    max_hop_angstrom: float = 4.0,
    bvse_resolution_angstrom: float = 0.3,
    seed_method: str = "bvse",
    run_settings: NEBRunSettings | None = None,
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
    )
    n_images = run_settings.n_images
    results: list[NEBHopResult] = []
    for prepared in prep.hops:
        endpoints = prepared.endpoints
        hop_dir = Path(work_dir) / f"hop_{prepared.hop.label}"

        def seed(
            initial: Structure,
            final: Structure,
            _moving: int = endpoints.moving_index,
            _path: np.ndarray = prepared.seed_path_cart,
        ) -> list[Structure]:
            if seed_method == "idpp":
                return idpp_images(initial, final, n_images)
            return images_along_path(
                initial, final, _moving, _path if seed_method == "bvse" else None, n_images
            )

        outcome = run_neb(
            endpoints.initial,
            endpoints.final,
            seed,
            calculator_factory(hop_dir),
            hop_dir,
            run_settings,
        )
        e0 = outcome.energies_ev[0]
        results.append(
            NEBHopResult(
                hop=prepared.hop.summary(),
                supercell_site_indices=[endpoints.start_site_index, endpoints.end_site_index],
                moving_index=endpoints.moving_index,
                seed_method=seed_method,
                barrier_forward_ev=outcome.barrier_forward_ev,
                barrier_reverse_ev=outcome.barrier_reverse_ev,
                energies_ev=outcome.energies_ev,
                relative_energies_ev=[e - e0 for e in outcome.energies_ev],
                images=[_plain_structure(image) for image in outcome.images],
                climbing_image_index=outcome.climbing_image_index,
                max_force_ev_per_angstrom=outcome.max_force_ev_per_angstrom,
                converged=outcome.converged,
                termination=outcome.termination,
                n_steps_neb=outcome.n_steps_neb,
                n_steps_ci=outcome.n_steps_ci,
                endpoint_relax_steps=outcome.endpoint_relax_steps,
                endpoints_converged=outcome.endpoints_converged,
                resumed=outcome.resumed,
                barrier_analysis=outcome.barrier_analysis,
                work_dir=str(hop_dir),
                timings_s=outcome.timings_s,
            )
        )
        if not outcome.converged:
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
        "unit_cell": prep.unit_cell,
        "supercell": prep.supercell_summary(),
    }


def _plain_structure(structure: Structure) -> Structure:
    """Return a copy whose properties hold plain Python numbers (JSON-safe)."""
    return Structure.from_dict(jsanitize(structure.as_dict()))
