"""The ``sseflow`` command line (typer)."""

from __future__ import annotations

# candidates and screen register their commands on import
from sseflow.cli import candidates, cluster, index, report, screen, train  # noqa: F401
from sseflow.cli.app import app

cluster.register(app)
train.register(app)
index.register(app)
report.register(app)


def main() -> None:
    """Entry point of the ``sseflow`` console script."""
    app()


__all__ = ["app", "main"]
