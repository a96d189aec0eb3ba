"""Deprecated path of :mod:`sseflow.neb.runner` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.neb.runner",
    ],
    renamed={"_freeze_from_file": "_freeze"},
)
