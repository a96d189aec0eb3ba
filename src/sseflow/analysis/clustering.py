"""Deprecated path of :mod:`sseflow.ml.soap.clustering` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ml.soap.clustering",
    ],
)
