"""Benchmark: ordering the OBELiX candidates that reached the MLIP CI-NEB stage.

Before approximate ordering, 9 of the 10 candidates of the OBELiX funnel benchmark
(``benchmarks/results/funnel_obelix.json``, ``mlip_runs``) failed at the NEB tier with
"occupancies of ... need a supercell larger than 4x to be ordered". This script orders
each of them as the NEB tier does (the funnel's ingest adds the oxidation states:
``Candidate.from_structure``) with the default :class:`~sseflow.neb.ordering.OrderingSettings`
and a 10 A NEB supercell, and reports per structure: method, atoms of the ordered cell,
composition deviation, arrangements tried, ordering wall time and the spread of the Ewald
energies of the arrangements. Side by side on the same structures and seeds it also
orders with random arrangements only (no swap minimisation), the choice the swaps were
measured against, and, with ``--prepare``, times the NEB preparation (BVSE landscape of
the input cell at 0.2 A, hop search in the ordered cell, supercell, endpoints) up to the
point where the calculator would start. The MLIP NEB itself is not run for all of them
(hours per structure on the 2 shared cores here); ``--neb ID ...`` runs the default
funnel's MLIP CI-NEB Maker (as ``benchmarks/funnel.py`` does, with ``--neb-walltime``)
on the given ones and adds the results under ``mlip_neb``; ``--ordering-seed N`` runs
it on another ordering (another seed of the approximate ordering) and ``--hops SEED ...``
records which hop each seed's NEB computes (``ordering_hops``; no NEB).

Usage::

    PYTHONPATH=src python benchmarks/neb_ordering.py [--prepare]
    PYTHONPATH=src:benchmarks python benchmarks/neb_ordering.py --neb fkj --neb-walltime 1800
    PYTHONPATH=src:benchmarks python benchmarks/neb_ordering.py --neb fkj --ordering-seed 1
    PYTHONPATH=src:benchmarks python benchmarks/neb_ordering.py --neb fkj --hops 0 1 2 3 4

Results: ``benchmarks/results/neb_ordering.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

from pymatgen.core import Structure

from sseflow.neb.ordering import (
    OrderingSettings,
    approximate_ordering,
    min_interatomic_distance,
    order_structure,
)
from sseflow.neb.supercell import StructurePreparationError, shortest_vector_length

ROOT = Path(__file__).resolve().parents[1]
FUNNEL = ROOT / "benchmarks" / "results" / "funnel_obelix.json"
OUT = ROOT / "benchmarks" / "results" / "neb_ordering.json"


def candidates() -> dict[str, Structure]:
    """The structures of ``mlip_runs``, oxidation states added as the funnel's ingest does."""
    from sseflow.common.candidate import Candidate
    from sseflow.ml.labels import load_obelix_labels

    ids = set(json.loads(FUNNEL.read_text())["mlip_runs"])
    table = load_obelix_labels().with_structures()
    return {
        label_id: Candidate.from_structure(structure).structure
        for label_id, structure in zip(table.ids, table.structures, strict=True)
        if label_id in ids
    }


def order_one(structure: Structure, settings: OrderingSettings) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        result = order_structure(structure, settings=settings, min_length_angstrom=10.0)
    except StructurePreparationError as exc:
        return {"status": "refused", "reason": str(exc), "wall_time_s": _since(t0)}
    wall = _since(t0)
    summary = result.summary() or {}
    ordered = result.structure
    return {
        "status": "ordered",
        "method": result.method,
        "supercell_multiple": result.supercell_multiple,
        "n_atoms": len(ordered),
        "min_image_distance_angstrom": round(shortest_vector_length(ordered.lattice.matrix), 3),
        "max_composition_deviation": summary.get("max_composition_deviation"),
        "max_deviation_species": summary.get("max_deviation_species"),
        "reported_composition": summary.get("reported_composition"),
        "rounded_composition": summary.get("rounded_composition"),
        "mobile_count_change_for_neutrality": summary.get("mobile_count_change_for_neutrality"),
        "n_arrangements": result.n_orderings_considered,
        "wall_time_s": wall,
        "ewald_energy_ev": result.ewald_energy_ev,
        "ewald_energy_spread_ev": summary.get("ewald_energy_spread_ev"),
        "ewald_energies_ev": result.ewald_energies_ev,
        "n_close_pairs": result.n_close_pairs,
        "min_interatomic_distance_angstrom": round(min_interatomic_distance(ordered), 3),
        "_structure": ordered,
    }


