"""End-to-end benchmark of the default funnel over the OBELiX training structures.

Every structure of the shipped OBELiX training split that has a CIF (254) goes through
the default funnel's stages; the measured room-temperature conductivity tells, per
stage, how many superionic (sigma >= 1e-4 S/cm) structures are kept and how many poor
conductors are removed. The ML stage is scored out of fold (each structure by models
that never saw its label), so the numbers estimate what the ML gate does on new
structures.

Each stage's results are read from (or written to) a file in ``benchmarks/results/``,
so a rerun recomputes only what is missing or what you ask for:

``ml``
    ``ml_oof_scores.csv`` (columns id, fold, p_si_oof, soap_selected_oof,
    ml_gate_pass_oof, sigma_s_per_cm, superionic), written by the ML benchmark (issue
    12). Until it exists, a fallback computed here and cached in
    ``funnel_ml_fallback_oof.csv``: stratified 5-fold out-of-fold P_SI of the Sendek
    logistic baseline (AtomSets is not retrained here), out-of-fold SOAP selection
    (each fold's labels hidden while clustering at the clustering Maker's default
    depth), the MEGNet band gap (not trained on OBELiX), combined by the ML gate
    (``MLPolicyGate()``, its default policy). Which one was used is recorded.
``bvse``
    ``bvse_obelix.csv`` (``benchmarks/bvse_obelix.py``, bvlain); ``--bvse-csv`` reads
    another engine's results in the same columns.
``mlip``
    ``funnel_mlip_obelix.csv``: the default funnel's MLIP CI-NEB Maker on the
    ``--neb-top`` lowest BVSE barriers that pass ML and BVSE; runs that are missing are
    computed (``--no-compute`` to only report). ``--mlip-first K`` computes the K lowest
    BVSE barriers (<= 0.6 eV) whatever the ML stage says (to measure cost ahead).
``dft``
    not run: DFT CI-NEB is an HPC job. Its cost is estimated per structure as the force
    calls of its MLIP CI-NEB (endpoint relaxation steps + images x NEB steps) times the
    cost of one pw.x SCF for a cell of that size, scaled from STACK.md's measurement
    (95 atoms: ~70 s per SCF iteration on 2 cores; 15 iterations per SCF assumed; cost
    grows as atoms^3).

Usage::

    PYTHONPATH=src python benchmarks/funnel.py               # report (compute missing MLIP)
    PYTHONPATH=src python benchmarks/funnel.py --mlip-first 12 --no-report
    PYTHONPATH=src python benchmarks/funnel.py --bvse-csv benchmarks/results/bvse_native.csv

Writes ``benchmarks/results/funnel_obelix.json`` and prints the tables of
``docs/funnel.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

warnings.filterwarnings("ignore")

RESULTS = Path(__file__).resolve().parent / "results"
SUPERIONIC_S_PER_CM = 1e-4
#: Poor conductor: sigma below this (S/cm). "Not superionic" is reported too.
POOR_S_PER_CM = 1e-6
#: Cost model of one DFT force call (pw.x SCF), STACK.md: a 95-atom cell needs ~70 s per
#: SCF iteration on 2 cores; an SCF takes ~15 iterations; cost ~ atoms^3.
SCF_ITERATION_S_AT_95_ATOMS = 70.0
SCF_ITERATIONS = 15
CORES_OF_THAT_MEASUREMENT = 2
ML_OOF_FILE = RESULTS / "ml_oof_scores.csv"
ML_FALLBACK_FILE = RESULTS / "funnel_ml_fallback_oof.csv"
MLIP_FILE = RESULTS / "funnel_mlip_obelix.csv"
ML_TIMING_FILE = RESULTS / "funnel_ml_timing.json"
MLIP_COLUMNS = (
    "id",
    "potential",
    "walltime_s",
    "formula",
    "status",
    "barrier_forward_ev",
    "wall_time_s",
    "supercell_atoms",
    "force_calls",
    "endpoint_steps",
    "neb_steps",
    "load_average",
    "reason",
)


# --- inputs ------------------------------------------------------------------------------
def labels() -> dict[str, dict[str, Any]]:
    """OBELiX training entries with a CIF: id -> {sigma, superionic, structure}."""
    from sseflow.ml.labels import load_obelix_labels

    table = load_obelix_labels().with_structures()
    return {
        label_id: {
            "sigma_s_per_cm": float(sigma),
            "superionic": bool(sigma >= SUPERIONIC_S_PER_CM),
            "structure": structure,
        }
        for label_id, sigma, structure in zip(
            table.ids, table.sigma_s_per_cm, table.structures, strict=True
        )
    }


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def truthy(text: Any) -> bool:
    return str(text).strip().lower() in ("1", "true", "yes")


# --- ML stage ------------------------------------------------------------------------------
def ml_stage(
    entries: dict[str, dict[str, Any]], recompute: bool, oof_file: Path = ML_OOF_FILE
) -> tuple[dict, str]:
    """Return id -> {p_si, selected, passed} out of fold, and where it came from."""
    if oof_file.exists():
        rows = read_csv(oof_file)
        out = {
            r["id"]: {
                "p_si": number(r.get("p_si_oof")),
                "selected": truthy(r.get("soap_selected_oof")),
                "passed": truthy(r.get("ml_gate_pass_oof")),
                "fold": r.get("fold"),
            }
            for r in rows
        }
        policy = rows[0].get("gate_policy") if rows else None
        model = rows[0].get("p_si_model") if rows else None
        return out, f"{oof_file} (ML benchmark, issue 12; P_SI: {model}; gate: {policy})"
    if recompute or not ML_FALLBACK_FILE.exists():
        write_ml_fallback(entries)
    rows = read_csv(ML_FALLBACK_FILE)
    out = {
        r["id"]: {
            "p_si": number(r["p_si_oof"]),
            "selected": truthy(r["soap_selected_oof"]),
            "passed": truthy(r["ml_gate_pass_oof"]),
            "fold": r["fold"],
            "band_gap_ev": number(r["band_gap_ev"]),
        }
        for r in rows
    }
    return out, (
        f"{ML_FALLBACK_FILE.name} (fallback until ml_oof_scores.csv exists: Sendek logistic "
        "P_SI out of fold, SOAP selection with the fold's labels hidden, MEGNet band gap, "
        "MLPolicyGate() default policy)"
    )


def write_ml_fallback(entries: dict[str, dict[str, Any]]) -> None:
    """Compute the fallback out-of-fold ML stage (see the module docstring)."""
    from sseflow.funnel.gates import MLPolicyGate
    from sseflow.ml.bandgap import predict_band_gaps
    from sseflow.ml.evaluation import logistic_fit_predict, stratified_kfold_splits
    from sseflow.ml.labels import load_obelix_labels
    from sseflow.ml.sendek import sendek_feature_matrix
    from sseflow.ml.soap.clustering import cluster_with_labels
    from sseflow.ml.soap.jobs import SOAPClusteringMaker
    from sseflow.noise import quiet_third_party

    ids = sorted(entries)
    structures = [entries[i]["structure"] for i in ids]
    y = np.array([entries[i]["superionic"] for i in ids], dtype=int)
    table = load_obelix_labels().with_structures()
    maker = SOAPClusteringMaker()
    p_si = np.full(len(ids), np.nan)
    selected = np.zeros(len(ids), dtype=bool)
    fold_of = np.zeros(len(ids), dtype=int)
    fit_predict = logistic_fit_predict(sendek_feature_matrix(structures), y)
    t0 = time.perf_counter()
    for fold, (train, val) in enumerate(stratified_kfold_splits(y, n_splits=5, seed=0)):
        fold_of[val] = fold
        p_si[val] = fit_predict(train, val)
        visible = table.subset([ids[i] for i in train])
        result = cluster_with_labels(
            [(f"cand-{ids[i]}", structures[i]) for i in val],
            visible,
            settings=maker.soap,
            depth=maker.depth,
            high_sigma_s_per_cm=maker.high_sigma_s_per_cm,
        )
        for i in val:
            member = result.memberships.get(f"cand-{ids[i]}")
            selected[i] = bool(member and member.selected)
    with quiet_third_party():
        gaps = predict_band_gaps(structures).band_gap_ev
    elapsed = time.perf_counter() - t0
    gate = MLPolicyGate()
    with open(ML_FALLBACK_FILE, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["id", "fold", "p_si_oof", "soap_selected_oof", "band_gap_ev", "ml_gate_pass_oof"]
        )
        for k, label_id in enumerate(ids):
            docs = {
                gate.clustering_tier: {"selected": bool(selected[k])},
                gate.atomsets_tier: {"p_si": float(p_si[k]), "band_gap_ev": float(gaps[k])},
            }
            passed = gate.evaluate(docs).passed
            writer.writerow(
                [
                    label_id,
                    fold_of[k],
                    f"{p_si[k]:.4f}",
                    int(selected[k]),
                    f"{gaps[k]:.3f}",
                    int(passed),
                ]
            )
    print(f"fallback ML stage computed in {elapsed:.0f} s -> {ML_FALLBACK_FILE}")


def time_ml_stage() -> dict[str, Any]:
    """Run ingest + the default ML stage (shipped models) on all 254 CIFs; record its time.

    The ML stage's cost does not depend on out-of-fold training: this is what the
    shipped models cost on these structures (one batch job per ML tier).
    """
    import tempfile

    from sseflow.api import screen
    from sseflow.common.paths import shipped_data

    cifs = sorted(shipped_data("obelix", "cifs").glob("*.cif"))
    with tempfile.TemporaryDirectory(prefix="sseflow-funnel-bench-") as tmp:
        t0 = time.perf_counter()
        results = screen(cifs, data_dir=Path(tmp) / "db", until="ml")
        wall = time.perf_counter() - t0
        records = [results.record(i) for i in results.candidate_ids]
    soap = next(r["tiers"]["soap_clustering"] for r in records if "soap_clustering" in r["tiers"])
    atomsets = [r["tiers"]["atomsets"] for r in records if "atomsets" in r["tiers"]]
    timing = {
        "n_structures": len(cifs),
        "n_scored": len(atomsets),
        "wall_s_total_with_ingest": round(wall, 1),
        "soap_clustering_batch_s": soap.get("batch_wall_time_s"),
        "atomsets_batch_s": round(sum(d.get("wall_time_s") or 0.0 for d in atomsets), 1),
    }
    ML_TIMING_FILE.write_text(json.dumps(timing, indent=1))
    return timing


# --- MLIP stage ----------------------------------------------------------------------------
def read_mlip() -> dict[str, dict[str, str]]:
    """Cached MLIP runs of the default funnel's current MLIP Maker (by its potential)."""
    if not MLIP_FILE.exists():
        return {}
    potential = mlip_potential()
    return {r["id"]: r for r in read_csv(MLIP_FILE) if r.get("potential") == potential}


