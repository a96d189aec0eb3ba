"""Find and open the FireWorks LaunchPad the way FireWorks' own commands do.

``lpad``, ``rlaunch`` and ``qlaunch`` read ``my_launchpad.yaml`` from the path given with
``-l``, else from ``LAUNCHPAD_LOC`` / ``CONFIG_FILE_DIR`` of ``FW_config.yaml`` (found
through ``FW_CONFIG_FILE``), else from the working directory. ``sseflow submit`` follows
the same rules, except that it refuses to fall back to FireWorks' built-in default
(an unauthenticated ``localhost:27017``): a workflow added to an unintended database is
hard to notice.
"""

from __future__ import annotations

from pathlib import Path

from fireworks import LaunchPad

from sseflow.store.jobstore import redact_uri


class LaunchPadConfigError(RuntimeError):
    """No LaunchPad file was found, it cannot be read, or the server does not answer."""


def launchpad_file(path: str | Path | None = None) -> Path:
    """Return the LaunchPad file FireWorks would use.

    Parameters
    ----------
    path
        Explicit file (like ``lpad -l``); default: FireWorks' ``LAUNCHPAD_LOC``.

    Raises
    ------
    LaunchPadConfigError
        If no file is given or configured, or it does not exist.
    """
    if path is None:
        from fireworks.fw_config import LAUNCHPAD_LOC  # resolved by FireWorks at import

        if not LAUNCHPAD_LOC:
            raise LaunchPadConfigError(
                "no LaunchPad file: pass --launchpad my_launchpad.yaml, or set "
                "FW_CONFIG_FILE to an FW_config.yaml whose CONFIG_FILE_DIR holds "
                "my_launchpad.yaml (templates in config/fireworks/)"
            )
        path = LAUNCHPAD_LOC
    file = Path(path).expanduser()
    if not file.is_file():
        raise LaunchPadConfigError(f"LaunchPad file {str(file)!r} does not exist")
    return file


def load_launchpad(path: str | Path | None = None, ping: bool = True) -> LaunchPad:
    """Open the LaunchPad of ``path`` (see :func:`launchpad_file`).

    Parameters
    ----------
    path
        ``my_launchpad.yaml``; default: FireWorks' configured file.
    ping
        Check that the server answers (raises rather than waiting in ``add_wf``).

    Raises
    ------
    LaunchPadConfigError
        With a message that never contains the password.
    """
    file = launchpad_file(path)
    try:
        launchpad = LaunchPad.from_file(str(file))
    except Exception as exc:
        raise LaunchPadConfigError(
            f"cannot read LaunchPad file {str(file)!r}: {type(exc).__name__}: {exc}"
        ) from exc
    if ping:
        try:
            launchpad.connection.admin.command("ping")
        except Exception as exc:
            raise LaunchPadConfigError(
                f"LaunchPad server {describe_launchpad(launchpad)} does not answer: "
                f"{type(exc).__name__}"
            ) from exc
    return launchpad


def describe_launchpad(launchpad: LaunchPad) -> str:
    """Return ``host:port/database`` of a LaunchPad, without credentials."""
    if launchpad.uri_mode:
        return f"{redact_uri(str(launchpad.host))} (database {launchpad.name})"
    return f"{launchpad.host}:{launchpad.port}/{launchpad.name}"
