"""Deprecated path of :mod:`sseflow.ingest.oxidation` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ingest.oxidation",
    ],
)
