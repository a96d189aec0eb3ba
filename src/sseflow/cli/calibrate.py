"""``sseflow calibrate-neb``: refit the MLIP barrier calibration on your own DFT records."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sseflow.cli._store import describe_store, open_store
from sseflow.cli.app import DataDirOption, DbUriOption, console, fail
from sseflow.store import candidate_repository

#: Fewest MLIP/DFT pairs per potential (sseflow.neb.calibration.MIN_PAIRS; the NEB
#: package is imported only when the command runs, to keep the CLI start fast).
MIN_PAIRS = 5


def calibrate_neb(
    out: Annotated[Path, typer.Option("--out", help="Calibration file to write (JSON).")],
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    min_pairs: Annotated[
        int, typer.Option("--min-pairs", help="Fewest MLIP/DFT pairs fitted per potential.")
    ] = MIN_PAIRS,
) -> None:
    """Fit E_dft = slope * E_mlip + intercept on candidates with both NEB tiers.

    Every candidate whose neb_mlip and neb_dft records converged on the same hops gives
    one pair, grouped by the potential that computed the MLIP barrier. The form of the
    line (none, shift, scale, free) is chosen by leave-one-out error and the whole fit
    checked leave-one-out, nested. Use the file with MLIPNEBMaker(calibration=FILE) (YAML:
    ``calibration: FILE``); without enough pairs the shipped calibration stays in use.
    """
    from sseflow.neb.calibration import (
        CalibrationError,
        CalibrationSet,
        fit_calibration,
        pairs_from_records,
    )

    repo = candidate_repository(open_store(data_dir, db_uri, write=False), read_only=True)
    records = list(repo.find({"tiers.neb_mlip": {"$exists": True}}))
    pairs, skipped = pairs_from_records(records)
    for line in skipped:
        console.print(f"[yellow]skipped[/] {line}")
    source = f"candidate records of {describe_store(data_dir, db_uri)}"
    fits = {}
    for name, items in sorted(pairs.items()):
        try:
            fits[name] = fit_calibration(name, items, source, min_pairs=min_pairs)
        except CalibrationError as exc:
            console.print(f"[yellow]not fitted[/] {exc}")
    if not fits:
        fail(
            f"no potential has {min_pairs} MLIP/DFT pairs in {source}: nothing written "
            "(the shipped calibration stays in use)"
        )
    CalibrationSet(fits, f"refitted by sseflow calibrate-neb on {source}").to_json(out)
    table = Table(
        "potential",
        "pairs",
        "form",
        "slope",
        "intercept",
        "LOO MAE (eV)",
        "raw MAE (eV)",
        "LOO Spearman",
    )
    for name, fit in fits.items():
        table.add_row(
            name,
            str(fit.n_pairs),
            fit.model,
            f"{fit.slope:.3f}",
            f"{fit.intercept:+.3f}",
            f"{fit.loo_mae_ev:.3f}",
            f"{fit.raw_mae_ev:.3f}",
            f"{fit.loo_spearman:.2f}",
        )
    console.print(table)
    console.print(f"written {out}; use it with MLIPNEBMaker(calibration={str(out)!r})")


def register(app: typer.Typer) -> None:
    """Add ``calibrate-neb`` to the sseflow CLI."""
    app.command("calibrate-neb")(calibrate_neb)
