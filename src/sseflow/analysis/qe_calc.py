"""Deprecated path of :mod:`sseflow.qe.calculator` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.qe.calculator",
        "sseflow.qe.convergence",
        "sseflow.qe.relax",
    ],
)
