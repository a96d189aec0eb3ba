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
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from monty.serialization import loadfn

from sseflow.funnel.maker import ScreeningFunnelMaker, Stage
from sseflow.ingest.validation import IngestSettings


class FunnelConfigError(ValueError):
    """The funnel description is malformed; the message says where."""


def _instantiate(spec: Any, where: str) -> Any:
    if not isinstance(spec, dict) or "class" not in spec:
        raise FunnelConfigError(f"{where}: expected a mapping with 'class' (and 'settings')")
    module_name, _, class_name = str(spec["class"]).rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise FunnelConfigError(f"{where}: cannot import {spec['class']!r}: {exc}") from exc
    try:
        return cls(**(spec.get("settings") or {}))
    except TypeError as exc:
        raise FunnelConfigError(f"{where}: bad settings for {spec['class']}: {exc}") from exc


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
        makers = [_instantiate(m, f"stages[{i}].makers[{j}]") for j, m in enumerate(makers_spec)]
        kwargs: dict[str, Any] = {"makers": makers}
        if stage_spec.get("gate"):
            kwargs["gate"] = _instantiate(stage_spec["gate"], f"stages[{i}].gate")
        stages.append(Stage(**kwargs))
    try:
        ingest = IngestSettings(**(config.get("ingest") or {}))
    except TypeError as exc:
        raise FunnelConfigError(f"ingest: {exc}") from exc
    return ScreeningFunnelMaker(stages=stages, ingest_settings=ingest)


def load_funnel(path: str | Path) -> ScreeningFunnelMaker:
    """Read a YAML or JSON funnel description and return the funnel Maker."""
    try:
        config = loadfn(str(path))
    except Exception as exc:
        raise FunnelConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise FunnelConfigError(f"{path}: top level must be a mapping")
    return funnel_from_dict(config)
