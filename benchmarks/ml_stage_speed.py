"""Speed of the ML stage: P_SI scoring, SOAP clustering and band gaps, warm and cold.

Inputs: the 254 OBELiX training structures, repeated to ``--copies`` x 254 structures
(1016 by default) so that per-call overheads are amortised as in a large screen. All
timings of one run are side by side on the same inputs (the machine is shared: compare
ratios, not absolute numbers across runs).

- cold: a fresh Python process imports sseflow, loads the shipped P_SI model and scores
  the 254 structures (TensorFlow import and model loading included);
- warm, in one process after a warm-up call: P_SI scoring (simplification, MEGNet
  features as batched graphs, composition features, components, calibration) with the
  shipped model and, for comparison, with the previous default (``atomsets_v1_camns``,
  V1 CAMNS features; ``--old-model``); SOAP clustering of the candidates with the 254
  reference labels (label descriptors cached, as in a funnel run with a cache folder)
  with 1 and 2 processes; band-gap prediction (the AtomSets tier's default
  ``band_gap_mode="predict"``);
- MEGNet V1 featurization of the 254 simplified structures as disjoint graphs of at most
  300, 1000 (the default of ``atom_features``) and 4000 atoms.

Writes ``benchmarks/results/ml_stage_speed.json`` and ``docs/atomsets/ml_stage_speed.png``.

Usage::

    PYTHONPATH=src:. python benchmarks/ml_stage_speed.py [--copies 4] [--old-model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ml_data

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "ml_stage_speed.json"
FIGURE = ROOT / "docs" / "atomsets" / "ml_stage_speed.png"
OLD_MODEL = ROOT / "src" / "sseflow" / "data" / "models" / "atomsets_v1_camns"

COLD = """
import time
t0 = time.perf_counter()
from sseflow.ml.labels import load_obelix_labels
structures = load_obelix_labels().structures
t1 = time.perf_counter()
from sseflow.ml.atomsets.scoring import load_default_model, score_structures
model = load_default_model()
t2 = time.perf_counter()
scores = score_structures(structures, model)
t3 = time.perf_counter()
import json
print(json.dumps({"read_cifs_s": t1 - t0, "import_and_load_model_s": t2 - t1,
                  "first_score_254_s": t3 - t2, "n": len(scores)}))
"""


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cold_start() -> dict:
    """Time a fresh process (see module docstring)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", COLD], capture_output=True, text=True, env=env, check=True
    )
    wall = time.perf_counter() - t0
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["whole_process_s"] = wall
    return out


def _rate(n: int, seconds: float) -> dict:
    return {"n": n, "seconds": round(seconds, 3), "per_second": round(n / seconds, 1)}