def random_only(structure: Structure, settings: OrderingSettings) -> dict[str, Any]:
    """The same arrangements (same seed) without the swap minimisation."""
    t0 = time.perf_counter()
    result = approximate_ordering(structure, settings, 10.0, swaps=False)
    energies = result.ewald_energies_ev
    return {
        "wall_time_s": _since(t0),
        "best_ewald_energy_ev": min(energies),
        "ewald_energy_spread_ev": round(max(energies) - min(energies), 6),
        "chosen_ewald_energy_ev": result.ewald_energy_ev,
        "n_close_pairs": result.n_close_pairs,
        "min_interatomic_distance_angstrom": round(min_interatomic_distance(result.structure), 3),
    }


def prepare(structure: Structure, ordered: Structure) -> dict[str, Any]:
    """Time the NEB preparation from the input cell's BVSE landscape (as in the funnel).

    The landscape is the BVSE tier's grid of the disordered input cell (its default
    settings, 0.2 A), the one the NEB tier reads from the store inside the funnel.
    """
    from sseflow.bvse.engine import bvse_barriers
    from sseflow.bvse.framework import prepare_bvse_framework
    from sseflow.bvse.landscape import BVSELandscape
    from sseflow.bvse.settings import BVSESettings
    from sseflow.neb.setup import prepare_neb_hops

    t0 = time.perf_counter()
    settings = BVSESettings()
    result = bvse_barriers(prepare_bvse_framework(structure, settings.occupancy_mode), settings)
    landscape = BVSELandscape.from_bvlain_grid(result.lattice_matrix, result.energies_ev)
    t_landscape = _since(t0)
    t0 = time.perf_counter()
    try:
        prep = prepare_neb_hops(ordered, landscape=landscape, min_length_angstrom=10.0)
    except Exception as exc:
        return {"landscape_s": t_landscape, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "landscape_s": t_landscape,
        "preparation_s": _since(t0),
        "n_hops_distinct": len(prep.all_hops),
        "supercell_atoms": len(prep.supercell),
        "hop_length_angstrom": round(prep.hops[0].hop.length_angstrom, 3),
        "hop_bvse_barrier_ev": prep.hops[0].hop.bvse_barrier_ev,
    }


