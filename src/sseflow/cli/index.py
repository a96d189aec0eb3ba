"""``sseflow index``: create the indexes candidate queries use."""

from __future__ import annotations

from typing import Annotated

import typer

from sseflow.cli._store import open_store
from sseflow.cli.app import EXIT_USAGE, DataDirOption, DbUriOption, console, fail
from sseflow.store import candidate_repository
from sseflow.store.fields import FieldNameError, field_path
from sseflow.store.indexes import is_embedded, list_indexes


def index(
    data_dir: DataDirOption = None,
    db_uri: DbUriOption = None,
    tier: Annotated[
        list[str] | None, typer.Option("--tier", help="Also index tiers.TIER.status (repeatable).")
    ] = None,
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="Also index this record path or alias (repeatable)."),
    ] = None,
) -> None:
    """Create the indexes candidate queries use (the funnel also does it when it runs).

    On MongoDB: a unique index on candidate_id and single-field indexes on the filtered
    and sorted fields. The embedded store has no indexes: nothing to do, exit code 0.
    """
    try:
        extra = [field_path(f"tiers.{t}.status") for t in tier or ()]
        extra += [field_path(f) for f in field or ()]
    except FieldNameError as exc:
        fail(str(exc), EXIT_USAGE)
    repo = candidate_repository(open_store(data_dir, db_uri, write=True), read_only=False)
    result = repo.ensure_indexes(extra)
    if is_embedded(repo.collection):
        console.print(
            "the embedded store (montydb) has no indexes; queries scan the collection "
            f"({len(result.skipped)} indexes skipped)"
        )
        return
    console.print(
        f"{len(result.created)} indexed field(s); candidate_id unique: "
        f"{'yes' if result.unique_candidate_id else 'no'}"
    )
    for name, reason in result.skipped.items():
        console.print(f"[yellow]skipped[/] {name}: {reason}")
    console.print(f"indexes now: {', '.join(sorted(list_indexes(repo.collection)))}")


def register(app: typer.Typer) -> None:
    """Add ``index`` to the sseflow CLI."""
    app.command("index")(index)
