"""Deprecated path of :mod:`sseflow.ml.atomsets.training` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ml.atomsets.training",
    ],
    renamed={"cross_validate_ensemble": "cross_validate_psi"},
)
