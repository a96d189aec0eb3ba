"""``sseflow train`` and ``sseflow evaluate``: the P_SI model from the shell."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sseflow.cli.app import console, err_console, fail

if TYPE_CHECKING:
    from sseflow.ml.atomsets.featurization import FeatureSettings
    from sseflow.ml.labels import LabelTable


def _variants(specs: list[str] | None) -> list[FeatureSettings]:
    from sseflow.ml.atomsets.featurization import SIMPLIFICATIONS, FeatureSettings
    from sseflow.ml.atomsets.selection import FEATURE_VARIANTS

    if not specs:
        return list(FEATURE_VARIANTS)
    out = []
    for spec in specs:
        level, _, simplification = spec.upper().partition(":")
        if level not in ("V0", "V1") or simplification not in SIMPLIFICATIONS:
            fail(
                f"--variant {spec!r}: use V0 or V1 and one of {', '.join(SIMPLIFICATIONS)}, "
                "e.g. V0:CAN"
            )
        out.append(FeatureSettings(int(level[1]), simplification))
    return out


def train(
    labels: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Label CSV(s): OBELiX form (ID, 'Ionic conductivity (S cm-1)', CIFs beside "
            "it or in cifs/) or simple form (id, sigma_s_per_cm, cif_path); several are "
            "read as one table. Rows without a structure train the composition component. "
            "Default: the shipped OBELiX training split.",
            show_default=False,
        ),
    ] = None,
    with_shipped: Annotated[
        bool,
        typer.Option(
            "--with-shipped",
            help="Add the shipped OBELiX training split (478 rows) to your labels: e.g. a "
            "few measured compounds of a chemistry unlike OBELiX.",
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", help="Directory of the new model artifact.")] = Path(
        "psi_model"
    ),
    variant: Annotated[
        list[str] | None,
        typer.Option(help="MEGNet features searched, e.g. V0:CAN (repeat). Default: all six."),
    ] = None,
    atomsets: Annotated[
        int, typer.Option(help="AtomSets configurations in the random search (0: none).")
    ] = 20,
    pooled: Annotated[int, typer.Option(help="Pooled-feature forest configurations.")] = 12,
    composition: Annotated[
        int, typer.Option(help="Composition forest configurations (of a grid of 16).")
    ] = 16,
    trees: Annotated[int, typer.Option(help="Trees per forest (at most).")] = 300,
    seeds: Annotated[int, typer.Option(help="Seeds per chosen AtomSets configuration.")] = 3,
    max_epochs: Annotated[
        int | None, typer.Option(help="Cap the epochs of every AtomSets configuration.")
    ] = None,
    inner_folds: Annotated[int, typer.Option(help="Inner CV folds of every choice.")] = 3,
    cv: Annotated[
        bool, typer.Option("--cv/--no-cv", help="Nested CV of the whole recipe first (slow).")
    ] = False,
    loco: Annotated[
        bool, typer.Option("--loco/--no-loco", help="With --cv: leave-one-cluster-out too.")
    ] = True,
    model_version: Annotated[str, typer.Option(help="Name stored in the manifest.")] = "psi_user",
    verbose: VerboseOption = False,
) -> None:
    """Choose and train a P_SI model by nested CV and save it as a versioned artifact."""
    from sseflow.ml.atomsets.features import quiet_tensorflow

    quiet_tensorflow(not verbose)
    from jobflow import run_locally

    from sseflow.ml.atomsets.selection import SelectionSettings
    from sseflow.ml.atomsets.training import AtomSetsTrainingMaker
    from sseflow.ml.labels import default_training_table

    tables = list(labels or [])
    if with_shipped or not tables:
        tables.append(default_training_table())
    _combined_labels(tables)  # a bad row or an id in two tables is reported here
    if min(pooled, seeds, composition, trees) < 1 or atomsets < 0 or inner_folds < 2:
        fail(
            "--pooled, --composition, --trees and --seeds must be >= 1, --atomsets >= 0 "
            "and --inner-folds >= 2"
        )
    settings = SelectionSettings(
        inner_folds=inner_folds,
        n_pooled=pooled,
        n_atomsets=atomsets,
        keep_after_first_fold=max(1, min(6, atomsets)),
        seeds=tuple(range(seeds)),
        max_epochs=max_epochs,
        variants=tuple(_variants(variant)),
        n_composition=composition,
        max_trees=trees,
    )
    maker = AtomSetsTrainingMaker(
        selection=settings, cross_validate=cv, loco=loco, model_version=model_version
    )
    flow = maker.make(tables[0] if len(tables) == 1 else tables, out)
    status = console.status("choosing and training the P_SI model (minutes to hours)")
    with status, warnings.catch_warnings():
        if not verbose:  # third-party deprecation notes are not for the user
            warnings.simplefilter("ignore")
        responses = run_locally(flow, log=verbose, ensure_success=False)
    result = responses.get(flow.jobs[-1].uuid, {})
    output = next(iter(result.values())).output if result else None
    if not output:
        fail("training failed; run again with --verbose to see why")
    console.print(
        f"saved the P_SI model ({output['structure_family']} structure component) "
        f"to {output['model_dir']}"
    )


VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show TensorFlow's own log output.")
]


def _combined_labels(paths: list[Path]) -> LabelTable:
    """Read every table (rows with a structure or a composition) and combine them."""
    from sseflow.ml.labels import LabelTableError, combine_label_tables

    tables = [_read_labels(path, require_structures=False) for path in paths]
    if not any(table.has_structure.any() for table in tables):
        fail("no row with a structure: the structure component needs some")
    try:
        return combine_label_tables(tables)
    except LabelTableError as exc:
        fail(str(exc))


def _read_labels(path: Path, require_structures: bool = True) -> LabelTable:
    from sseflow.ml.labels import LabelTableError, load_label_table

    try:
        return load_label_table(path, require_structures=require_structures)
    except LabelTableError as exc:
        fail(str(exc))


def score_rows(data: LabelTable, scores: list[Any]) -> list[dict[str, Any]]:
    """Return one JSON-ready row per labelled structure: label, P_SI or the reason it failed."""
    rows = []
    for i, score in enumerate(scores):
        row: dict[str, Any] = {
            "id": data.ids[i],
            "formula": data.formulas[i],
            "sigma_s_per_cm": float(data.sigma_s_per_cm[i]),
            "is_upper_bound": bool(data.is_upper_bound[i]),
            "superionic": int(data.labels[i]),
        }
        if isinstance(score, Exception):
            row.update(
                p_si=None,
                p_si_std=None,
                p_si_composition=None,
                p_si_structure=None,
                d_training=None,
                d_composition=None,
                error=str(score),
            )
        else:
            row.update(score.rounded(), error=None)
        rows.append(row)
    return rows


def _write_rows(rows: list[dict[str, Any]], path: Path, fmt: str) -> None:
    """Write per-structure rows as JSON or CSV to ``path`` (``-``: standard output)."""
    import csv
    import io
    import json

    if fmt == "json":
        text = json.dumps(rows, indent=1) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if str(path) == "-":
        sys.stdout.write(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _summary(rows: list[dict[str, Any]], model_version: str, out: Console) -> None:
    """Print AUC-PR, MCC, the confusion matrix and the per-structure table."""
    import numpy as np
    from rich.table import Table
    from sklearn.metrics import confusion_matrix

    from sseflow.ml.evaluation import binary_metrics

    ok = [r for r in rows if r["p_si"] is not None]
    y = np.array([r["superionic"] for r in ok])
    p = np.array([r["p_si"] for r in ok])
    metrics = binary_metrics(y, p)
    out.print(f"model {model_version}: {len(ok)} structures, {int(y.sum())} superionic")
    out.print(f"AUC-PR = {metrics['auc_pr']:.3f}   MCC = {metrics['mcc']:.3f}")
    cm = confusion_matrix(y, (p >= 0.5).astype(int), labels=[0, 1])
    table = Table(title="confusion matrix (threshold P_SI = 0.5)")
    table.add_column("")
    table.add_column("predicted not SI", justify="right")
    table.add_column("predicted SI", justify="right")
    table.add_row("actual not SI", str(cm[0, 0]), str(cm[0, 1]))
    table.add_row("actual SI", str(cm[1, 0]), str(cm[1, 1]))
    out.print(table)
    scores = Table(title="per structure")
    for column in ("id", "formula", "sigma (S/cm)", "superionic", "P_SI", "std", "d_training"):
        scores.add_column(column, no_wrap=column == "id")
    for r in rows:
        if r["p_si"] is None:
            sigma = f"{r['sigma_s_per_cm']:.2g}"
            scores.add_row(r["id"], r["formula"], sigma, "", "failed", "", "")
            continue
        scores.add_row(
            r["id"],
            r["formula"],
            ("<" if r["is_upper_bound"] else "") + f"{r['sigma_s_per_cm']:.2g}",
            "yes" if r["superionic"] else "no",
            f"{r['p_si']:.3f}",
            f"{r['p_si_std']:.3f}",
            f"{r['d_training']:.2f}",
        )
    out.print(scores)


def evaluate(
    labels: Annotated[
        Path,
        typer.Argument(
            help="Label CSV: OBELiX form (ID, 'Ionic conductivity (S cm-1)', CIFs beside it "
            "or in cifs/) or simple form (id, sigma_s_per_cm, cif_path)."
        ),
    ],
    model: Annotated[
        Path | None, typer.Option(help="Model artifact directory (default: shipped model).")
    ] = None,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write per-structure scores as JSON here ('-': stdout)."),
    ] = None,
    csv_out: Annotated[
        Path | None,
        typer.Option("--csv", help="Write per-structure scores as CSV here ('-': stdout)."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Score a labelled set: AUC-PR, MCC, the confusion matrix and every structure's P_SI."""
    from sseflow.ml.atomsets.features import quiet_tensorflow

    quiet_tensorflow(not verbose)
    from sseflow.ml.atomsets.ensemble import ModelArtifactError
    from sseflow.ml.atomsets.scoring import load_model, score_structures

    if json_out is not None and csv_out is not None and str(json_out) == str(csv_out) == "-":
        fail("--json - and --csv - cannot both go to standard output")
    everything = _read_labels(labels, require_structures=False)
    data = everything.with_structures()
    # with '-' the table goes to stderr so that stdout holds only the JSON/CSV
    out = err_console if "-" in (str(json_out), str(csv_out)) else console
    if len(data) < len(everything):
        err_console.print(
            f"[yellow]{len(everything) - len(data)} row(s) without a structure not scored[/] "
            "(P_SI needs a structure)"
        )
    if not len(data):
        fail("no row of the table has a structure")
    try:
        psi_model = load_model(model)
    except ModelArtifactError as exc:
        fail(str(exc))
    scores = score_structures(data.structures, psi_model)
    for i, s in enumerate(scores):
        if isinstance(s, Exception):
            err_console.print(f"[yellow]skipped {data.ids[i]}: {s}[/]")
    rows = score_rows(data, scores)
    if all(r["p_si"] is None for r in rows):
        fail("no structure could be scored")
    _summary(rows, psi_model.model_version, out)
    if json_out is not None:
        _write_rows(rows, json_out, "json")
    if csv_out is not None:
        _write_rows(rows, csv_out, "csv")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the sseflow CLI."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
