"""Funnel options shared by ``sseflow screen``, ``sseflow resume`` and ``sseflow submit``.

Without ``--config`` the default funnel runs (:mod:`sseflow.funnel.defaults`); with it,
the funnel of the YAML file. Either way every option given on the command line changes
the funnel or is refused with a message (exit code 2): it is never silently ignored
(:mod:`sseflow.funnel.options`). Options left out keep the funnel's value, so their
help gives the default funnel's value.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sseflow.cli.app import EXIT_USAGE, fail

if TYPE_CHECKING:
    from sseflow.funnel.maker import ScreeningFunnelMaker
    from sseflow.funnel.options import FunnelOptions


def _positive(value: float | None) -> float | None:
    """Option callback: a given value must be a finite number > 0 (else exit code 2)."""
    if value is not None and (not value > 0 or value == float("inf")):
        raise typer.BadParameter(f"{value:g} is not a number > 0")
    return value


def _one_of(*choices: str) -> Callable[[str | None], str | None]:
    """Option callback: a given value must be one of ``choices`` (else exit code 2)."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


PathsArgument = Annotated[list[Path], typer.Argument(help="CIF/POSCAR/JSON files or folders.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="Funnel YAML (config/funnel.yaml is the default funnel, "
        "config/funnel-thesis.yaml the reference work's settings).",
        show_default=False,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        help="Stop after this stage: ml, bvse, mlip, dft (or a tier name).",
        show_default=False,
    ),
]
SkipOption = Annotated[
    list[str] | None,
    typer.Option(help="Leave out a stage (repeatable), e.g. --skip ml.", show_default=False),
]
MaxEaOption = Annotated[
    float | None,
    typer.Option(
        "--max-ea",
        help="BVSE gate: highest barrier, eV (default funnel: 0.6).",
        show_default=False,
        callback=_positive,
    ),
]
DimensionOption = Annotated[
    str | None,
    typer.Option(
        help="BVSE gate dimension: 1D, 2D or 3D (default: 1D).",
        show_default=False,
        callback=_one_of("1D", "2D", "3D"),
    ),
]
OccupancyOption = Annotated[
    str | None,
    typer.Option(
        help="Partial framework sites: weighted or majority (default: weighted).",
        show_default=False,
        callback=_one_of("weighted", "majority"),
    ),
]
ResolutionOption = Annotated[
    float | None,
    typer.Option(
        "--resolution",
        help="BVSE grid spacing, A, 0 < r <= 2 (default: 0.2).",
        show_default=False,
        max=2.0,
        callback=_positive,
    ),
]
TimeLimitOption = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        help="BVSE time limit per structure, s (default: 600).",
        show_default=False,
        callback=_positive,
    ),
]
MemoryLimitOption = Annotated[
    float | None,
    typer.Option(
        "--memory-limit",
        help="BVSE memory cap per structure, GB (default: 8).",
        show_default=False,
        callback=_positive,
    ),
]
MaxAtomsOption = Annotated[
    int | None,
    typer.Option(
        help="Reject inputs with more sites (default: SSEFLOW_MAX_ATOMS or 1000).",
        show_default=False,
        min=1,
    ),
]
MLPolicyOption = Annotated[
    str | None,
    typer.Option(
        help="ML gate: any (SOAP selection or P_SI), all, or p_si_only.", show_default=False
    ),
]
PSIThresholdOption = Annotated[
    float | None,
    typer.Option(
        help="ML gate: lowest P_SI that passes, 0-1 (default: 0.2).",
        show_default=False,
        min=0.0,
        max=1.0,
    ),
]
NebTopOption = Annotated[
    int | None,
    typer.Option(
        "--neb-top",
        help="MLIP CI-NEB on the N lowest BVSE barriers (default funnel: 10).",
        show_default=False,
        min=0,
    ),
]
MlipOrderingsOption = Annotated[
    int | None,
    typer.Option(
        "--mlip-orderings",
        help="MLIP CI-NEB of a disordered candidate on N distinct approximate orderings; "
        "the record keeps the median barrier and the spread (default: 1).",
        show_default=False,
        min=1,
    ),
]
MlipWalltimeOption = Annotated[
    float | None,
    typer.Option(
        "--mlip-walltime",
        help="Wall-time budget of one MLIP CI-NEB, s (reached: recorded failed, images "
        "kept, a rerun resumes) (default: none).",
        show_default=False,
        callback=_positive,
    ),
]
DftTopOption = Annotated[
    int | None,
    typer.Option(
        "--dft-top",
        help="DFT CI-NEB on the k lowest MLIP barriers (default funnel: 3).",
        show_default=False,
        min=0,
    ),
]
QEPwOption = Annotated[
    str | None,
    typer.Option(
        help="pw.x command of the DFT stage (env SSEFLOW_QE_PW_COMMAND; default pw.x).",
        show_default=False,
    ),
]
QEMpiOption = Annotated[
    str | None,
    typer.Option(
        help="MPI launcher of pw.x, e.g. 'mpirun -np 16' (env SSEFLOW_QE_MPI_COMMAND).",
        show_default=False,
    ),
]
QEPseudoOption = Annotated[
    Path | None,
    typer.Option(
        help="Pseudopotential folder of the DFT stage (env SSEFLOW_QE_PSEUDO_DIR); without "
        "one the DFT stage waits (pending) for `sseflow resume`.",
        show_default=False,
    ),
]
BVSEEngineOption = Annotated[
    str | None,
    typer.Option(
        "--bvse-engine",
        help="BVSE engine: native (default, exact and fast) or bvlain (the cross-check).",
        show_default=False,
        callback=_one_of("native", "bvlain"),
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Show third-party logs (TensorFlow, torch, jobflow) too."),
]

#: FunnelOptions field -> command-line flag (for messages).
CLI_LABELS = {
    "until": "--until",
    "skip": "--skip",
    "max_atoms": "--max-atoms",
    "max_ea_ev": "--max-ea",
    "dimension": "--dimension",
    "occupancy_mode": "--occupancy-mode",
    "resolution_angstrom": "--resolution",
    "time_limit_s": "--time-limit",
    "memory_limit_gb": "--memory-limit",
    "bvse_engine": "--bvse-engine",
    "ml_policy": "--ml-policy",
    "p_si_threshold": "--p-si-threshold",
    "neb_top_n": "--neb-top",
    "mlip_walltime_s": "--mlip-walltime",
    "mlip_orderings": "--mlip-orderings",
    "dft_top_k": "--dft-top",
    "qe_pw_command": "--qe-pw-command",
    "qe_mpi_command": "--qe-mpi-command",
    "qe_pseudo_dir": "--qe-pseudo-dir",
}


def check_paths(paths: list[Path]) -> None:
    """Exit with code 1 unless every path exists and they hold at least one structure file."""
    from sseflow.ingest.reader import expand_inputs

    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        fail(f"no such file or folder: {', '.join(missing)}")
    if not expand_inputs(paths):
        fail(
            f"no structure file (CIF, POSCAR, JSON) in {', '.join(str(p) for p in paths)}; "
            "nothing to screen"
        )


def funnel_options(**values: object) -> FunnelOptions:
    """Return the FunnelOptions of command-line values named like its fields.

    Values that are not FunnelOptions fields (a command's other parameters) are left
    out, so a command passes ``**locals()``; None means "not given".
    """
    import dataclasses

    from sseflow.funnel.options import FunnelOptions

    names = {f.name for f in dataclasses.fields(FunnelOptions)} - {"labels"}
    given = {k: v for k, v in values.items() if k in names}
    given["skip"] = tuple(given.get("skip") or ())  # type: ignore[arg-type]
    if given.get("qe_pseudo_dir") is not None:
        given["qe_pseudo_dir"] = str(Path(str(given["qe_pseudo_dir"])).resolve())
    return FunnelOptions(labels=CLI_LABELS, **given)  # type: ignore[arg-type]


def resume_base(data_dir: Path | None, db_uri: str | None, config: Path | None) -> str:
    """Return the ``sseflow resume`` command for this store and funnel file."""
    from sseflow.funnel.qe_setup import resume_base as command

    return command(data_dir, db_uri, config)


def build_funnel(
    config: Path | None,
    options: FunnelOptions,
    resume_command: str | None = None,
) -> ScreeningFunnelMaker:
    """Return the funnel of ``config`` (default funnel without) with ``options`` applied.

    Exits with code 1 on an invalid configuration file, 2 on an option that cannot be
    applied to the funnel.
    """
    # imported here: the funnel pulls in pymatgen analysis and bvlain (~1 s), which
    # every other command (candidates, show, report, --help) should not wait for
    from sseflow.funnel.config import FunnelConfigError
    from sseflow.funnel.options import FunnelOptionError
    from sseflow.funnel.options import build_funnel as funnel_of

    try:
        return funnel_of(config, options, resume_command)
    except FunnelOptionError as exc:
        fail(str(exc), EXIT_USAGE)
    except FunnelConfigError as exc:
        fail(str(exc))
