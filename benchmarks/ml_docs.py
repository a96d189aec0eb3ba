"""Write the measured tables of docs/atomsets.md from the committed benchmark results.

Reads ``benchmarks/results/psi_model.json`` (nested CV, ``benchmarks/psi_model.py``),
``ml_gate_policy.json`` (``benchmarks/ml_oof.py``) and ``ml_stage_speed.json``
(``benchmarks/ml_stage_speed.py``) and replaces the text between the
``<!-- results:start -->`` and ``<!-- results:end -->`` markers; the per-depth table of
``soap_selection.json`` (``benchmarks/soap_selection.py``) goes between the
``<!-- selection:start -->`` and ``<!-- selection:end -->`` markers of
docs/soap_clustering.md.

Usage::

    PYTHONPATH=src:. python benchmarks/ml_docs.py [--tag forests_kfold+clusters_gated]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "atomsets.md"
SOAP_DOC = ROOT / "docs" / "soap_clustering.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
SOAP_START, SOAP_END = "<!-- selection:start -->", "<!-- selection:end -->"
#: Columns of the SOAP selection table: rule, fast label (S/cm), label-density fraction.
SOAP_COLUMNS = (
    ("high_or_adjacent", 1e-5, 0.5, "`high_or_adjacent`, > 1e-5 (paper)"),
    ("high_or_adjacent", 1e-4, 0.5, "`high_or_adjacent`, > 1e-4"),
    ("high", 1e-5, 0.5, "`high`, > 1e-5"),
    ("high", 1e-4, 0.5, "`high`, > 1e-4"),
    ("density", 1e-5, 0.5, "`density` 0.5, > 1e-5"),
    ("adjacent", 1e-4, 0.5, "`adjacent`, > 1e-4"),
)
MODELS = (
    "P_SI (shipped recipe)",
    "P_SI without the gate",
    "composition forest",
    "pooled-feature forest",
    "AtomSets ensemble",
    "Sendek logistic",
    "SOAP logistic",
)
#: The models P_SI has to beat (not P_SI's own recipe without the gated combiner).
BASELINES = MODELS[2:]


def _ms(summary: dict, key: str) -> str:
    s = summary[key]
    return "-" if s["n"] == 0 else f"{s['mean']:.2f} ± {s['std']:.2f}"


def _load(name: str) -> dict:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.is_file() else {}


def cv_tables(report: dict, atomsets_report: dict | None) -> list[str]:
    """The nested-CV tables: structures (all models), all rows, goals."""
    out = []
    for part, title in (("structures", "254 rows with a structure"), ("all_rows", "all 478 rows")):
        out += [
            f"**Nested CV on {title}** (mean ± std over folds; pooled = all out-of-fold "
            "predictions together)",
            "",
            "| model | k-fold AUC-PR | k-fold MCC | LOCO AUC-PR | LOCO MCC | "
            "k-fold pooled AUC-PR / Brier | LOCO pooled AUC-PR / Brier |",
            "|---|---|---|---|---|---|---|",
        ]
        controls = {}
        for name in MODELS:
            source = report
            if name == "AtomSets ensemble" and atomsets_report:
                source = atomsets_report
            cells = []
            pooled = []
            for scheme in ("kfold", "loco"):
                entry = source.get(scheme, {}).get("models", {}).get(name, {}).get(part)
                if not entry:
                    cells += ["-", "-"]
                    pooled.append("-")
                    continue
                s = entry["summary"]
                cells += [_ms(s, "model_auc_pr"), _ms(s, "model_mcc")]
                pooled.append(f"{entry['pooled']['auc_pr']:.2f} / {entry['pooled']['brier']:.3f}")
                controls.setdefault(scheme, s)
            if all(c == "-" for c in cells):
                continue
            label = f"**{name}**" if name.startswith("P_SI") else name
            if name == "AtomSets ensemble" and atomsets_report:
                label += " (nested, AtomSets search)"
            out.append(f"| {label} | " + " | ".join(cells + pooled) + " |")
        for control in ("shuffled", "mean"):
            cells = []
            for scheme in ("kfold", "loco"):
                s = controls.get(scheme)
                cells += (
                    [_ms(s, f"{control}_auc_pr"), _ms(s, f"{control}_mcc")] if s else ["-", "-"]
                )
            out.append(f"| {control} control | " + " | ".join(cells) + " | | |")
        out.append("")
    return out


def goals_table(report: dict) -> list[str]:
    """The issue's goals against the numbers on the rows with a structure."""
    models = {s: report[s]["models"] for s in ("kfold", "loco")}

    def mean(scheme: str, name: str, key: str) -> float:
        entry = models[scheme].get(name, {}).get("structures")
        return entry["summary"][key]["mean"] if entry else float("nan")

    p = "P_SI (shipped recipe)"
    best_k = max((mean("kfold", m, "model_auc_pr"), m) for m in BASELINES if m in models["kfold"])
    best_l = max((mean("loco", m, "model_auc_pr"), m) for m in BASELINES if m in models["loco"])
    rows = [
        ("k-fold AUC-PR >= 0.85", mean("kfold", p, "model_auc_pr"), 0.85),
        ("k-fold MCC >= 0.60", mean("kfold", p, "model_mcc"), 0.60),
        ("LOCO AUC-PR >= 0.70", mean("loco", p, "model_auc_pr"), 0.70),
        (f"k-fold AUC-PR above the best baseline ({best_k[1]}, {best_k[0]:.3f})",
         mean("kfold", p, "model_auc_pr"), best_k[0] + 1e-9),
        (f"LOCO AUC-PR above the best baseline ({best_l[1]}, {best_l[0]:.3f})",
         mean("loco", p, "model_auc_pr"), best_l[0] + 1e-9),
    ]  # fmt: skip
    out = ["**Goals of issue 12** (P_SI, rows with a structure)", "", "| goal | P_SI | met |"]
    out.append("|---|---|---|")
    for text, value, target in rows:
        met = "yes" if value >= target else "**no**"
        if "baseline" in text and abs(value - target) < 0.01:
            met += " (by less than 0.01: a tie, see the paired differences)"
        out.append(f"| {text} | {value:.3f} | {met} |")
    return [*out, ""]