def mlip_potential() -> str:
    """Name of the default funnel's MLIP potential (the cache key with the structure id)."""
    from sseflow.funnel.defaults import mlip_maker

    return str(getattr(mlip_maker(), "potential", "CHGNet"))


def run_mlip(
    label_id: str, structure: Any, walltime_s: float | None = None, ordering_seed: int | None = None
) -> dict[str, Any]:
    """Run the default funnel's MLIP CI-NEB Maker on one structure; return a CSV row.

    ``walltime_s`` is the funnel's ``--mlip-walltime``: a run that reaches it is
    recorded failed (as the funnel records it). ``ordering_seed`` replaces the Maker's
    ``ordering.ordering_seed`` (another approximant of a disordered structure).
    """
    import dataclasses
    import os
    import tempfile

    from jobflow import run_locally

    from sseflow.common.candidate import Candidate
    from sseflow.funnel.defaults import mlip_maker
    from sseflow.noise import quiet_third_party

    maker = mlip_maker()
    if walltime_s is not None:
        maker = dataclasses.replace(
            maker, neb=dataclasses.replace(maker.neb, walltime_s=walltime_s)
        )
    if ordering_seed is not None:
        maker = dataclasses.replace(
            maker, ordering=dataclasses.replace(maker.ordering, ordering_seed=ordering_seed)
        )
    with tempfile.TemporaryDirectory(prefix="sseflow-funnel-bench-") as work:
        maker.work_dir = work
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            candidate = Candidate.from_structure(structure)
        except ValueError as exc:
            return {"id": label_id, "status": "failed", "reason": str(exc)[:300]}
        job = maker.make(candidate)
        with quiet_third_party():
            responses = run_locally(job, create_folders=False, log=False)
        doc = responses[job.uuid][1].output
        wall = time.perf_counter() - t0
    hops = doc.hops or []
    endpoint_steps = sum(sum(h.endpoint_relax_steps) for h in hops)
    neb_steps = sum(h.n_steps_neb + h.n_steps_ci for h in hops)
    n_moving = maker.neb.n_images
    return {
        "id": label_id,
        "potential": str(getattr(maker, "potential", "CHGNet")),
        "walltime_s": walltime_s if walltime_s is not None else "",
        "formula": candidate.formula,
        "status": "ok" if doc.status.value == "pending" else doc.status.value,
        "barrier_forward_ev": doc.barrier_forward_ev,
        "wall_time_s": round(wall, 1),
        "supercell_atoms": (doc.supercell or {}).get("n_sites_perfect"),
        "force_calls": endpoint_steps + n_moving * neb_steps if hops else "",
        "endpoint_steps": endpoint_steps if hops else "",
        "neb_steps": neb_steps if hops else "",
        "load_average": round(load, 2),
        "reason": (doc.reason or "")[:300],
        "ordering_ewald_energy_ev": doc.ordering_ewald_energy_ev,
    }


