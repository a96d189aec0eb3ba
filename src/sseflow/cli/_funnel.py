"""Funnel options shared by ``sseflow screen`` and ``sseflow submit``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sseflow.cli.app import fail

if TYPE_CHECKING:
    from sseflow.funnel.maker import ScreeningFunnelMaker


def _positive(value: float) -> float:
    """Option callback: the value must be a finite number > 0 (else exit code 2)."""
    if not value > 0 or value == float("inf"):
        raise typer.BadParameter(f"{value:g} is not a number > 0")
    return value


def _one_of(*choices: str):
    def check(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return check


PathsArgument = Annotated[list[Path], typer.Argument(help="CIF/POSCAR/JSON files or folders.")]
ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Funnel YAML (see config/funnel.yaml).")
]
MaxEaOption = Annotated[
    float, typer.Option(help="BVSE gate: highest barrier, eV (> 0).", callback=_positive)
]
DimensionOption = Annotated[
    str,
    typer.Option(help="BVSE gate dimension: 1D, 2D or 3D.", callback=_one_of("1D", "2D", "3D")),
]
OccupancyOption = Annotated[
    str,
    typer.Option(
        help="Partial framework sites: weighted or majority.",
        callback=_one_of("weighted", "majority"),
    ),
]
ResolutionOption = Annotated[
    float, typer.Option(help="BVSE grid spacing, A (0 < r <= 2).", max=2.0, callback=_positive)
]
TimeLimitOption = Annotated[
    float, typer.Option(help="BVSE time limit per structure, s (> 0).", callback=_positive)
]
MemoryLimitOption = Annotated[
    float, typer.Option(help="BVSE memory cap per structure, GB (> 0).", callback=_positive)
]
MaxAtomsOption = Annotated[int, typer.Option(help="Reject inputs with more sites.", min=1)]
BVSEEngineOption = Annotated[
    str,
    typer.Option(
        "--bvse-engine",
        help="BVSE engine: native (default, exact and fast) or bvlain (the cross-check).",
        callback=_one_of("native", "bvlain"),
    ),
]


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


def funnel_from_options(
    config: Path | None,
    max_ea: float,
    dimension: str,
    occupancy_mode: str,
    resolution: float,
    time_limit: float,
    memory_limit: float,
    max_atoms: int,
    bvse_engine: str = "native",
) -> ScreeningFunnelMaker:
    """Return the funnel of a YAML file, or the BVSE funnel of the command-line options.

    Exits with code 1 on an invalid configuration (checked here, before any work: see
    :func:`sseflow.funnel.config.validate_funnel`).
    """
    # imported here: the funnel pulls in pymatgen analysis and bvlain (~1 s), which
    # every other command (candidates, show, report, --help) should not wait for
    from sseflow.bvse.jobs import BVSEMaker
    from sseflow.bvse.settings import BVSESettings
    from sseflow.funnel.config import FunnelConfigError, load_funnel, validate_funnel
    from sseflow.funnel.gates.threshold import bvse_gate
    from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
    from sseflow.ingest.validation import IngestSettings

    if config is not None:
        try:
            return load_funnel(config)
        except FunnelConfigError as exc:
            fail(str(exc))
    bvse = BVSEMaker(
        dimension=dimension,  # type: ignore[arg-type]
        bvse=BVSESettings(
            occupancy_mode=occupancy_mode,  # type: ignore[arg-type]
            resolution_angstrom=resolution,
            time_limit_s=time_limit,
            memory_limit_gb=memory_limit,
            engine=bvse_engine,  # type: ignore[arg-type]
        ),
    )
    funnel = ScreeningFunnelMaker(
        stages=[Stage(makers=[bvse], gate=bvse_gate(max_ea, dimension))],  # type: ignore[arg-type]
        ingest_settings=IngestSettings(max_atoms=max_atoms),
    )
    try:
        validate_funnel(funnel)
    except FunnelConfigError as exc:
        fail(str(exc))
    return funnel
