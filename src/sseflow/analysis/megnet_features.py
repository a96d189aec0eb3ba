"""Deprecated path of :mod:`sseflow.ml.atomsets.features` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ml.atomsets.features",
    ],
    renamed={"_apply_megnet_shims": "apply_megnet_shims"},
)
