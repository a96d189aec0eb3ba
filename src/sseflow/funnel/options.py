"""Options that change a funnel (command line or keyword arguments), applied predictably.

Every option that is given (not None) either changes the funnel - the default funnel
or one read from a YAML file alike - or is refused with a :class:`FunnelOptionError`
saying why (no stage it applies to). An option is never silently ignored.

Order: ``skip`` and ``until`` first (which stages run), then every other option on the
stages that remain. A :class:`~sseflow.funnel.gates.RankGate` on the last remaining
stage becomes the :class:`~sseflow.funnel.gates.ThresholdGate` of its bounds: a rank
only limits what the next stage costs, and there is none.

=====================  =====================================================
option                 changes
=====================  =====================================================
``max_atoms``          ``ingest_settings.max_atoms``
``max_ea_ev``          the bound of the gate on the ``bvse`` tier
``dimension``          ``BVSEMaker.dimension`` and the field of its gate
``occupancy_mode``,    ``BVSEMaker.bvse`` (:class:`~sseflow.bvse.BVSESettings`)
``resolution_angstrom``,
``time_limit_s``,
``memory_limit_gb``,
``bvse_engine``
``ml_policy``,         the :class:`~sseflow.funnel.gates.MLPolicyGate`
``p_si_threshold``
``neb_top_n``          ``top_n`` of the gate before the ``neb_mlip`` stage
``mlip_walltime_s``    ``neb.walltime_s`` of the ``neb_mlip`` stage's Makers: a run
                       that reaches it stops cleanly (recorded failed, images kept;
                       the same command resumes it)
``mlip_orderings``     ``ordering_samples`` of the ``neb_mlip`` stage's Makers: the
                       CI-NEB of a disordered candidate runs on that many distinct
                       approximate orderings; the record keeps the median barrier
                       and the spread
``dft_top_k``          ``top_n`` of the gate before the ``neb_dft`` stage
``qe_pw_command``,     ``qe`` of every Quantum ESPRESSO Maker
``qe_mpi_command``,
``qe_pseudo_dir``
=====================  =====================================================

A threshold gate asked for a ``top_n`` becomes a rank gate with the same bounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from sseflow.funnel.defaults import STAGE_NAMES
from sseflow.funnel.gates import MLPolicyGate, RankGate, ThresholdGate
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage


class FunnelOptionError(ValueError):
    """An option cannot be applied to the funnel; the message says why."""


@dataclass
class FunnelOptions:
    """Changes to a funnel; None means "not given" (see the module docstring).

    Units as in the names (eV, A, s, GB).
    """

    until: str | None = None
    skip: tuple[str, ...] = ()
    max_atoms: int | None = None
    max_ea_ev: float | None = None
    dimension: str | None = None
    occupancy_mode: str | None = None
    resolution_angstrom: float | None = None
    time_limit_s: float | None = None
    memory_limit_gb: float | None = None
    bvse_engine: str | None = None
    ml_policy: str | None = None
    p_si_threshold: float | None = None
    neb_top_n: int | None = None
    mlip_walltime_s: float | None = None
    mlip_orderings: int | None = None
    dft_top_k: int | None = None
    qe_pw_command: str | None = None
    qe_mpi_command: str | None = None
    qe_pseudo_dir: str | None = None

    #: Option name -> how it is spelled for people (CLI flags by default).
    labels: dict[str, str] = dataclasses.field(default_factory=dict, repr=False)

    def label(self, name: str) -> str:
        """Return how option ``name`` is called in messages."""
        return self.labels.get(name, f"--{name.replace('_', '-')}")

    def given(self) -> dict[str, Any]:
        """Return the options that were given (not None, not empty)."""
        out = {}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name != "labels" and value not in (None, ()):
                out[field.name] = value
        return out


def stage_tiers(name: str, stages: list[Stage]) -> set[str]:
    """Return the tiers a stage name stands for.

    A short name (``ml``, ``bvse``, ``mlip``, ``dft``) or any tier name (``neb_mlip``,
    ``atomsets``, ...).
    """
    if name in STAGE_NAMES:
        return set(STAGE_NAMES[name])
    known = {tier for stage in stages for tier in stage.tiers}
    if name in known:
        return {name}
    choices = ", ".join(
        [*STAGE_NAMES, *sorted(known - {t for v in STAGE_NAMES.values() for t in v})]
    )
    raise FunnelOptionError(f"unknown stage {name!r}: use one of {choices}")


def _stage_of(stages: list[Stage], tiers: set[str]) -> int | None:
    return next((i for i, s in enumerate(stages) if tiers & set(s.tiers)), None)


def select_stages(
    stages: list[Stage], until: str | None, skip: tuple[str, ...], options: FunnelOptions
) -> list[Stage]:
    """Return the stages left after ``skip`` and ``until`` (see the module docstring)."""
    kept = list(stages)
    for name in skip:
        index = _stage_of(kept, stage_tiers(name, stages))
        if index is None:
            raise FunnelOptionError(f"{options.label('skip')} {name}: the funnel has no such stage")
        kept.pop(index)
    if until is not None:
        index = _stage_of(kept, stage_tiers(until, stages))
        if index is None:
            raise FunnelOptionError(
                f"{options.label('until')} {until}: the funnel has no such stage"
                + (
                    " (skipped)"
                    if _stage_of(stages, stage_tiers(until, stages)) is not None
                    else ""
                )
            )
        kept = kept[: index + 1]
    if not kept:
        raise FunnelOptionError("no stage left to run")
    last = kept[-1]
    if isinstance(last.gate, RankGate) and len(kept) < len(stages):
        kept[-1] = dataclasses.replace(last, gate=_bounds_gate(last.gate, ThresholdGate))
    return kept


def _bounds_gate(gate: Any, cls: type, **more: Any) -> Any:
    """Return a ``cls`` gate (threshold or rank) with ``gate``'s tier, field and bounds."""
    bounds = {k: getattr(gate, k) for k in ("tier", "field", "max_value", "min_value", "unit")}
    return cls(**bounds, **more)


