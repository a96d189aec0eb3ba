"""Benchmark: cost and effect of the endpoint force threshold (0.01 vs 3e-4 eV/A).

Builds the initial vacancy endpoint of the lowest-BVSE percolation hop (as the NEB
tiers do), relaxes it at fixed cell to 0.01 eV/A, then on to 3e-4 eV/A (the thesis
value), and reports steps, wall times, the energy change and how far atoms moved.

Usage::

    PYTHONPATH=src python benchmarks/neb_endpoint_fmax.py --calculator chgnet \
        --structure Li3N --min-length 10 --max-hop 3.0
    PYTHONPATH=src python benchmarks/neb_endpoint_fmax.py --calculator qe \
        --structure Li2S --min-length 8 --conv-thr 1e-8

Results are appended as JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ase.geometry import find_mic
from pymatgen.io.ase import AseAtomsAdaptor

from neb import PSEUDO_DIR, structures  # benchmarks/neb.py
from sseflow.neb.runner import relax_fixed_cell
from sseflow.neb.setup import prepare_neb_hops
from sseflow.qe.calculator import QESettings, make_espresso


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calculator", choices=["chgnet", "qe"], default="chgnet")
    parser.add_argument("--structure", default="Li2S", choices=list(structures()))
    parser.add_argument("--min-length", type=float, default=10.0)
    parser.add_argument("--max-hop", type=float, default=3.0)
    parser.add_argument("--conv-thr", type=float, default=1e-8, help="pw.x conv_thr (Ry)")
    parser.add_argument("--ecutwfc", type=float, default=25.0)
    parser.add_argument("--work-dir", default="/tmp/sseflow-neb-endpoint")
    parser.add_argument("--out", default="/tmp/sseflow-neb-endpoint/results.jsonl")
    args = parser.parse_args()
    work = Path(args.work_dir) / f"{args.structure}-{args.calculator}-{args.min_length}"
    work.mkdir(parents=True, exist_ok=True)

    prep = prepare_neb_hops(
        structures()[args.structure],
        min_length_angstrom=args.min_length,
        max_hop_angstrom=args.max_hop,
    )
    atoms = AseAtomsAdaptor.get_atoms(prep.hops[0].endpoints.initial)
    if args.calculator == "chgnet":
        import torch
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator

        torch.set_num_threads(1)
        model = CHGNet.load(verbose=False)

        def factory(label: str):
            return CHGNetCalculator(model=model, use_device="cpu")
    else:
        qe = QESettings(
            pseudo_dir=str(PSEUDO_DIR), ecutwfc_ry=args.ecutwfc, conv_thr_ry=args.conv_thr
        )
        elements = sorted(set(atoms.get_chemical_symbols()))

        def factory(label: str):
            return make_espresso(elements, qe, work / label, tot_charge=-1.0)

    row: dict = {
        "structure": args.structure,
        "calculator": args.calculator,
        "n_atoms": len(atoms),
        "min_image_distance_angstrom": prep.supercell_summary()["min_image_distance_angstrom"],
        "conv_thr_ry": args.conv_thr if args.calculator == "qe" else None,
    }
    t0 = time.perf_counter()
    loose, ok_loose, n_loose = relax_fixed_cell(atoms, factory("loose"), 0.01, 1000)
    row |= {"steps_0.01": n_loose, "converged_0.01": ok_loose}
    row["wall_0.01_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    tight, ok_tight, n_tight = relax_fixed_cell(loose, factory("tight"), 3e-4, 1000)
    row |= {"further_steps_3e-4": n_tight, "converged_3e-4": ok_tight}
    row["wall_further_s"] = round(time.perf_counter() - t0, 1)
    row["max_force_final_ev_per_angstrom"] = float(np.linalg.norm(tight.get_forces(), axis=1).max())
    energy_change = tight.get_potential_energy() - loose.get_potential_energy()
    row["energy_change_mev"] = round(1000 * float(energy_change), 3)
    _, moved = find_mic(tight.get_positions() - loose.get_positions(), loose.cell, pbc=True)
    row["max_displacement_angstrom"] = round(float(moved.max()), 3)
    row["n_atoms_moved_over_0.1_angstrom"] = int((moved > 0.1).sum())
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
