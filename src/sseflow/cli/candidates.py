"""``sseflow candidates`` and ``sseflow show``: query candidate records (read-only)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from sseflow.cli._store import open_candidates
from sseflow.cli.app import (
    EXIT_USAGE,
    DataDirOption,
    DbUriOption,
    app,
    console,
    err_console,
    fail,
)
from sseflow.store.fields import (
    DEFAULT_NEB_TIER,
    RANK_FIELD,
    FieldNameError,
    bvse_path,
    field_label,
    field_path,
    neb_path,
    record_value,
)
from sseflow.store.queries import (
    QueryError,
    candidate_query,
    inclusion_projection,
    matches,
    parse_where,
    split_computed,
)
from sseflow.store.rank import HEAVY_FIELDS, rank_records

P_SI_PATH = field_path("p_si")
NEB_PATHS = (neb_path("neb_mlip"), neb_path("neb_dft"))


class OutputFormat(StrEnum):
    """How ``sseflow candidates`` prints records."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def default_columns(ea_path: str, neb: str) -> list[str]:
    """Return the default columns: rank, identity, status, BVSE barrier, P_SI, NEB barriers."""
    nebs = list(dict.fromkeys([neb, *NEB_PATHS]))
    return [
        RANK_FIELD,
        "candidate_id",
        "formula",
        "status",
        "last_tier",
        ea_path,
        P_SI_PATH,
        *nebs,
        "reason",
    ]


def store_ranks(repo: Any) -> dict[str, int]:
    """Return candidate id -> funnel rank over the whole store (unranked left out)."""
    rows = rank_records(repo.find({}, projection=dict.fromkeys(HEAVY_FIELDS, 0)))
    return {row.candidate_id: row.rank for row in rows if row.rank is not None}


