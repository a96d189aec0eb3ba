"""Deprecated path of :mod:`sseflow.funnel.gates.ml_policy` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.funnel.gates.ml_policy",
    ],
)
