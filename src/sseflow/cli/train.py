"""``sseflow train`` and ``sseflow evaluate``: the AtomSets classifier from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sseflow.cli.app import console, fail


def train(
    labels: Annotated[
        Path | None,
        typer.Argument(
            help="Label CSV (ID + 'Ionic conductivity (S cm-1)' or 'sigma_s_per_cm'; CIFs "
            "in cifs/ beside it). Default: the shipped OBELiX training split.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory of the new model artifact.")] = Path(
        "atomsets_model"
    ),
    seeds: Annotated[int, typer.Option(help="Seeds per hyperparameter set.")] = 3,
    sets: Annotated[
        str, typer.Option(help="Comma-separated CANDIDATE_HYPERPARAMETER_SETS indices.")
    ] = "3",
    epochs: Annotated[int | None, typer.Option(help="Override the epochs of every set.")] = None,
    simplification: Annotated[str, typer.Option(help="CAMNS, CAMN, CAN or CANS.")] = "CAMNS",
    level: Annotated[int, typer.Option(help="MEGNet feature level (0 or 1).")] = 1,
    cv: Annotated[bool, typer.Option("--cv/--no-cv", help="Cross-validate first.")] = True,
    model_version: Annotated[
        str, typer.Option(help="Name stored in the manifest.")
    ] = "atomsets_user",
) -> None:
    """Train an AtomSets ensemble and save it as a versioned model artifact."""
    import dataclasses

    from jobflow import run_locally

    from sseflow.ml.atomsets.model import (
        CANDIDATE_HYPERPARAMETER_SETS,
        FeatureSettings,
        default_training_table,
    )
    from sseflow.ml.atomsets.training import AtomSetsTrainingMaker

    label_table = labels or default_training_table()
    if not Path(label_table).is_file():
        fail(f"label table {label_table} not found")
    try:
        hypers = [CANDIDATE_HYPERPARAMETER_SETS[int(k)] for k in sets.split(",")]
    except (ValueError, IndexError):
        fail(f"--sets must be indices 0..{len(CANDIDATE_HYPERPARAMETER_SETS) - 1}, got {sets!r}")
    if epochs is not None:
        hypers = [dataclasses.replace(h, epochs=epochs) for h in hypers]
    if simplification not in ("CAMNS", "CAMN", "CAN", "CANS") or level not in (0, 1):
        fail("--simplification must be CAMNS, CAMN, CAN or CANS and --level 0 or 1")
    maker = AtomSetsTrainingMaker(
        feature_settings=FeatureSettings(level=level, simplification=simplification),
        hyperparameter_sets=hypers,
        seeds=list(range(seeds)),
        cross_validate=cv,
        model_version=model_version,
    )
    flow = maker.make(label_table, out)
    responses = run_locally(flow, log=False, ensure_success=False)
    result = responses.get(flow.jobs[-1].uuid, {})
    output = next(iter(result.values())).output if result else None
    if not output:
        fail("training failed; see the log above")
    console.print(f"saved {output['n_members']}-member ensemble to {output['model_dir']}")


def evaluate(
    labels: Annotated[Path, typer.Argument(help="Labelled CSV (same format as for train).")],
    model: Annotated[
        Path | None, typer.Option(help="Model artifact directory (default: shipped model).")
    ] = None,
) -> None:
    """Score a labelled set and print AUC-PR, MCC and the confusion matrix."""
    import numpy as np
    from rich.table import Table
    from sklearn.metrics import confusion_matrix

    from sseflow.ml.atomsets.model import (
        AtomSetsEnsemble,
        load_default_ensemble,
        load_label_table,
        score_structures,
    )
    from sseflow.ml.evaluation import binary_metrics

    if not labels.is_file():
        fail(f"label table {labels} not found")
    try:
        data = load_label_table(labels)
    except ValueError as exc:
        fail(str(exc))
    ensemble = AtomSetsEnsemble.load(model) if model else load_default_ensemble()
    scores = score_structures(data.structures, ensemble)
    ok = [i for i, s in enumerate(scores) if not isinstance(s, Exception)]
    for i, s in enumerate(scores):
        if isinstance(s, Exception):
            console.print(f"[yellow]skipped {data.ids[i]}: {s}[/]")
    if not ok:
        fail("no structure could be scored")
    y = data.labels[ok]
    p = np.array([scores[i].p_si for i in ok])
    metrics = binary_metrics(y, p)
    console.print(
        f"model {ensemble.model_version}: {len(ok)} structures, {int(y.sum())} superionic"
    )
    console.print(f"AUC-PR = {metrics['auc_pr']:.3f}   MCC = {metrics['mcc']:.3f}")
    cm = confusion_matrix(y, (p >= 0.5).astype(int), labels=[0, 1])
    table = Table(title="confusion matrix (threshold P_SI = 0.5)")
    table.add_column("")
    table.add_column("predicted not SI", justify="right")
    table.add_column("predicted SI", justify="right")
    table.add_row("actual not SI", str(cm[0, 0]), str(cm[0, 1]))
    table.add_row("actual SI", str(cm[1, 0]), str(cm[1, 1]))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``evaluate`` to the sseflow CLI."""
    app.command("train")(train)
    app.command("evaluate")(evaluate)
