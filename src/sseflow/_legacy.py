"""Old import paths (before the layout by tier) kept as thin, deprecated re-exports.

Funnel YAML files name classes by import path (``sseflow.makers.bvse.BVSEMaker``) and
workflows already stored on a FireWorks LaunchPad or in a job store name the modules
of their Makers, jobs and documents. Each old module is a shim that forwards every
attribute to its new home and warns once, on import, with a ``DeprecationWarning``.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any


def moved(
    old: str, targets: list[str], renamed: dict[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return ``(__getattr__, __dir__)`` for the shim module ``old``.

    Parameters
    ----------
    old
        Name of the shim module (its ``__name__``).
    targets
        New modules, searched in order for each attribute.
    renamed
        Old attribute name -> new name, for names that changed.
    """
    renamed = renamed or {}
    warnings.warn(
        f"{old} is deprecated; import from {', '.join(targets)} instead",
        DeprecationWarning,
        stacklevel=3,
    )

    def module_getattr(name: str) -> Any:
        new_name = renamed.get(name, name)
        for target in targets:
            module = importlib.import_module(target)
            if hasattr(module, new_name):
                return getattr(module, new_name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    def module_dir() -> list[str]:
        names: set[str] = set(renamed)
        for target in targets:
            names.update(n for n in dir(importlib.import_module(target)) if not n.startswith("__"))
        return sorted(names)

    return module_getattr, module_dir
