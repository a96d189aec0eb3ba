"""Deprecated path of :mod:`sseflow.neb.images` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.neb.images",
    ],
)