class _Editor:
    """Applies options to a list of stages, refusing those that find no target."""

    def __init__(self, stages: list[Stage], options: FunnelOptions, where: str):
        self.stages = list(stages)
        self.options = options
        self.where = where

    def refuse(self, name: str, why: str) -> NoReturn:
        raise FunnelOptionError(f"{self.options.label(name)}: {self.where} {why}")

    def makers(self, name: str, test: Callable[[Any], bool], what: str) -> list[tuple[int, int]]:
        found = [
            (i, j)
            for i, stage in enumerate(self.stages)
            for j, maker in enumerate(stage.makers)
            if test(maker)
        ]
        if not found:
            self.refuse(name, f"has no {what}")
        return found

    def set_maker(self, i: int, j: int, maker: Any) -> None:
        makers = list(self.stages[i].makers)
        makers[j] = maker
        self.stages[i] = dataclasses.replace(self.stages[i], makers=makers)

    def set_gate(self, i: int, gate: Any) -> None:
        self.stages[i] = dataclasses.replace(self.stages[i], gate=gate)

    def set_setting(
        self,
        name: str,
        test: Callable[[Any], bool],
        what: str,
        holder: str,
        field: str,
        value: Any,
    ) -> None:
        """Set ``maker.<holder>.<field>`` (a settings object) on every matching Maker."""
        for i, j in self.makers(name, test, what):
            maker = self.stages[i].makers[j]
            settings = dataclasses.replace(getattr(maker, holder), **{field: value})
            self.set_maker(i, j, dataclasses.replace(maker, **{holder: settings}))

    def gate_on(self, name: str, tier: str) -> tuple[int, Any]:
        index = _stage_of(self.stages, {tier})
        gate = None if index is None else self.stages[index].gate
        if gate is None or getattr(gate, "tier", None) != tier:
            self.refuse(name, f"has no threshold or rank gate on the {tier} tier")
        return index, gate  # type: ignore[return-value]

    def top_n_before(self, name: str, tier: str, value: int) -> None:
        index = _stage_of(self.stages, {tier})
        if index is None:
            self.refuse(name, f"has no {tier} stage")
        if index == 0:
            self.refuse(name, f"runs {tier} first: no stage before it to rank")
        gate = self.stages[index - 1].gate
        if isinstance(gate, RankGate):
            self.set_gate(index - 1, dataclasses.replace(gate, top_n=value))
        elif isinstance(gate, ThresholdGate):
            self.set_gate(index - 1, _bounds_gate(gate, RankGate, top_n=value))
        else:
            self.refuse(
                name,
                f"ranks with the gate before the {tier} stage, which is a "
                f"{type(gate).__name__}, not a threshold or rank gate",
            )


