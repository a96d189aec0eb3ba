"""Deprecated path of :mod:`sseflow.neb.jobs` (old YAML, stored workflows)."""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.neb.jobs",
        "sseflow.neb.base",
        "sseflow.qe.jobs",
    ],
    renamed={
        "_NEBTierMaker": "NEBTierMaker",
        "_landscape": "landscape_from",
        "_judge_convergence": "judge_convergence",
    },
)