def markdown_table(rows: dict[str, Any]) -> str:
    """The table of ``docs/neb.md``."""
    lines = []
    for label_id, r in rows.items():
        cells = [label_id, r["formula"]]
        if r.get("status") != "ordered":
            cells += [r.get("status", "")] + [""] * 8
        else:
            prep = r.get("neb_preparation", {})
            cells += [
                str(r["method"]),
                f"{r['supercell_multiple']}x",
                str(r["n_atoms"]),
                f"{100 * r['max_composition_deviation']:.2f} % ({r['max_deviation_species']})",
                str(r["n_arrangements"]),
                f"{r['wall_time_s']:.2f}",
                f"{r['ewald_energy_spread_ev']:.1f}",
                str(r["n_close_pairs"]),
                f"{r['min_interatomic_distance_angstrom']:.2f}",
            ]
            if prep:
                cells.append(f"{prep.get('preparation_s', 'failed')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def run_neb(ids: list[str], walltime_s: float, ordering_seed: int | None = None) -> None:
    """Run the default MLIP CI-NEB on ``ids``; results go under ``mlip_neb`` in OUT.

    ``ordering_seed`` (default: the Maker's, 0) draws another ordered approximant of a
    disordered structure; its row is keyed ``"<id> (<hop order>, seed <n>)"``.
    """
    import funnel  # benchmarks/funnel.py: the same run as the funnel benchmark's MLIP stage
    from sseflow.ml.labels import load_obelix_labels

    table = load_obelix_labels()
    structures = dict(zip(table.ids, table.structures, strict=True))  # as read from the CIF
    from sseflow.funnel.defaults import mlip_maker

    hop_order = mlip_maker().hop_order
    for label_id in ids:
        row = {
            **funnel.run_mlip(label_id, structures[label_id], walltime_s, ordering_seed),
            "hop_order": hop_order,
        }
        key = f"{label_id} ({hop_order})"
        if ordering_seed is not None:
            row["ordering_seed"] = ordering_seed
            key = f"{label_id} ({hop_order}, seed {ordering_seed})"
        print(row, flush=True)
        # another process may have written its own rows meanwhile: read again, then add
        stored = json.loads(OUT.read_text()) if OUT.is_file() else {}
        stored.setdefault("mlip_neb", {})[key] = row
        OUT.write_text(json.dumps(stored, indent=1, default=str) + "\n")


def ordering_hops(label_id: str, seeds: list[int]) -> None:
    """Record the hop each ordering seed's NEB computes (under ``ordering_hops`` in OUT).

    The preparation the MLIP tier ran in ``run_neb`` (no stored grid: bvlain's landscape
    of the ordered cell at 0.2 A, 10 A cell, the default hop order): per seed the Ewald
    energy of the ordering, the bottleneck hop's family label, length and BVSE barrier,
    the number of families on the percolation path and of interstitials on the hop.
    """
    from sseflow.neb.setup import prepare_neb_hops

    structure = candidates()[label_id]
    rows = {}
    for seed in seeds:
        t0 = time.perf_counter()
        prep = prepare_neb_hops(
            structure, ordering=OrderingSettings(ordering_seed=seed), min_length_angstrom=10.0
        )
        hop = prep.hops[0].hop
        rows[str(seed)] = {
            "ordering_ewald_energy_ev": prep.ordering_ewald_energy_ev,
            "hop_label": hop.label,
            "hop_length_angstrom": round(hop.length_angstrom, 3),
            "hop_bvse_barrier_ev": round(float(hop.bvse_barrier_ev or 0.0), 4),
            "n_percolating_families": len(prep.percolating_labels),
            "n_interstitials": len(hop.interstitial_indices),
            "preparation_s": _since(t0),
        }
        print(seed, rows[str(seed)], flush=True)
    stored = json.loads(OUT.read_text()) if OUT.is_file() else {}
    stored.setdefault("ordering_hops", {})[label_id] = rows
    OUT.write_text(json.dumps(stored, indent=1, default=str) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prepare", action="store_true", help="also time the NEB set-up")
    parser.add_argument("--neb", nargs="+", metavar="ID", help="run the MLIP CI-NEB on these")
    parser.add_argument("--neb-walltime", type=float, default=1800.0, help="s per CI-NEB")
    parser.add_argument(
        "--ordering-seed", type=int, help="ordering seed of the CI-NEB runs (default: the Maker's)"
    )
    parser.add_argument(
        "--hops", nargs="+", type=int, metavar="SEED", help="record each seed's NEB hop (--neb ID)"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.hops is not None:
        for label_id in args.neb or []:
            ordering_hops(label_id, args.hops)
        return
    if args.neb:
        run_neb(args.neb, args.neb_walltime, args.ordering_seed)
        return
    settings = OrderingSettings()
    rows: dict[str, Any] = {}
    for label_id, structure in sorted(candidates().items()):
        row: dict[str, Any] = {"formula": structure.composition.formula.replace(" ", "")}
        if structure.is_ordered:
            row["status"] = "already ordered"
            rows[label_id] = row
            continue
        row.update(order_one(structure, settings))
        ordered = row.pop("_structure", None)
        if row.get("method") == "approximate":
            row["random_only"] = random_only(structure, settings)
        if args.prepare and ordered is not None:
            row["neb_preparation"] = prepare(structure, ordered)
        print(label_id, {k: v for k, v in row.items() if k != "ewald_energies_ev"}, flush=True)
        rows[label_id] = row
    OUT.write_text(
        json.dumps(
            {
                "settings": vars(settings),
                "min_length_angstrom": 10.0,
                "load_average": round(os.getloadavg()[0], 2),
                "note": "ordering only; the MLIP NEB was not run on these (hours each here)",
                "structures": rows,
            },
            indent=1,
        )
        + "\n"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
