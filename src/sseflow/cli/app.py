"""The typer application and options shared by all sseflow commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from sseflow import __version__

app = typer.Typer(
    name="sseflow",
    help="Screen Li-containing crystals as solid electrolytes (ML -> BVSE -> CI-NEB).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

#: Exit codes a shell script can rely on.
EXIT_OK = 0
EXIT_ERROR = 1  # bad input, missing record, failed run
EXIT_USAGE = 2  # wrong command-line usage (typer/click's own code)

DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Folder of the embedded store (env SSEFLOW_DATA_DIR; default ./sseflow-data).",
        show_default=False,
    ),
]
DbUriOption = Annotated[
    str | None,
    typer.Option(
        "--db-uri",
        help="MongoDB URI; overrides --data-dir (env SSEFLOW_DB_URI).",
        show_default=False,
    ),
]


def id_table(*columns: str) -> Table:
    """Return a table whose first column (candidate ids) never wraps."""
    table = Table()
    table.add_column(columns[0], no_wrap=True)
    for column in columns[1:]:
        table.add_column(column, overflow="fold")
    return table


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print an error on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def version_callback(value: bool) -> None:
    """Print the version and exit."""
    if value:
        console.print(f"sseflow {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=version_callback, is_eager=True, help="Show version."),
    ] = False,
) -> None:
    """Screen Li-containing crystals as solid electrolytes."""
