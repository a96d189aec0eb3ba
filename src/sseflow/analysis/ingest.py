"""Deprecated path of :mod:`sseflow.ingest.batch` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ingest.batch",
        "sseflow.ingest.reader",
        "sseflow.ingest.validation",
        "sseflow.ingest.identity",
    ],
    renamed={"_matcher": "structure_matcher"},
)