def append_mlip(row: dict[str, Any]) -> None:
    new = not MLIP_FILE.exists()
    with open(MLIP_FILE, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MLIP_COLUMNS))
        if new:
            writer.writeheader()
        writer.writerow({k: row.get(k, "") for k in MLIP_COLUMNS})


def compute_mlip(
    ids: list[str], entries: dict[str, dict[str, Any]], walltime_s: float | None = None
) -> None:
    done = read_mlip()
    for label_id in ids:
        if label_id in done:
            continue
        print(f"MLIP CI-NEB {label_id} ...", flush=True)
        row = run_mlip(label_id, entries[label_id]["structure"], walltime_s)
        append_mlip(row)
        print(f"  {row['status']} {row.get('barrier_forward_ev')} eV, {row.get('wall_time_s')} s")


# --- the funnel over the benchmark set -------------------------------------------------------
def dft_core_hours(atoms: float, force_calls: float) -> float:
    """Estimated DFT CI-NEB cost (core-hours) of a cell with ``atoms`` (see module)."""
    scf_s = SCF_ITERATIONS * SCF_ITERATION_S_AT_95_ATOMS * (atoms / 95.0) ** 3
    return force_calls * scf_s * CORES_OF_THAT_MEASUREMENT / 3600.0


def stage_row(name: str, entered: set, left: set, entries: dict, wall_s: float | None) -> dict:
    sup_all = {i for i, e in entries.items() if e["superionic"]}
    poor_all = {i for i, e in entries.items() if e["sigma_s_per_cm"] < POOR_S_PER_CM}
    not_sup = set(entries) - sup_all
    return {
        "stage": name,
        "entered": len(entered),
        "passed": len(left),
        "superionic_in": len(entered & sup_all),
        "superionic_kept": len(left & sup_all),
        "superionic_kept_fraction": round(len(left & sup_all) / max(len(sup_all), 1), 3),
        "poor_passed_fraction": round(len(left & poor_all) / max(len(poor_all), 1), 3),
        "poor_removed_fraction": round(1 - len(left & poor_all) / max(len(poor_all), 1), 3),
        "not_superionic_passed_fraction": round(len(left & not_sup) / max(len(not_sup), 1), 3),
        "wall_time_s": None if wall_s is None else round(wall_s, 1),
    }