def _paired(a: list[float], b: list[float]) -> str:
    if not a or len(a) != len(b):
        return "-"
    import numpy as np

    d = np.asarray(a) - np.asarray(b)
    return f"{d.mean():+.2f} ± {d.std():.2f} ({int((d > 0).sum())}/{len(d)})"


def baseline_table(report: dict) -> list[str]:
    """P_SI minus each baseline, fold by fold (paired: the same outer folds)."""
    p = "P_SI (shipped recipe)"
    out = [
        "**P_SI against each baseline** (254 rows with a structure; P_SI minus the baseline, "
        "fold by fold on the same outer folds: mean ± std of the difference, and in how "
        "many folds P_SI is higher)",
        "",
        "| baseline | k-fold AUC-PR | k-fold MCC | LOCO AUC-PR | LOCO MCC |",
        "|---|---|---|---|---|",
    ]
    for name in MODELS[1:]:
        cells = []
        for scheme in ("kfold", "loco"):
            models = report[scheme]["models"]
            mine, other = models[p]["structures"], (models.get(name) or {}).get("structures")
            for key in ("fold_auc_pr", "fold_mcc"):
                cells.append(_paired(mine.get(key, []), (other or {}).get(key, [])))
        if any(c != "-" for c in cells):
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*out, ""]


