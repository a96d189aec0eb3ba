"""The ``sseflow`` command line (typer)."""

from __future__ import annotations

# these modules register their commands on import
from sseflow.cli import (  # noqa: F401
    calibrate,
    candidates,
    cluster,
    index,
    report,
    screen,
    submit,
    train,
)
from sseflow.cli.app import app

cluster.register(app)
train.register(app)
index.register(app)
report.register(app)
calibrate.register(app)


def main() -> None:
    """Entry point of the ``sseflow`` console script."""
    app()


__all__ = ["app", "main"]
