"""``sseflow export``: the top candidates' structures and numbers, for your own codes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from sseflow.cli._store import open_candidates
from sseflow.cli.app import EXIT_USAGE, DataDirOption, DbUriOption, console, fail


class ExportFormat(StrEnum):
    """File format of exported structures."""

    CIF = "cif"
    POSCAR = "poscar"
    EXTXYZ = "extxyz"


def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write to.")],
    top: Annotated[int, typer.Option(help="How many candidates, best first (0 = all).")] = 10,
    tier: Annotated[
        str | None,
        typer.Option(
            help="Only candidates that reached this tier, e.g. neb_mlip.", show_default=False
        ),
    ] = None,
    file_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="Structure file format.")
    ] = ExportFormat.CIF,
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
) -> None:
    """Write the best candidates' structures and a CSV of their numbers to OUT.

    Per candidate (folder <rank>_<formula>_<id>): the input structure (CIF when it is
    disordered), the ordered cell, and for each CI-NEB tier the NEB supercell, the two
    endpoints with the Li vacancy and every image. candidates.csv holds rank, P_SI,
    SOAP selection, band gap, BVSE barriers, MLIP and DFT barriers and the outcome.
    Candidates are taken in funnel rank (as `sseflow candidates` lists them). Never
    writes to the database.
    """
    from sseflow.report.export import (
        ExportError,
        csv_row,
        export_candidate,
        folder_name,
        write_numbers_csv,
    )
    from sseflow.store.rank import HEAVY_FIELDS, rank_records

    if top < 0:
        fail("--top must be >= 0", EXIT_USAGE)
    repo = open_candidates(data_dir, db_uri)
    query = {f"tiers.{tier}": {"$exists": True}} if tier else {}
    rows = [
        r
        for r in rank_records(repo.find(query, projection=dict.fromkeys(HEAVY_FIELDS, 0)))
        if r.rank is not None
    ]
    if top:
        rows = rows[:top]
    if not rows:
        where = f" that reached {tier}" if tier else ""
        fail(f"no ranked candidate{where} in the store: nothing to export")
    out.mkdir(parents=True, exist_ok=True)
    numbers = []
    n_files = 0
    for row in rows:
        record = repo.get(row.candidate_id) or {}
        try:
            folder, files = export_candidate(record, row, out, file_format.value)
        except ExportError as exc:
            console.print(f"[yellow]skipped[/] {row.candidate_id}: {exc}")
            numbers.append(csv_row(record, row, ""))
            continue
        n_files += len(files)
        numbers.append(csv_row(record, row, folder.name))
        console.print(f"{row.rank:>3} {folder_name(row)}: {len(files)} file(s)", highlight=False)
    table = write_numbers_csv(numbers, out / "candidates.csv")
    console.print(
        f"{len(rows)} candidate(s), {n_files} structure file(s) in {out}; numbers: {table}"
    )


def register(app: typer.Typer) -> None:
    """Add ``export`` to the sseflow CLI."""
    app.command("export")(export)