def bootstrap_table(report: dict) -> list[str]:
    """Paired bootstrap intervals of the fold means and of P_SI minus each baseline."""
    if "bootstrap" not in report.get("kfold", {}):
        return []
    boot = {s: report[s]["bootstrap"] for s in ("kfold", "loco")}
    n = boot["kfold"]["n_resamples"]
    out = [
        f"**How sure are the differences** (paired bootstrap, {n} replicates, the 254 rows "
        "with a structure; 95 % intervals of the mean AUC-PR over folds: *rows* resamples "
        "each fold's validation rows, positives and negatives apart, *folds + rows* also "
        "draws the folds with replacement; the fold models are not retrained)",
        "",
        "| model | k-fold, rows | k-fold, folds + rows | LOCO, rows | LOCO, folds + rows | "
        "LOCO >= 0.70 in |",
        "|---|---|---|---|---|---|",
    ]

    def cell(entry: dict) -> str:
        lo, hi = entry["interval_95"]
        return f"{lo:.2f} - {hi:.2f}"

    for name in MODELS:
        if name not in boot["kfold"]["rows"]["models"]:
            continue
        cells = [
            cell(boot[s][level]["models"][name])
            for s in ("kfold", "loco")
            for level in ("rows", "folds_and_rows")
        ]
        share = boot["loco"]["folds_and_rows"]["models"][name]["at_least_0.70"]
        out.append(f"| {name} | " + " | ".join(cells) + f" | {share:.0%} |")
    out += [
        "",
        "| P_SI minus | k-fold, rows | k-fold, folds + rows | LOCO, rows | LOCO, folds + rows |",
        "|---|---|---|---|---|",
    ]
    for name in MODELS[1:]:
        if name not in boot["kfold"]["rows"]["p_si_minus"]:
            continue
        cells = []
        for s in ("kfold", "loco"):
            for level in ("rows", "folds_and_rows"):
                entry = boot[s][level]["p_si_minus"][name]
                lo, hi = entry["interval_95"]
                cells.append(f"{lo:+.2f} - {hi:+.2f} (higher in {entry['p_si_higher']:.0%})")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return [*out, ""]


def criterion_table(reports: dict[str, dict]) -> list[str]:
    """P_SI's nested CV under each selection criterion that was run."""
    p = "P_SI (shipped recipe)"
    out = [
        "**Each version of the selection** (P_SI, nested CV; every number from its own "
        "complete run)",
        "",
        "| criterion of every inner choice | rows | k-fold AUC-PR | k-fold MCC | LOCO AUC-PR "
        "| LOCO MCC |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "forests_kfold": "inner k-fold AUC-PR (first version)",
        "forests_kfold+clusters": "mean of inner k-fold and leave-cluster-out AUC-PR, forests only",
        "atomsets_kfold+clusters": "the same, AtomSets in the search too (`--atomsets`; `psi_v2`)",
        "forests_kfold+clusters_gated": "mean of inner k-fold and leave-cluster-out, forests, "
        "gated combiner in the search (shipped, `psi_v3`)",
    }
    for tag, report in reports.items():
        for part, rows in (("structures", "254"), ("all_rows", "478")):
            cells = []
            for scheme in ("kfold", "loco"):
                s = report[scheme]["models"][p][part]["summary"]
                cells += [_ms(s, "model_auc_pr"), _ms(s, "model_mcc")]
            out.append(f"| {names.get(tag, tag)} | {rows} | " + " | ".join(cells) + " |")
    return [*out, ""]