def format_cell(value: Any, path: str = "") -> str:
    """Return a value as table text (floats to 3 decimals, None as '-')."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, list):
        return ", ".join(format_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    text = str(value)
    return text[:70] if path == "reason" else text


def csv_cell(value: Any) -> str:
    """Return a value as CSV text (full precision, empty for None)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return ";".join(csv_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _fields(fields: str | None, dimension: str, neb_tier: str) -> list[str] | None:
    if not fields:
        return None
    return [field_path(name, dimension, neb_tier) for name in fields.split(",") if name.strip()]


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
    exclude_element: Annotated[
        list[str] | None,
        typer.Option("--exclude-element", "-x", help="Must not contain (repeatable)."),
    ] = None,
    min_p_si: Annotated[float | None, typer.Option(help="Lowest AtomSets P_SI.")] = None,
    max_p_si: Annotated[float | None, typer.Option(help="Highest AtomSets P_SI.")] = None,
    min_ea: Annotated[float | None, typer.Option(help="Lowest BVSE barrier, eV.")] = None,
    max_ea: Annotated[float | None, typer.Option(help="Highest BVSE barrier, eV.")] = None,
    dimension: Annotated[
        str, typer.Option(help="BVSE barrier of --min/max-ea and the 'ea' field: 1D, 2D, 3D.")
    ] = "1D",
    min_neb: Annotated[float | None, typer.Option(help="Lowest NEB barrier, eV.")] = None,
    max_neb: Annotated[float | None, typer.Option(help="Highest NEB barrier, eV.")] = None,
    neb_tier: Annotated[
        str, typer.Option(help="NEB tier of --min/max-neb and the 'neb' field.")
    ] = DEFAULT_NEB_TIER,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            "-w",
            help="FIELD<op>VALUE, op one of <= >= < > = != (repeatable), e.g. "
            "'tiers.bvse.wall_time_s<60' or 'p_si>=0.5'.",
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            help="Sort field: rank (the funnel rank: deepest tier passed, then the most "
            "faithful barrier), ea, p_si, neb, formula, id, updated, status, tier or a "
            "dotted path. Records without a value come last.",
        ),
    ] = RANK_FIELD,
    desc: Annotated[bool, typer.Option("--desc", help="Sort largest first.")] = False,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = (
        OutputFormat.TABLE
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fields: Annotated[
        str | None,
        typer.Option(help="Comma-separated columns (aliases or dotted paths), e.g. id,ea,p_si."),
    ] = None,
    structure: Annotated[
        bool, typer.Option(help="Include the structure (JSON without --fields).")
    ] = False,
    limit: Annotated[int, typer.Option(help="At most this many (0 = all).")] = 0,
) -> None:
    """List candidate records matching all filters, best funnel rank first by default.

    The rank (column #) is over the whole store: deepest tier passed, then the most
    faithful barrier (DFT, MLIP, BVSE), then P_SI. Other sort fields are sorted by the
    database. JSON output is one record per line (JSON Lines, with "rank"); CSV has a
    header row of record paths. Never writes to the database.
    """
    output = OutputFormat.JSON if as_json else output
    dimension = dimension.upper()
    try:
        ea_path = bvse_path(dimension)
        neb = neb_path(neb_tier)
        ranges = {
            path: (low, high)
            for path, low, high in (
                (ea_path, min_ea, max_ea),
                (P_SI_PATH, min_p_si, max_p_si),
                (neb, min_neb, max_neb),
            )
            if low is not None or high is not None
        }
        conditions, rank_conditions = split_computed(
            [parse_where(w, dimension, neb_tier) for w in where or ()]
        )
        query = candidate_query(tier, status, formula, element, ranges, exclude_element, conditions)
        sort_path = field_path(sort, dimension, neb_tier)
        columns = _fields(fields, dimension, neb_tier)
    except (QueryError, FieldNameError) as exc:
        fail(str(exc), EXIT_USAGE)
    if limit < 0:
        fail("--limit must be >= 0", EXIT_USAGE)

    by_rank = sort_path == RANK_FIELD
    need_rank = by_rank or bool(rank_conditions) or RANK_FIELD in (columns or [])
    if output is OutputFormat.JSON and columns is None:
        projection = None if structure else {"structure": 0}
    else:
        columns = columns or default_columns(ea_path, neb)
        need_rank = need_rank or RANK_FIELD in columns
        projection = inclusion_projection([c for c in [*columns, sort_path] if c != RANK_FIELD])
    repo = open_candidates(data_dir, db_uri)
    try:
        ranks = store_ranks(repo) if need_rank else {}
        if by_rank or rank_conditions:  # computed: filter and sort here, not in the database
            records = list(repo.find(query, projection=projection))
            for record in records:
                record[RANK_FIELD] = ranks.get(record["candidate_id"])
            records = [
                r
                for r in records
                if all(matches(r[RANK_FIELD], op, value) for _, op, value in rank_conditions)
            ]
            if by_rank:
                ranked = sorted(
                    (r for r in records if r[RANK_FIELD] is not None),
                    key=lambda r: r[RANK_FIELD],
                    reverse=desc,
                )
                rest = sorted(
                    (r for r in records if r[RANK_FIELD] is None), key=lambda r: r["candidate_id"]
                )
                records = ranked + rest
            total = len(records)
            records = records[:limit] if limit else records
        else:
            records = list(repo.find_sorted(query, sort_path, desc, limit, projection))
            total = repo.count(query) if limit and len(records) == limit else len(records)
            for record in records if need_rank else ():
                record[RANK_FIELD] = ranks.get(record["candidate_id"])
    except Exception as exc:  # a query the backend refuses (bad operator value, ...)
        fail(f"query failed: {type(exc).__name__}: {exc}")

    if output is OutputFormat.JSON or columns is None:
        for record in records:
            typer.echo(json.dumps(record, default=str))
    elif output is OutputFormat.CSV:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for record in records:
            writer.writerow([csv_cell(record_value(record, c)) for c in columns])
    else:
        _print_table(records, columns, sort_path, explicit=fields is not None)
        shown = f"{len(records)} of {total}" if total > len(records) else str(total)
        console.print(f"{shown} candidate(s)")
    no_neb_yet = not records and neb in ranges and neb_tier == DEFAULT_NEB_TIER
    if no_neb_yet and repo.count({f"tiers.{neb_tier}": {"$exists": True}}) == 0:
        err_console.print(
            f"no record has a {neb_tier} barrier yet; --neb-tier neb_mlip filters on "
            "the CHGNet pre-tier"
        )


def _print_table(
    records: list[dict[str, Any]], columns: list[str], sort_path: str, explicit: bool
) -> None:
    if not explicit:  # optional columns only when some record has a value
        optional = {P_SI_PATH, *NEB_PATHS}
        columns = [
            c
            for c in columns
            if c not in optional or any(record_value(r, c) is not None for r in records)
        ]
        if sort_path not in columns:
            columns.insert(-1, sort_path)
    # laid out for 80 columns: short cells never wrap, the reason takes what is left
    table = Table(
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        caption="energies (E_*, MLIP, DFT, gap) in eV; # = funnel rank in the store",
        caption_justify="left",
    )
    for column in columns:
        if column == "reason":
            table.add_column(field_label(column), overflow="fold", ratio=1, min_width=12)
        elif column == "formula":
            table.add_column(field_label(column), overflow="fold", min_width=8, max_width=12)
        else:
            numeric = column == RANK_FIELD or column.endswith(("_ev", "p_si"))
            table.add_column(
                field_label(column), no_wrap=True, justify="right" if numeric else "left"
            )
    for record in records:
        table.add_row(*(format_cell(record_value(record, c), c) for c in columns))
    console.print(table)


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
