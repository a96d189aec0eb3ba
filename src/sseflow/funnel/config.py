"""Build a funnel from a YAML/JSON description (see ``config/funnel.yaml``).

Each maker and gate is given by its import path and keyword settings, so users add a
stage (their own Maker included) by editing a file, not sseflow's code::

    ingest: {max_atoms: 1000}
    stages:
      - makers:
          - class: sseflow.bvse.jobs.BVSEMaker
            settings: {resolution_angstrom: 0.2}
        gate:
          class: sseflow.funnel.gates.threshold.ThresholdGate
          settings: {tier: bvse, field: ea_1d_ev, max_value: 0.6, unit: eV}

A gate that ranks the candidates of a stage is given the same way, e.g. only the ten
lowest CHGNet barriers go on to a Quantum ESPRESSO stage::

        gate:
          class: sseflow.funnel.gates.rank.RankGate
          settings: {tier: neb_mlip, field: barrier_forward_ev, top_n: 10}

Settings that are objects (e.g. ``QENEBMaker``'s ``qe``) are given as mappings; the
Maker converts them (full example in ``docs/neb.md``).

The description is checked before anything runs (:func:`validate_funnel`): a maker's
``class`` must be a :class:`~sseflow.common.maker.TierMaker` subclass and a gate's a
gate class (one with ``evaluate``), checked before either is called, so a YAML file
cannot name an arbitrary callable; a gate's ``tier`` must be a tier of its stage and
its ``field`` a field of that tier's document (``document_class``).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from pathlib import Path
from typing import Any, Literal

from monty.serialization import loadfn

from sseflow.common.maker import TierMaker
from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.ingest.validation import IngestSettings


class FunnelConfigError(ValueError):
    """The funnel description is malformed; the message says where."""


def _is_gate_class(cls: Any) -> bool:
    return inspect.isclass(cls) and callable(getattr(cls, "evaluate", None))


def _instantiate(spec: Any, where: str, kind: Literal["maker", "gate"]) -> Any:
    if not isinstance(spec, dict) or "class" not in spec:
        raise FunnelConfigError(f"{where}: expected a mapping with 'class' (and 'settings')")
    module_name, _, class_name = str(spec["class"]).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise FunnelConfigError(f"{where}: cannot import {spec['class']!r}: {exc}") from exc
    # checked before calling anything: `class: os.system` must never run
    if kind == "maker" and not (inspect.isclass(cls) and issubclass(cls, TierMaker)):
        raise FunnelConfigError(
            f"{where}: {spec['class']!r} is not a tier Maker (a subclass of "
            "sseflow.common.TierMaker)"
        )
    if kind == "gate" and not _is_gate_class(cls):
        raise FunnelConfigError(
            f"{where}: {spec['class']!r} is not a gate class (a class with an evaluate method, "
            "e.g. sseflow.funnel.gates.ThresholdGate)"
        )
    settings = spec.get("settings") or {}
    if not isinstance(settings, dict):
        raise FunnelConfigError(f"{where}: 'settings' must be a mapping")
    try:
        return cls(**settings)
    except (TypeError, ValueError) as exc:
        raise FunnelConfigError(f"{where}: bad settings for {spec['class']}: {exc}") from exc


def _check_gate(stage: Stage, where: str) -> None:
    """Check that the gate reads a tier of its stage and a field of that tier's document."""
    gate = stage.gate
    if not callable(getattr(gate, "evaluate", None)):
        raise FunnelConfigError(f"{where}: {type(gate).__name__} has no evaluate method")
    tier, name = getattr(gate, "tier", None), getattr(gate, "field", None)
    if not isinstance(tier, str) or not isinstance(name, str):
        return  # a gate that reads no single field (e.g. MLPolicyGate, PassAllGate)
    makers = {maker.tier: maker for maker in stage.makers}
    if tier not in makers:
        raise FunnelConfigError(
            f"{where}: the gate reads tier {tier!r}, but this stage runs "
            f"{', '.join(makers) or 'no tier'} (a gate judges its own stage's documents)"
        )
    document = makers[tier].document_class
    fields = list(document.model_fields)
    if name not in fields:
        close = difflib.get_close_matches(name, fields, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise FunnelConfigError(
            f"{where}: the gate reads {tier}.{name}, which {document.__name__} does not have{hint}"
        )


def validate_funnel(funnel: ScreeningFunnelMaker) -> None:
    """Check a funnel before it runs; raise :class:`FunnelConfigError` saying where.

    Every stage needs at least one :class:`~sseflow.common.maker.TierMaker` and a gate
    with ``evaluate``; a gate with ``tier`` and ``field`` (threshold, flag, rank) must
    read a tier of its own stage and a field that tier's ``document_class`` has.
    """
    if not funnel.stages:
        raise FunnelConfigError("the funnel has no stage")
    for i, stage in enumerate(funnel.stages):
        where = f"stages[{i}]"
        if not stage.makers:
            raise FunnelConfigError(f"{where}: needs at least one maker")
        for j, maker in enumerate(stage.makers):
            if not isinstance(maker, TierMaker):
                raise FunnelConfigError(
                    f"{where}.makers[{j}]: {type(maker).__name__} is not a TierMaker"
                )
        _check_gate(stage, f"{where}.gate")


def funnel_from_dict(config: dict[str, Any]) -> ScreeningFunnelMaker:
    """Return the funnel Maker described by ``config``."""
    stages_spec = config.get("stages")
    if not isinstance(stages_spec, list) or not stages_spec:
        raise FunnelConfigError("'stages' must be a non-empty list")
    stages = []
    for i, stage_spec in enumerate(stages_spec):
        makers_spec = stage_spec.get("makers") if isinstance(stage_spec, dict) else None
        if not makers_spec:
            raise FunnelConfigError(f"stages[{i}]: needs a non-empty 'makers' list")
        makers = [
            _instantiate(m, f"stages[{i}].makers[{j}]", "maker") for j, m in enumerate(makers_spec)
        ]
        kwargs: dict[str, Any] = {"makers": makers}
        if stage_spec.get("gate"):
            kwargs["gate"] = _instantiate(stage_spec["gate"], f"stages[{i}].gate", "gate")
        stages.append(Stage(**kwargs))
    try:
        ingest = IngestSettings(**(config.get("ingest") or {}))
    except (TypeError, ValueError) as exc:
        raise FunnelConfigError(f"ingest: {exc}") from exc
    funnel = ScreeningFunnelMaker(stages=stages, ingest_settings=ingest)
    validate_funnel(funnel)
    return funnel


def load_funnel(path: str | Path) -> ScreeningFunnelMaker:
    """Read a YAML or JSON funnel description and return the funnel Maker."""
    try:
        config = loadfn(str(path))
    except Exception as exc:
        raise FunnelConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise FunnelConfigError(f"{path}: top level must be a mapping")
    return funnel_from_dict(config)
