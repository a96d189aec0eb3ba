"""Deprecated path of :mod:`sseflow.bvse.engine` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.bvse.engine",
        "sseflow.bvse.framework",
        "sseflow.bvse.settings",
    ],
)