def choices_table(report: dict) -> list[str]:
    """What the nested selection chose in each outer fold."""
    out = [
        "**Choices in each outer fold** (inner CV of the outer training rows)",
        "",
        "| scheme, fold | composition forest | structure component | combiner | calibration |",
        "|---|---|---|---|---|",
    ]
    for scheme in ("kfold", "loco"):
        for k, c in enumerate(report[scheme].get("choices", [])):
            comp = c["composition"]
            structure = (
                f"AtomSets {', '.join(c['atomsets'])}"
                if c["family"] == "atomsets"
                else f"pooled forest {c['pooled_forest']}"
            )
            comb = c["combiner"]
            combiner = {
                "average": f"average, w_comp {comb['weight_composition']:g}",
                "gated_average": f"gated, w_comp {comb['weight_composition']:g} near, "
                f"{comb.get('weight_composition_far', 0):g} far",
            }.get(comb["kind"], "logistic stacking")
            out.append(
                f"| {scheme} {k} | {comp['kind'].replace('_', ' ')}, max_features "
                f"{comp['max_features']}, leaf {comp['min_samples_leaf']}, "
                f"{comp['class_weight'] or 'unweighted'} | {structure} | {combiner} | "
                f"{c['calibration']} |"
            )
    return [*out, ""]