def _is(class_path: str) -> Callable[[Any], bool]:
    module, _, name = class_path.rpartition(".")

    def test(maker: Any) -> bool:
        import importlib

        return isinstance(maker, getattr(importlib.import_module(module), name))

    return test


def _is_mlip_neb(maker: Any) -> bool:
    return maker.tier == "neb_mlip" and hasattr(maker, "neb")


def _has_qe(maker: Any) -> bool:
    from sseflow.qe.calculator import QESettings

    return isinstance(getattr(maker, "qe", None), QESettings)


def apply_options(
    funnel: ScreeningFunnelMaker, options: FunnelOptions, where: str = "the funnel"
) -> ScreeningFunnelMaker:
    """Return a copy of ``funnel`` with ``options`` applied (see the module docstring).

    Parameters
    ----------
    funnel
        The default funnel or one read from a file (not modified).
    options
        What to change.
    where
        How the funnel is named in messages, e.g. ``"the funnel in my.yaml"``.

    Raises
    ------
    FunnelOptionError
        For an option that has nothing to apply to, or an invalid value.

    Examples
    --------
    >>> from sseflow.funnel.maker import ScreeningFunnelMaker
    >>> funnel = apply_options(ScreeningFunnelMaker(), FunnelOptions(until="bvse", max_ea_ev=0.5))
    >>> [stage.tiers for stage in funnel.stages], funnel.stages[-1].gate.max_value
    ([['soap_clustering', 'atomsets'], ['bvse']], 0.5)
    """
    try:
        return _apply(funnel, options, where)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, FunnelOptionError):
            raise
        raise FunnelOptionError(f"invalid option value: {exc}") from exc


