"""The ``sseflow`` command line (typer)."""

from __future__ import annotations

import os
import sys

# these modules register their commands on import
from sseflow.cli import (  # noqa: F401
    calibrate,
    candidates,
    cluster,
    export,
    index,
    report,
    resume,
    screen,
    submit,
    train,
)
from sseflow.cli.app import app

cluster.register(app)
export.register(app)
train.register(app)
index.register(app)
report.register(app)
calibrate.register(app)


def _stdout_closed() -> bool:
    """Return True when standard output is a pipe whose reader has gone (``| head``)."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & select.POLLERR for _, event in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def main() -> None:
    """Entry point of the ``sseflow`` console script.

    A reader that stops reading early (``sseflow candidates | head``) is not an error:
    the command stops quietly with exit code 0.
    """
    try:
        app()
    except SystemExit as exit_:
        if exit_.code not in (0, None) and _stdout_closed():
            # nothing more can be written: silence the final flush and end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(0) from None
        raise


__all__ = ["app", "main"]
