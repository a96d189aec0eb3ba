"""Fit the shipped MLIP barrier calibration on the MLIP-vs-QE benchmark and check it.

Reads ``benchmarks/results/neb_mlip_dft.jsonl`` (written by ``benchmarks/neb_mlip_dft.py``),
pairs each potential's converged barrier with the converged QE barrier of the same
structure and hop, and for every potential:

- fits ``E_qe = slope * E_mlip + intercept`` (:func:`sseflow.neb.calibration.fit_calibration`),
  the form (none, a constant shift, a constant scale, a free line) chosen by
  leave-one-out MAE;
- checks the whole procedure leave-one-out, nested (each structure predicted by the
  form chosen and fitted on the others): MAE, largest error, Spearman rank correlation
  with QE, beside the raw barriers and every form's own leave-one-out MAE;
- writes the calibrations to ``src/sseflow/neb/data/mlip_dft_calibration.json`` (what
  ``MLIPNEBMaker(calibration="shipped")`` applies) and the check to
  ``benchmarks/results/neb_calibration.json``.

The thesis Table 2.2 compounds are never in this data (``benchmarks/neb_table22.py``
reports them separately).

Usage::

    PYTHONPATH=src python benchmarks/neb_calibration.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from neb_mlip_dft import latest, load_rows  # benchmarks/ is on sys.path when run
from sseflow.neb.calibration import (
    MIN_PAIRS,
    SHIPPED_CALIBRATION,
    CalibrationSet,
    fit_calibration,
)

HERE = Path(__file__).parent
BENCHMARK = HERE / "results" / "neb_mlip_dft.jsonl"
CHECK = HERE / "results" / "neb_calibration.json"


def benchmark_pairs(path: Path = BENCHMARK) -> dict[str, list[dict[str, Any]]]:
    """Potential -> pairs with QE on the same structure and hop (both converged)."""
    rows = latest(load_rows(path))
    # one pair per compound: the larger-cell finite-size checks stay out, and so does
    # the one-image protocol check of the seed potential
    rows = [
        r
        for r in rows
        if r["converged"] and not r.get("size_check_of") and "(1 CI image" not in r["method"]
    ]
    qe = {(r["structure"], r["hop_label"]): r for r in rows if r["method"] == "QE"}
    pairs: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        ref = qe.get((r["structure"], r["hop_label"]))
        if r["method"] == "QE" or ref is None:
            continue
        pairs.setdefault(r["method"], []).append(
            {
                "id": f"{r['structure']} hop {r['hop_label']}",
                "mlip_ev": r["barrier_forward_ev"],
                "dft_ev": ref["barrier_forward_ev"],
            }
        )
    return pairs


def main() -> None:
    pairs = benchmark_pairs()
    source = (
        "sseflow benchmark benchmarks/neb_mlip_dft.py (benchmarks/results/neb_mlip_dft.jsonl): "
        "CI-NEB of one BVSE-percolation hop per structure with each potential and with "
        "Quantum ESPRESSO (SG15 ONCV, charged vacancy) on the same supercell"
    )
    fits, check = {}, {}
    print(
        "| potential | pairs | raw MAE | LOO MAE: shift | scale | line | form chosen | "
        "nested LOO MAE | nested LOO max | raw Spearman | nested LOO Spearman | "
        "slope | intercept |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, items in sorted(pairs.items()):
        if len(items) < MIN_PAIRS:
            print(f"| {name} | {len(items)} | too few pairs |")
            continue
        fit = fit_calibration(name, items, source)
        fits[name] = fit
        by_model = fit.loo_mae_by_model or {}
        check[name] = {**fit.provenance(), "pairs": items}
        print(
            f"| {name} | {fit.n_pairs} | {fit.raw_mae_ev:.3f} | {by_model['shift']:.3f} | "
            f"{by_model['scale']:.3f} | {by_model['linear']:.3f} | {fit.model} | "
            f"{fit.loo_mae_ev:.3f} | {fit.loo_max_error_ev:.3f} | {fit.raw_spearman:.2f} | "
            f"{fit.loo_spearman:.2f} | {fit.slope:.3f} | {fit.intercept:+.3f} |"
        )
    if not fits:
        print(f"\nno potential has {MIN_PAIRS} pairs: nothing written (no calibration ships)")
        return
    description = f"fitted by benchmarks/neb_calibration.py on {BENCHMARK.name}"
    CalibrationSet(fits, description).to_json(SHIPPED_CALIBRATION)
    CHECK.write_text(json.dumps(check, indent=1) + "\n")
    print(f"\nwritten {SHIPPED_CALIBRATION} and {CHECK}")


if __name__ == "__main__":
    main()
