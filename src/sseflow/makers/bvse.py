"""Deprecated path of :mod:`sseflow.bvse.jobs` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.bvse.jobs",
        "sseflow.bvse.settings",
    ],
)
