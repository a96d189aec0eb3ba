"""The ``sseflow`` command line (typer)."""

from __future__ import annotations

from sseflow.cli import candidates, cluster, screen  # noqa: F401  (commands register on import)
from sseflow.cli.app import app

cluster.register(app)


def main() -> None:
    """Entry point of the ``sseflow`` console script."""
    app()


__all__ = ["app", "main"]