def evaluate(args: argparse.Namespace, entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    ml, ml_source = ml_stage(entries, args.recompute_ml, Path(args.ml_oof))
    if args.time_ml or not ML_TIMING_FILE.exists():
        ml_timing = time_ml_stage()
    else:
        ml_timing = json.loads(ML_TIMING_FILE.read_text())
    ml_wall = (ml_timing["soap_clustering_batch_s"] or 0.0) + ml_timing["atomsets_batch_s"]
    bvse_rows = {r["id"]: r for r in read_csv(Path(args.bvse_csv))}
    everyone = set(entries)
    # ingest (the same for every tier): the BVSE benchmark recorded its rejections
    ingested = {i for i in everyone if bvse_rows.get(i, {}).get("status") != "rejected at ingest"}
    ml_pass = {i for i in ingested if ml.get(i, {}).get("passed")}
    bvse_ea = {i: number(bvse_rows[i].get("ea_1d_ev")) for i in ml_pass if i in bvse_rows}
    bvse_pass_threshold = {i for i, ea in bvse_ea.items() if ea is not None and ea <= args.max_ea}
    ranked = sorted(bvse_pass_threshold, key=lambda i: (bvse_ea[i], i))
    to_mlip = set(ranked[: args.neb_top])
    bvse_wall = sum(number(bvse_rows[i].get("wall_s")) or 0.0 for i in ml_pass if i in bvse_rows)
    if not args.no_compute:
        compute_mlip(ranked[: args.neb_top], entries, args.mlip_walltime)
    mlip = read_mlip()
    mlip_done = {i: mlip[i] for i in to_mlip if i in mlip}
    missing = sorted(to_mlip - set(mlip_done))
    mlip_ok = {
        i: number(r["barrier_forward_ev"])
        for i, r in mlip_done.items()
        if r["status"] == "ok" and number(r["barrier_forward_ev"]) is not None
    }
    mlip_pass = sorted(
        (i for i, b in mlip_ok.items() if b <= args.mlip_max), key=lambda i: (mlip_ok[i], i)
    )
    to_dft = set(mlip_pass[: args.dft_top])
    mlip_wall = sum(number(r["wall_time_s"]) or 0.0 for r in mlip_done.values())

    # DFT cost per NEB: from every MLIP run that took NEB steps (force calls, cell size);
    # a run that stopped (e.g. an intermediate minimum) would cost DFT as much
    costs = [
        dft_core_hours(number(r["supercell_atoms"]) or 0, number(r["force_calls"]) or 0)
        for r in mlip.values()
        if number(r["force_calls"]) and number(r["supercell_atoms"])
    ]
    per_neb = float(np.median(costs)) if costs else None
    saved = None if per_neb is None else per_neb * (len(everyone) - len(to_dft))

    stages = [
        stage_row("input (with a CIF)", everyone, everyone, entries, None),
        stage_row("ingest", everyone, ingested, entries, None),
        stage_row("ML (out of fold)", ingested, ml_pass, entries, ml_wall),
        stage_row(
            f"BVSE E_1D <= {args.max_ea} eV", ml_pass, bvse_pass_threshold, entries, bvse_wall
        ),
        stage_row(f"BVSE, {args.neb_top} lowest", bvse_pass_threshold, to_mlip, entries, None),
        stage_row(
            f"MLIP CI-NEB <= {args.mlip_max} eV", to_mlip, set(mlip_pass), entries, mlip_wall
        ),
        stage_row(f"DFT (the {args.dft_top} lowest)", set(mlip_pass), to_dft, entries, None),
    ]
    # BVSE alone on every structure (no ML stage), for comparison
    all_ea = {i: number(r.get("ea_1d_ev")) for i, r in bvse_rows.items() if i in everyone}
    bvse_alone = {i for i, ea in all_ea.items() if ea is not None and ea <= args.max_ea}
    # the BVSE threshold against what it keeps: after the ML stage, and alone
    sweep = []
    for threshold in np.round(np.arange(0.4, 1.51, 0.1), 2):
        after_ml = {i for i in ml_pass if (all_ea.get(i) or np.inf) <= threshold}
        alone = {i for i, ea in all_ea.items() if ea is not None and ea <= threshold}
        for name, kept in (("ML + BVSE", after_ml), ("BVSE alone", alone)):
            row = stage_row(name, everyone, kept, entries, None)
            sweep.append({"max_ea_ev": float(threshold), **row})
    return {
        "ml_source": ml_source,
        "bvse_source": str(args.bvse_csv),
        "n_structures": len(everyone),
        "n_superionic": sum(e["superionic"] for e in entries.values()),
        "n_poor": sum(e["sigma_s_per_cm"] < POOR_S_PER_CM for e in entries.values()),
        "superionic_s_per_cm": SUPERIONIC_S_PER_CM,
        "poor_s_per_cm": POOR_S_PER_CM,
        "settings": {
            "max_ea_ev": args.max_ea,
            "neb_top_n": args.neb_top,
            "mlip_max_ev": args.mlip_max,
            "dft_top_k": args.dft_top,
        },
        "stages": stages,
        "bvse_alone": stage_row("BVSE alone (no ML)", everyone, bvse_alone, entries, None),
        "bvse_threshold_sweep": sweep,
        "goal_after_bvse": {
            "superionic_kept": stages[3]["superionic_kept_fraction"],
            "poor_passed": stages[3]["poor_passed_fraction"],
            "not_superionic_passed": stages[3]["not_superionic_passed_fraction"],
            "met": stages[3]["superionic_kept_fraction"] >= 0.9
            and stages[3]["poor_passed_fraction"] <= 0.4,
        },
        "superionic_without_bvse_barrier": sorted(
            i
            for i, e in entries.items()
            if e["superionic"] and number(bvse_rows.get(i, {}).get("ea_1d_ev")) is None
        ),
        "ml_timing": ml_timing,
        "mlip_runs": {i: mlip_done[i] for i in sorted(mlip_done)},
        "mlip_missing": missing,
        "dft_core_hours_per_neb_median": per_neb,
        "dft_core_hours_saved": saved,
        "dft_cost_model": (
            f"force calls of the MLIP CI-NEB x {SCF_ITERATIONS} SCF iterations x "
            f"{SCF_ITERATION_S_AT_95_ATOMS} s x (atoms/95)^3 x {CORES_OF_THAT_MEASUREMENT} "
            "cores (STACK.md: 95 atoms, ~70 s per SCF iteration on 2 cores)"
        ),
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"ML stage: {result['ml_source']}; BVSE: {result['bvse_source']}.",
        f"{result['n_structures']} structures, {result['n_superionic']} superionic "
        f"(>= 1e-4 S/cm), {result['n_poor']} poor (< {POOR_S_PER_CM:g} S/cm).",
        "",
        "| stage | entered | passed | superionic kept | poor removed | not-superionic "
        "passed | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in [*result["stages"], result["bvse_alone"]]:
        wall = "-" if s["wall_time_s"] is None else f"{s['wall_time_s'] / 60:.1f} min"
        lines.append(
            f"| {s['stage']} | {s['entered']} | {s['passed']} | {s['superionic_kept']} "
            f"({s['superionic_kept_fraction']:.0%}) | {s['poor_removed_fraction']:.0%} | "
            f"{s['not_superionic_passed_fraction']:.0%} | {wall} |"
        )
    lines += [
        "",
        "BVSE threshold (cumulative from the input; superionic kept / poor passed / "
        "not-superionic passed):",
        "",
        "| max E_1D (eV) | ML + BVSE | BVSE alone |",
        "|---|---|---|",
    ]
    by_threshold: dict[float, dict[str, dict]] = {}
    for row in result["bvse_threshold_sweep"]:
        by_threshold.setdefault(row["max_ea_ev"], {})[row["stage"]] = row
    for threshold, rows in sorted(by_threshold.items()):
        cells = [
            f"{r['superionic_kept_fraction']:.0%} / {r['poor_passed_fraction']:.0%} / "
            f"{r['not_superionic_passed_fraction']:.0%}"
            for r in (rows["ML + BVSE"], rows["BVSE alone"])
        ]
        lines.append(f"| {threshold:.1f} | {cells[0]} | {cells[1]} |")
    per = result["dft_core_hours_per_neb_median"]
    if per is not None:
        lines += [
            "",
            f"DFT CI-NEB cost per structure (median of the MLIP runs, {result['dft_cost_model']}): "
            f"{per:.0f} core-hours; saved against NEB on all {result['n_structures']}: "
            f"{result['dft_core_hours_saved']:.0f} core-hours.",
        ]
    if result["mlip_missing"]:
        lines.append(f"MLIP runs still missing: {', '.join(result['mlip_missing'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bvse-csv", default=str(RESULTS / "bvse_obelix.csv"))
    parser.add_argument("--max-ea", type=float, default=0.6)
    parser.add_argument("--neb-top", type=int, default=10)
    parser.add_argument("--mlip-max", type=float, default=0.6)
    parser.add_argument("--dft-top", type=int, default=3)
    parser.add_argument(
        "--mlip-first",
        type=int,
        default=0,
        help="first compute MLIP CI-NEB on the K lowest BVSE barriers",
    )
    parser.add_argument(
        "--mlip-examples",
        action="store_true",
        help="also run MLIP CI-NEB on the clean antifluorites of examples/structures "
        "(cost reference for the DFT estimate; ids example:<name>)",
    )
    parser.add_argument("--no-compute", action="store_true", help="only report cached runs")
    parser.add_argument(
        "--mlip-walltime",
        type=float,
        default=None,
        help="wall-time budget of one MLIP CI-NEB, s (the funnel's --mlip-walltime)",
    )
    parser.add_argument("--ml-oof", default=str(ML_OOF_FILE), help="out-of-fold ML scores")
    parser.add_argument("--recompute-ml", action="store_true")
    parser.add_argument("--time-ml", action="store_true", help="time the ML stage again")
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / "funnel_obelix.json"))
    args = parser.parse_args()
    entries = labels()
    if args.mlip_first:
        rows = read_csv(Path(args.bvse_csv))
        eas = {r["id"]: number(r.get("ea_1d_ev")) for r in rows if r["id"] in entries}
        lowest = sorted(
            (i for i, ea in eas.items() if ea is not None and ea <= args.max_ea),
            key=lambda i: (eas[i], i),
        )
        compute_mlip(lowest[: args.mlip_first], entries, args.mlip_walltime)
    if args.mlip_examples:
        from pymatgen.core import Structure

        examples = Path(__file__).resolve().parents[1] / "examples" / "structures"
        extra = {
            f"example:{name}": {"structure": Structure.from_file(examples / f"{name}.cif")}
            for name in ("Li2S_antifluorite", "Li2O_antifluorite", "Li2Te_antifluorite")
        }
        compute_mlip(sorted(extra), extra, args.mlip_walltime)
    if args.no_report:
        return
    result = evaluate(args, entries)
    Path(args.out).write_text(json.dumps(result, indent=1, default=str))
    print(markdown(result))


if __name__ == "__main__":
    main()
