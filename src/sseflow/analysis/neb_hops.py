"""Deprecated path of :mod:`sseflow.neb.hops` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.neb.hops",
        "sseflow.neb.bvse_path",
        "sseflow.neb.percolation",
    ],
    renamed={"_percolates": "network_percolates"},
)
