"""``sseflow candidates`` and ``sseflow show``: query candidate records."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sseflow.cli._store import open_candidates
from sseflow.cli.app import DataDirOption, DbUriOption, app, console, fail, id_table
from sseflow.store.queries import candidate_query


@app.command()
def candidates(
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    tier: Annotated[str | None, typer.Option(help="Only candidates that reached TIER.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="passed/rejected/failed/pending (of --tier, else overall)."),
    ] = None,
    formula: Annotated[str | None, typer.Option(help="Reduced formula, e.g. Li3N.")] = None,
    element: Annotated[
        list[str] | None, typer.Option("--element", "-e", help="Must contain (repeatable).")
    ] = None,
    min_ea: Annotated[float | None, typer.Option(help="Lowest BVSE barrier, eV.")] = None,
    max_ea: Annotated[float | None, typer.Option(help="Highest BVSE barrier, eV.")] = None,
    dimension: Annotated[str, typer.Option(help="Barrier used by --min/max-ea.")] = "1D",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many (0 = all).")] = 0,
) -> None:
    """List candidate records matching the filters, lowest BVSE barrier first."""
    if dimension not in ("1D", "2D", "3D"):
        fail("--dimension must be 1D, 2D or 3D")
    ea_field = f"tiers.bvse.ea_{dimension.lower()}_ev"
    ranges = {ea_field: (min_ea, max_ea)} if (min_ea is not None or max_ea is not None) else {}
    query = candidate_query(tier, status, formula, element, ranges)
    repo = open_candidates(data_dir, db_uri)
    records = list(repo.find(query, limit=limit, projection={"structure": 0}))
    records.sort(
        key=lambda r: (_ea(r, ea_field) is None, _ea(r, ea_field) or 0.0, r["candidate_id"])
    )
    if as_json:
        for rec in records:
            typer.echo(json.dumps(rec, default=str))
        return
    table = id_table(
        "candidate_id", "formula", "status", "last tier", f"E_{dimension} (eV)", "reason"
    )
    for rec in records:
        ea = _ea(rec, ea_field)
        table.add_row(
            rec["candidate_id"],
            rec.get("formula") or "-",
            rec.get("status", "?"),
            rec.get("last_tier") or "-",
            "-" if ea is None else f"{ea:.3f}",
            (rec.get("reason") or "")[:70],
        )
    console.print(table)
    console.print(f"{len(records)} candidate(s)")


def _ea(record: dict, path: str) -> float | None:
    value: object = record
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, int | float) else None


@app.command()
def show(
    candidate_id: Annotated[str, typer.Argument(help="Candidate id, e.g. sse-1a2b3c4d5e6f.")],
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    structure: Annotated[bool, typer.Option(help="Include the structure.")] = False,
) -> None:
    """Print one candidate record as JSON (exit code 1 if there is none)."""
    repo = open_candidates(data_dir, db_uri)
    record = repo.get(candidate_id)
    if record is None:
        fail(f"no candidate {candidate_id!r}")
    if not structure:
        record.pop("structure", None)
    typer.echo(json.dumps(record, indent=2, default=str))