def _apply(
    funnel: ScreeningFunnelMaker, options: FunnelOptions, where: str
) -> ScreeningFunnelMaker:
    given = options.given()
    stages = select_stages(funnel.stages, options.until, tuple(options.skip), options)
    if options.until or options.skip:
        names = [*(f"--skip {s}" for s in options.skip)]
        if options.until:
            names.append(f"--until {options.until}")
        where = f"{where} ({', '.join(names)})"
    edit = _Editor(stages, options, where)
    ingest = funnel.ingest_settings
    if "max_atoms" in given:
        ingest = dataclasses.replace(ingest, max_atoms=given["max_atoms"])

    if "dimension" in given:
        if options.dimension not in ("1D", "2D", "3D"):
            raise FunnelOptionError(
                f"{options.label('dimension')}: use 1D, 2D or 3D, not {options.dimension!r}"
            )
        dimension = str(options.dimension)
        for i, j in edit.makers("dimension", _is("sseflow.bvse.jobs.BVSEMaker"), "BVSE stage"):
            maker: Any = edit.stages[i].makers[j]
            edit.set_maker(i, j, dataclasses.replace(maker, dimension=dimension))
        index, gate = edit.gate_on("dimension", "bvse")
        edit.set_gate(index, dataclasses.replace(gate, field=f"ea_{dimension.lower()}_ev"))
    if "max_ea_ev" in given:
        index, gate = edit.gate_on("max_ea_ev", "bvse")
        edit.set_gate(index, dataclasses.replace(gate, max_value=options.max_ea_ev))
    is_bvse = _is("sseflow.bvse.jobs.BVSEMaker")
    bvse_fields = {  # option -> field of BVSESettings
        "occupancy_mode": "occupancy_mode",
        "resolution_angstrom": "resolution_angstrom",
        "time_limit_s": "time_limit_s",
        "memory_limit_gb": "memory_limit_gb",
        "bvse_engine": "engine",
    }
    for name, field in bvse_fields.items():
        if name in given:
            edit.set_setting(name, is_bvse, "BVSE stage", "bvse", field, given[name])
    for name in ("ml_policy", "p_si_threshold"):
        if name not in given:
            continue
        ml_index = next(
            (i for i, s in enumerate(edit.stages) if isinstance(s.gate, MLPolicyGate)), None
        )
        if ml_index is None:
            edit.refuse(name, "has no ML stage gated by MLPolicyGate")
        field = "policy" if name == "ml_policy" else "p_si_threshold"
        try:
            gate = dataclasses.replace(edit.stages[ml_index].gate, **{field: given[name]})
        except ValueError as exc:
            edit.refuse(name, str(exc))
        edit.set_gate(ml_index, gate)
    if "neb_top_n" in given:
        edit.top_n_before("neb_top_n", "neb_mlip", given["neb_top_n"])
    if "mlip_walltime_s" in given:
        edit.set_setting(
            "mlip_walltime_s",
            _is_mlip_neb,
            "neb_mlip stage",
            "neb",
            "walltime_s",
            options.mlip_walltime_s,
        )
    if "mlip_orderings" in given:
        for i, j in edit.makers("mlip_orderings", _is_mlip_neb, "neb_mlip stage"):
            maker = edit.stages[i].makers[j]
            try:
                changed = dataclasses.replace(maker, ordering_samples=given["mlip_orderings"])
            except ValueError as exc:
                edit.refuse("mlip_orderings", str(exc))
            edit.set_maker(i, j, changed)
    if "dft_top_k" in given:
        edit.top_n_before("dft_top_k", "neb_dft", given["dft_top_k"])
    qe_fields = {
        "qe_pw_command": "pw_command",
        "qe_mpi_command": "mpi_command",
        "qe_pseudo_dir": "pseudo_dir",
    }
    for name, field in qe_fields.items():
        if name in given:
            value = str(given[name])
            edit.set_setting(name, _has_qe, "Quantum ESPRESSO stage", "qe", field, value)
    return dataclasses.replace(funnel, stages=edit.stages, ingest_settings=ingest)


def build_funnel(
    config: str | Path | None = None,
    options: FunnelOptions | None = None,
    resume_command: str | None = None,
) -> ScreeningFunnelMaker:
    """Return the funnel of ``config`` (the default funnel without) with ``options`` applied.

    Parameters
    ----------
    config
        Funnel YAML/JSON file (see ``config/funnel.yaml``); None for the default funnel
        (its ingest ``max_atoms`` from ``SSEFLOW_MAX_ATOMS``).
    options
        Changes to apply (see :func:`apply_options`).
    resume_command
        ``sseflow resume ...`` for this store, recorded with candidates that wait for a
        stage that cannot run here.

    Raises
    ------
    FunnelConfigError
        The file cannot be read or describes no valid funnel.
    FunnelOptionError
        An option has nothing to apply to, or an invalid value.
    """
    from sseflow.funnel.config import load_funnel, validate_funnel
    from sseflow.ingest.validation import IngestSettings
    from sseflow.settings import get_settings

    if config is not None:
        base = load_funnel(config)
        where = f"the funnel in {config}"
    else:
        max_atoms = get_settings().max_atoms
        base = ScreeningFunnelMaker(ingest_settings=IngestSettings(max_atoms=max_atoms))
        where = "the default funnel"
    funnel = apply_options(base, options or FunnelOptions(), where)
    validate_funnel(funnel)  # e.g. a gate's field that its tier's document does not have
    return dataclasses.replace(funnel, resume_command=resume_command)