def atomsets_search_table(search: dict | None, forests: dict | None) -> list[str]:
    """AtomSets inside the nested search: per outer fold, what the inner CV preferred."""
    if not search:
        return []
    p, a, f = "P_SI (shipped recipe)", "AtomSets ensemble", "pooled-feature forest"
    out = [
        "**AtomSets inside the nested search** (`--atomsets`: 20 AtomSets configurations "
        "per outer fold besides the 12 pooled forests; inner AUC-PR of each structure "
        "family, k-fold / leave-cluster-out; outer AUC-PR on the fold's structures; "
        "minutes of the outer fold, one fold per process on 2 cores, less where "
        "AtomSets predictions of an earlier run were found in the cache: k-fold folds 0-2)",
        "",
        "| scheme, fold | AtomSets ensemble, inner | pooled forest, inner | chosen | "
        "outer: AtomSets ensemble | outer: pooled forest | outer: P_SI with the search | "
        "outer: P_SI, forests-only search | minutes |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def inner(scores: dict | None) -> str:
        if not scores:
            return "-"
        return " / ".join(f"{scores[k]:.2f}" for k in ("kfold", "clusters") if k in scores)

    def folds(report: dict, name: str) -> list[float]:
        """Per-fold AUC-PR of one model on the rows with a structure."""
        return (report["models"].get(name) or {}).get("structures", {}).get("fold_auc_pr", [])

    for scheme in ("kfold", "loco"):
        if scheme not in search:
            continue
        got = search[scheme]
        forests_only = folds(forests[scheme], p) if forests else []
        for k, c in enumerate(got.get("choices", [])):
            fam = c.get("family_inner_auc_pr", {})
            cells = [
                inner(fam.get("atomsets")),
                inner(fam.get("pooled_forest")),
                "AtomSets" if c["family"] == "atomsets" else "pooled forest",
            ]
            for values in (folds(got, a), folds(got, f), folds(got, p), forests_only):
                cells.append(f"{values[k]:.2f}" if k < len(values) else "-")
            wall = c.get("wall_s")
            cells.append(f"{wall / 60:.0f}" if wall else "-")
            out.append(f"| {scheme} {k} | " + " | ".join(cells) + " |")
    return [*out, ""]


def calibration_lines(report: dict) -> list[str]:
    """Brier scores and expected calibration errors, raw and calibrated."""
    prevalence = report["kfold"]["brier"]["prevalence_structures"]
    out = [
        "**Calibration** (out-of-fold, 254 rows with a structure; Brier of a constant at "
        f"the prevalence: {prevalence * (1 - prevalence):.3f})",
        "",
        "| scheme | Brier, combined score | Brier, P_SI (calibrated) | ECE combined | ECE P_SI |",
        "|---|---|---|---|---|",
    ]
    for scheme in ("kfold", "loco"):
        b = report[scheme]["brier"]
        rel = report[scheme]["reliability"]
        out.append(
            f"| {scheme} | {b['uncalibrated_structures']:.3f} | {b['structures']:.3f} | "
            f"{rel['uncalibrated_structures']['ece']:.3f} | {rel['structures']['ece']:.3f} |"
        )
    out += ["", "![P_SI reliability](atomsets/psi_reliability.png)", ""]
    return out


def _gap(minimum: float | None) -> str:
    return "off" if minimum is None else f">= {minimum:g} eV"


def _rates(s: dict) -> str:
    return f"{s['recall']:.2f} | {s['other_pass_fraction']:.2f} | {s['pass_fraction']:.2f} |"


def gate_lines(gate: dict) -> list[str]:
    """The ML gate policy chosen from out-of-fold numbers."""
    if not gate:
        return []
    c, d, n = gate["chosen"], gate["default_gate"], gate["nested"]
    bg = gate["band_gap_below_1_ev"]
    return [
        "**ML gate policy** (`benchmarks/ml_oof.py`; out-of-fold P_SI, SOAP selection with "
        "the clustering defaults, predicted band gaps; 254 structures, "
        f"{gate['n_superionic']} superionic)",
        "",
        "| policy | superionic passed | others passed | all passed |",
        "|---|---|---|---|",
        f"| chosen: {c['policy']}, P_SI >= {c['p_si_threshold']:g}, band gap "
        + f"{_gap(c['band_gap_min_ev'])} | "
        + _rates(c),
        "| same choice made on 4 folds, applied to the 5th (nested) | " + _rates(n),
        f"| `MLPolicyGate()` when the numbers were written: {d['policy']}, P_SI >= "
        + f"{d['p_si_threshold']:g}, band gap {_gap(d['band_gap_min_ev'])} | "
        + _rates(d),
        f"| SOAP selection alone | {gate['soap_selection']['recall']:.2f} | "
        f"{gate['soap_selection']['other_pass_fraction']:.2f} | |",
        "",
        f"Predicted band gap below 1 eV: {bg['superionic']} superionic and {bg['other']} other "
        f"structures ({bg['unknown']} unknown).",
        "",
        "![ML gate policies](atomsets/ml_gate_policy.png)",
        "",
    ]  # fmt: skip


def speed_lines(speed: dict) -> list[str]:
    """Warm and cold timings of the ML stage."""
    if not speed:
        return []
    w, c = speed["warm"], speed["cold"]

    def row(name: str, key: str) -> str:
        if key not in w:
            return ""
        rate = w[key]["per_second"]
        text = f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"
        return f"| {name} | {w[key]['n']} | {w[key]['seconds']:.2f} | {text} |"

    start = speed.get("load_average_at_start", [float("nan")])[0]
    lines = [
        "**ML stage speed** (`benchmarks/ml_stage_speed.py`; 2 shared cores, 1-min load "
        f"average {start:.1f} at the start and {speed['load_average_at_end'][0]:.1f} at the "
        f"end of the run; one process, warm, {w['n_structures']} structures = the 254 "
        "training structures x 4)",
        "",
        "| step | structures | seconds | structures/s |",
        "|---|---|---|---|",
        row("P_SI, shipped model (featurize + score)", "p_si"),
        row("P_SI, first default (atomsets_v1_camns, V1)", "p_si_old_model"),
        row("... simplification", "simplify"),
        row("... MEGNet V0 features (stored embedding)", "megnet_features"),
        row("... composition features", "composition_features"),
        row("... model predict", "model_predict"),
        row("SOAP clustering with the 254 labels, 1 process", "soap_clustering_1_jobs"),
        row("SOAP clustering with the 254 labels, 2 processes", "soap_clustering_2_jobs"),
        row("band gap, 6 MEGNet models", "band_gap"),
        row("**ML stage: P_SI + SOAP clustering**", "ml_stage_without_band_gap"),
        row("ML stage with band-gap prediction", "ml_stage_with_band_gap"),
        row(
            "**default ML stage (`ml_stage()`: P_SI + SOAP selection recorded, `MLPolicyGate()`)**",
            "ml_stage_default",
        ),
        "",
        f"Cold start (fresh process): reading the 254 CIFs {c['read_cifs_s']:.1f} s, importing "
        f"sseflow and loading the model {c['import_and_load_model_s']:.1f} s, scoring the 254 "
        f"structures {c['first_score_254_s']:.1f} s; whole process {c['whole_process_s']:.1f} s."
        f" Peak memory of the warm run: {w['peak_rss_mb']:.0f} MB.",
        "",
        "MEGNet V1 featurization of the 254 CAMNS-simplified structures (1 thread) as "
        "disjoint graphs of at most N atoms: "
        + ", ".join(f"{k} atoms {v:.1f} s" for k, v in w.get("v1_batching", {}).items())
        + " (`atom_features` uses 1000).",
        "",
        "![ML stage speed](atomsets/ml_stage_speed.png)",
        "",
    ]
    return [line for line in lines if line is not None]


def soap_selection_lines(selection: dict) -> list[str]:
    """Recall / pass fraction of the SOAP selection per depth and rule."""
    if not selection:
        return []
    cell = {
        (r["rule"], r["high_sigma_s_per_cm"], r["min_high_fraction"], r["depth"]): r
        for r in selection["all"]
    }
    chosen = selection["chosen"]
    depths = sorted({r["depth"] for r in selection["all"]})
    out = [
        "Recall / pass fraction of the hidden structures (leave-labels-out, 5 folds, "
        f"{selection['n_structures']} structures, {selection['n_superionic']} superionic) per "
        "depth and rule; **bold**: the default.",
        "",
        "| depth | " + " | ".join(c[3] for c in SOAP_COLUMNS) + " |",
        "|---|" + "---|" * len(SOAP_COLUMNS),
    ]
    for depth in depths:
        if depth < 10 or (depth < 30 and depth % 10):
            continue
        cells = []
        for rule, high, fraction, _ in SOAP_COLUMNS:
            r = cell.get((rule, high, fraction, depth))
            text = "-" if r is None else f"{r['recall']:.2f} / {r['pass_fraction']:.2f}"
            keys = ("depth", "rule", "high_sigma_s_per_cm")
            if r is not None and all(r[k] == chosen[k] for k in keys):
                text = f"**{text}**"
            cells.append(text)
        out.append(f"| {depth} | " + " | ".join(cells) + " |")
    return [*out, ""]


def _replace(path: Path, start: str, end: str, lines: list[str]) -> None:
    text = path.read_text()
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(head + start + "\n" + "\n".join(lines) + "\n" + end + tail)
    print(f"updated {path}")


def main() -> None:
    """Replace the results block of docs/atomsets.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tag", default="forests_kfold+clusters_gated")
    parser.add_argument("--atomsets-tag", default="atomsets_kfold+clusters")
    parser.add_argument("--forests-tag", default="forests_kfold+clusters")
    parser.add_argument("--first-tag", default="forests_kfold")
    args = parser.parse_args()
    psi = _load("psi_model.json")
    report = psi[f"report_{args.tag}"]
    atomsets = psi.get(f"report_{args.atomsets_tag}")
    lines = cv_tables(report, atomsets) + baseline_table(report) + bootstrap_table(report)
    lines += goals_table(report)
    tags = (args.first_tag, args.forests_tag, args.atomsets_tag, args.tag)
    reports = {t: psi[f"report_{t}"] for t in tags if f"report_{t}" in psi}
    lines += criterion_table(reports)
    lines += choices_table(report)
    lines += atomsets_search_table(atomsets, psi.get(f"report_{args.forests_tag}"))
    lines += calibration_lines(report)
    lines += gate_lines(_load("ml_gate_policy.json")) + speed_lines(_load("ml_stage_speed.json"))
    _replace(DOC, START, END, lines)
    if SOAP_START in SOAP_DOC.read_text():
        _replace(SOAP_DOC, SOAP_START, SOAP_END, soap_selection_lines(_load("soap_selection.json")))


if __name__ == "__main__":
    main()