def warm(copies: int, old_model: Path | None) -> dict:
    """Warm throughput of every step on ``copies`` x 254 structures."""
    from sseflow.funnel.gates.ml_policy import MLPolicyGate
    from sseflow.ml.atomsets.features import atom_features_or_errors
    from sseflow.ml.atomsets.featurization import simplify_for_features
    from sseflow.ml.atomsets.scoring import load_default_model, load_model, score_structures
    from sseflow.ml.bandgap import predict_band_gaps
    from sseflow.ml.composition import composition_features
    from sseflow.ml.soap.clustering import cluster_with_labels

    table = ml_data.structures()
    structures = [s for _ in range(copies) for s in table.structures]
    n = len(structures)
    model = load_default_model()
    score_structures(structures[:20], model)  # warm-up: TF graphs traced, models loaded
    out: dict = {"n_structures": n, "model": model.model_version}

    t0 = time.perf_counter()
    scores = score_structures(structures, model)
    out["p_si"] = _rate(n, time.perf_counter() - t0)
    out["p_si"]["failed"] = sum(isinstance(s, Exception) for s in scores)
    # its parts
    fs = model.feature_settings
    t0 = time.perf_counter()
    simple = [simplify_for_features(s, fs.simplification) for s in structures]
    out["simplify"] = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    feats = atom_features_or_errors(simple, fs.level, embedding=model.embedding)
    out["megnet_features"] = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    composition_features([s.composition for s in structures])
    out["composition_features"] = _rate(n, time.perf_counter() - t0)
    t0 = time.perf_counter()
    model.predict([s.composition for s in structures], feats)
    out["model_predict"] = _rate(n, time.perf_counter() - t0)

    if old_model is not None and old_model.is_dir():
        old = load_model(old_model)
        score_structures(structures[:20], old)
        t0 = time.perf_counter()
        score_structures(structures, old)
        out["p_si_old_model"] = _rate(n, time.perf_counter() - t0)
        out["p_si_old_model"]["model"] = old.model_version

    labels = table
    candidates = [(f"c{i}", s) for i, s in enumerate(structures)]
    with tempfile.TemporaryDirectory() as cache:
        cluster_with_labels(candidates[:10], labels, cache_dir=cache)  # label SOAP cached
        for jobs in (1, 2):
            t0 = time.perf_counter()
            result = cluster_with_labels(
                [(f"j{jobs}-{k}", s) for k, s in candidates], labels, cache_dir=cache, n_jobs=jobs
            )
            out[f"soap_clustering_{jobs}_jobs"] = _rate(n, time.perf_counter() - t0)
            out[f"soap_clustering_{jobs}_jobs"]["depth"] = result.depth

    predict_band_gaps(structures[:5])
    t0 = time.perf_counter()
    predict_band_gaps(structures[: len(table)])
    out["band_gap"] = _rate(len(table), time.perf_counter() - t0)

    out["v1_batching"] = v1_batching(table.structures)
    best_soap = min(out[f"soap_clustering_{j}_jobs"]["seconds"] for j in (1, 2))
    stage = out["p_si"]["seconds"] + best_soap
    out["ml_stage_without_band_gap"] = _rate(n, stage)
    gap_s = n / out["band_gap"]["per_second"]
    out["ml_stage_with_band_gap"] = _rate(n, stage + gap_s)
    # what the default funnel's ml_stage() runs with MLPolicyGate()'s defaults: P_SI,
    # SOAP clustering (its selection is recorded whatever the policy), band gaps only
    # when the gate tests them
    gate = MLPolicyGate()
    default_s = out["p_si"]["seconds"] + best_soap
    default_s += 0.0 if gate.band_gap_min_ev is None else gap_s
    out["ml_stage_default"] = _rate(n, default_s)
    out["ml_stage_default"]["gate"] = repr(gate)
    out["peak_rss_mb"] = round(_peak_rss_mb(), 0)
    return out


def v1_batching(structures: list) -> dict:
    """MEGNet V1 featurization time of the CAMNS-simplified structures per batch size."""
    from sseflow.ml.atomsets.features import atom_features
    from sseflow.ml.atomsets.featurization import simplify_for_features

    simple = [simplify_for_features(s, "CAMNS") for s in structures]
    atom_features(simple[:5], level=1)
    out = {}
    for atoms in (300, 1000, 4000):
        t0 = time.perf_counter()
        atom_features(simple, level=1, max_atoms_per_batch=atoms)
        out[str(atoms)] = round(time.perf_counter() - t0, 2)
    return out


def plot(result: dict) -> None:
    """Bar chart of structures per second for each step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [
        ("P_SI (shipped model)", "p_si"),
        ("P_SI (old model, V1)", "p_si_old_model"),
        ("  MEGNet features", "megnet_features"),
        ("  composition features", "composition_features"),
        ("  model predict", "model_predict"),
        ("SOAP clustering, 1 job", "soap_clustering_1_jobs"),
        ("SOAP clustering, 2 jobs", "soap_clustering_2_jobs"),
        ("band gap (6 MEGNet models)", "band_gap"),
        ("ML stage (P_SI + SOAP)", "ml_stage_without_band_gap"),
        ("ML stage + band gap", "ml_stage_with_band_gap"),
        ("default ML stage (ml_stage())", "ml_stage_default"),
    ]
    steps = [(name, key) for name, key in steps if key in result["warm"]]
    rates = [result["warm"][key]["per_second"] for _, key in steps]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.barh([name for name, _ in steps][::-1], rates[::-1], color="C0")
    ax.axvline(100, color="C3", ls="--", lw=1, label="goal: 100 structures/s")
    ax.set_xscale("log")
    ax.set_xlabel("structures per second (warm, log scale)")
    ax.set_title(f"ML stage speed, {result['warm']['n_structures']} structures, 2 shared cores")
    ax.legend(fontsize=8)
    fig.tight_layout()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURE, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run the cold and warm measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--old-model", type=Path, default=OLD_MODEL)
    args = parser.parse_args()
    result = {"load_average_at_start": os.getloadavg()}
    result |= {"cold": cold_start(), "warm": warm(args.copies, args.old_model)}
    result["cpu_count"] = os.cpu_count()
    result["load_average_at_end"] = os.getloadavg()
    threads = ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")
    result["threads"] = {k: os.environ.get(k) for k in threads}
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    plot(result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
