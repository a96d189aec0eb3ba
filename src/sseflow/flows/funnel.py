"""Deprecated path of :mod:`sseflow.funnel.maker` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.funnel.maker",
        "sseflow.funnel.jobs",
        "sseflow.funnel.schemas",
        "sseflow.ingest.schemas",
    ],
)
