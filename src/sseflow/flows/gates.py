"""Deprecated path of :mod:`sseflow.funnel.gates.base` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.funnel.gates.base",
        "sseflow.funnel.gates.threshold",
    ],
)
