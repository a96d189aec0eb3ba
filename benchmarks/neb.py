"""Benchmark: CHGNet and Quantum ESPRESSO CI-NEB barriers and wall times.

Clean antifluorite Li2S (a = 5.71 A) and Li2O (a = 4.61 A) and Li3N (P6/mmm,
a = 3.648 A, c = 3.875 A), built from literature lattice constants. For each structure
and tier the lowest-BVSE-barrier percolation hop is computed with the tier Makers
through jobflow, exactly as the funnel runs them.

Usage::

    PYTHONPATH=src python benchmarks/neb.py --tiers mlip --min-length 10
    PYTHONPATH=src python benchmarks/neb.py --tiers mlip dft --min-length 5.5 \
        --structures Li2S --ecutwfc 25
    PYTHONPATH=src python benchmarks/neb.py --tiers mlip --structures Li3N --max-hop 3.0

Results are appended as JSON lines to ``--out`` and printed as a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from jobflow import run_locally
from pymatgen.core import Lattice, Structure

from sseflow.common.candidate import Candidate, SourceInfo
from sseflow.neb.jobs import CHGNetNEBMaker
from sseflow.qe.calculator import QESettings
from sseflow.qe.jobs import QENEBMaker

PSEUDO_DIR = Path(__file__).parents[1] / "tests" / "data" / "pseudo"


def structures() -> dict[str, Structure]:
    anti = [[0, 0, 0], [0.25, 0.25, 0.25]]
    return {
        "Li2S": Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.71), ["S2-", "Li+"], anti),
        "Li2O": Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.61), ["O2-", "Li+"], anti),
        "Li3N": Structure.from_spacegroup(
            "P6/mmm",
            Lattice.hexagonal(3.648, 3.875),
            ["N3-", "Li+", "Li+"],
            [[0, 0, 0], [1 / 3, 2 / 3, 0], [0, 0, 0.5]],
        ),
    }


def candidate(name: str, structure: Structure) -> Candidate:
    ox = {"Li": 1.0, "S": -2.0, "O": -2.0, "N": -3.0}
    return Candidate(
        candidate_id=f"bench-{name}",
        formula=name,
        structure=structure,
        oxidation_states={el.symbol: ox[el.symbol] for el in structure.composition},
        source=SourceInfo(path="<benchmark>", format="structure"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tiers", nargs="+", default=["mlip"], choices=["mlip", "dft"])
    parser.add_argument("--structures", nargs="+", default=["Li2S", "Li2O", "Li3N"])
    parser.add_argument("--min-length", type=float, default=10.0)
    parser.add_argument("--n-images", type=int, default=5)
    parser.add_argument(
        "--max-hop", type=float, default=4.0, help="longest Li-Li hop considered (A)"
    )
    parser.add_argument("--ecutwfc", type=float, default=25.0)
    parser.add_argument("--mpi", default=None, help="e.g. 'mpirun --allow-run-as-root -np 2'")
    parser.add_argument("--work-dir", default="/tmp/sseflow-neb-bench")
    parser.add_argument("--out", default="/tmp/sseflow-neb-bench/results.jsonl")
    args = parser.parse_args()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    rows = []
    for name in args.structures:
        cand = candidate(name, structures()[name])
        for tier in args.tiers:
            common = {
                "min_length_angstrom": args.min_length,
                "n_images": args.n_images,
                "max_hop_angstrom": args.max_hop,
                "work_dir": f"{args.work_dir}/{tier}-{args.min_length}",
            }
            if tier == "mlip":
                maker = CHGNetNEBMaker(**common)
            else:
                maker = QENEBMaker(
                    endpoint_fmax_ev_per_angstrom=0.05,
                    qe=QESettings(
                        pseudo_dir=str(PSEUDO_DIR), ecutwfc_ry=args.ecutwfc, mpi_command=args.mpi
                    ),
                    **common,
                )
            job = maker.make(cand)
            t0 = time.perf_counter()
            doc = run_locally(job, ensure_success=True, log=False)[job.uuid][1].output
            wall = time.perf_counter() - t0
            hop = doc.hops[0] if doc.hops else None
            row = {
                "structure": name,
                "tier": doc.tier,
                "status": str(doc.status),
                "reason": doc.reason,
                "barrier_forward_ev": doc.barrier_forward_ev,
                "bvse_hop_barrier_ev": doc.bvse_hop_barrier_ev,
                "hop_length_angstrom": hop.hop["length_angstrom"] if hop else None,
                "hop_start_end_cart": [hop.hop["start_cart"], hop.hop["end_cart"]] if hop else None,
                "percolating_hop_labels": doc.percolating_hop_labels,
                "n_sites_with_vacancy": doc.supercell.get("n_sites_perfect", 1) - 1,
                "min_image_distance_angstrom": doc.supercell.get("min_image_distance_angstrom"),
                "n_steps": doc.n_steps,
                "endpoint_relax_steps": hop.endpoint_relax_steps if hop else None,
                "timings_s": hop.timings_s if hop else None,
                "bvse_landscape_source": doc.bvse_landscape_source,
                "converged": doc.converged,
                "wall_time_s": round(wall, 1),
                "settings": {
                    "min_length_angstrom": args.min_length,
                    "n_images": args.n_images,
                    "max_hop_angstrom": args.max_hop,
                    "ecutwfc_ry": args.ecutwfc if tier == "dft" else None,
                    "kpoints": "Gamma" if tier == "dft" else None,
                    "mpi": args.mpi,
                },
            }
            rows.append(row)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)

    print("\n| structure | tier | atoms | Ea (eV) | BVSE hop (eV) | steps | wall (s) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ea = "failed" if r["barrier_forward_ev"] is None else f"{r['barrier_forward_ev']:.3f}"
        bvse = r["bvse_hop_barrier_ev"]
        print(
            f"| {r['structure']} | {r['tier']} | {r['n_sites_with_vacancy']} | {ea} | "
            f"{bvse if bvse is None else round(bvse, 3)} | {r['n_steps']} | {r['wall_time_s']} |"
        )


if __name__ == "__main__":
    main()
