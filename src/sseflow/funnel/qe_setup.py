"""Fill the funnel's Quantum ESPRESSO stages from the machine settings, or defer them.

A QE stage (any Maker holding a ``qe`` :class:`~sseflow.qe.calculator.QESettings`)
takes pw.x, the MPI launcher and the pseudopotential folder from, first that applies:
a command-line option (applied before, by :mod:`sseflow.funnel.options`), the funnel
description (a value other than QESettings' default), the environment
(``SSEFLOW_QE_PW_COMMAND``, ``SSEFLOW_QE_MPI_COMMAND``, ``SSEFLOW_QE_PSEUDO_DIR``).

When QE cannot run here (pw.x or the MPI launcher not found, no pseudopotential folder,
no UPF file in it), the stage becomes a
:class:`~sseflow.funnel.deferred.DeferredTierMaker`: its candidates are recorded
``pending`` with the reason and the command that runs the stage later (``sseflow
resume ...`` with the missing settings to fill in).
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sseflow.funnel.deferred import DeferredTierMaker
from sseflow.settings import SseflowSettings, get_settings

if TYPE_CHECKING:
    from sseflow.funnel.maker import Stage

#: Placeholders of the resume command for settings the user still has to give.
PSEUDO_DIR_PLACEHOLDER = "PSEUDO_DIR"
PW_COMMAND_PLACEHOLDER = "PW_X"
_DEFAULT_PW = "pw.x"
_UNSET_PSEUDO_DIRS = ("", ".")


def _has_qe(maker: Any) -> bool:
    from sseflow.qe.calculator import QESettings

    return isinstance(getattr(maker, "qe", None), QESettings)


def filled_qe_settings(qe: Any, settings: SseflowSettings) -> Any:
    """Return ``qe`` with pw.x, MPI launcher and pseudopotential folder from ``settings``.

    Only values still at QESettings' defaults are replaced: a value written in the
    funnel description wins over the environment.
    """
    changes: dict[str, Any] = {}
    if qe.pw_command == _DEFAULT_PW and settings.qe_pw_command != _DEFAULT_PW:
        changes["pw_command"] = settings.qe_pw_command
    if qe.mpi_command is None and settings.qe_mpi_command:
        changes["mpi_command"] = settings.qe_mpi_command
    if str(qe.pseudo_dir or "") in _UNSET_PSEUDO_DIRS and settings.qe_pseudo_dir is not None:
        changes["pseudo_dir"] = str(settings.qe_pseudo_dir)
    return dataclasses.replace(qe, **changes) if changes else qe


def qe_problems(qe: Any) -> list[str]:
    """Return why pw.x cannot run with ``qe`` here (empty when it can)."""
    problems = []
    if shutil.which(qe.pw_command) is None:
        problems.append(
            f"pw.x command {qe.pw_command!r} not found (install Quantum ESPRESSO, or set "
            "SSEFLOW_QE_PW_COMMAND / --qe-pw-command)"
        )
    if qe.mpi_command:
        launcher = shlex.split(qe.mpi_command)[0]
        if shutil.which(launcher) is None:
            problems.append(f"MPI launcher {launcher!r} not found")
    folder = str(qe.pseudo_dir or "")
    if folder in _UNSET_PSEUDO_DIRS:
        problems.append("no pseudopotential folder (set SSEFLOW_QE_PSEUDO_DIR or --qe-pseudo-dir)")
    elif not Path(folder).is_dir():
        problems.append(f"pseudopotential folder {folder} does not exist")
    elif not any(p.suffix.lower() == ".upf" for p in Path(folder).iterdir()):
        problems.append(f"no .UPF file in the pseudopotential folder {folder}")
    return problems


def resume_command_for(base: str, qe: Any) -> str:
    """Return ``base`` plus the QE options the user still has to give."""
    parts = [base]
    if shutil.which(qe.pw_command) is None:
        parts.append(f"--qe-pw-command {PW_COMMAND_PLACEHOLDER}")
    folder = str(qe.pseudo_dir or "")
    if folder in _UNSET_PSEUDO_DIRS or not Path(folder).is_dir():
        parts.append(f"--qe-pseudo-dir {PSEUDO_DIR_PLACEHOLDER}")
    return " ".join(parts)


def default_resume_base(settings: SseflowSettings | None = None) -> str:
    """Return ``sseflow resume`` for the store of ``settings`` (environment)."""
    settings = settings or get_settings()
    if settings.db_uri:
        return "sseflow resume"  # the URI (and credentials) stay in the environment
    return f"sseflow resume --data-dir {shlex.quote(str(Path(settings.data_dir).resolve()))}"


def resume_base(
    data_dir: str | Path | None = None,
    db_uri: str | None = None,
    config: str | Path | None = None,
) -> str:
    """Return the ``sseflow resume`` command for a store and funnel file.

    Parameters
    ----------
    data_dir, db_uri
        The store (None: from the environment). A URI with credentials is not
        written out: the command reads it from ``SSEFLOW_DB_URI``.
    config
        The funnel file the candidates were screened with (None: default funnel).
    """
    settings = get_settings()
    if db_uri is not None:
        settings = settings.model_copy(update={"db_uri": db_uri})
    elif data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(data_dir), "db_uri": None})
    command = default_resume_base(settings)
    if db_uri is not None:
        command += ' --db-uri "$SSEFLOW_DB_URI"' if "@" in db_uri else f" --db-uri {db_uri}"
    if config is not None:
        command += f" --config {shlex.quote(str(Path(config).resolve()))}"
    return command


def configure_qe_stages(
    stages: list[Stage],
    resume_base: str | None = None,
    settings: SseflowSettings | None = None,
) -> list[Stage]:
    """Return ``stages`` with QE Makers filled from ``settings``, or deferred.

    Parameters
    ----------
    stages
        The funnel's stages (not modified).
    resume_base
        The command that resumes this funnel on its store (``sseflow resume
        --data-dir ...``); default: :func:`default_resume_base`.
    settings
        Machine settings; default read from the environment.
    """
    settings = settings or get_settings()
    out = []
    for stage in stages:
        makers: list[Any] = []
        maker: Any
        for maker in stage.makers:
            if not _has_qe(maker):
                makers.append(maker)
                continue
            qe = filled_qe_settings(maker.qe, settings)
            problems = qe_problems(qe)
            if not problems:
                makers.append(dataclasses.replace(maker, qe=qe))
                continue
            base = resume_base or default_resume_base(settings)
            makers.append(
                DeferredTierMaker(
                    name=f"{maker.tier} (deferred)",
                    tier=maker.tier,
                    reason="Quantum ESPRESSO is not set up here: " + "; ".join(problems),
                    resume_command=resume_command_for(base, qe),
                )
            )
        out.append(dataclasses.replace(stage, makers=makers))
    return out
