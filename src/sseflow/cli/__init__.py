"""The ``sseflow`` command line (typer)."""

from __future__ import annotations

from sseflow.cli import (  # noqa: F401  (commands register on import)
    candidates,
    cluster,
    screen,
    submit,
    train,
)
from sseflow.cli.app import app

cluster.register(app)
train.register(app)


def main() -> None:
    """Entry point of the ``sseflow`` console script."""
    app()


__all__ = ["app", "main"]
