"""Deprecated path of :mod:`sseflow.common.document` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.common.document",
    ],
)
