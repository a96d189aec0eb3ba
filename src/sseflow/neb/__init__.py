"""The CI-NEB tier: Li-vacancy hops seeded from BVSE, run with a universal potential.

The science (hops, supercell, images, the resumable NEB runner) is in plain modules;
:mod:`sseflow.neb.jobs` holds the MLIP Maker and :mod:`sseflow.neb.base` what every
NEB Maker shares (the Quantum ESPRESSO one is :class:`sseflow.qe.QENEBMaker`).
"""

from sseflow.neb.base import NEBTierMaker
from sseflow.neb.jobs import CHGNetNEBMaker
from sseflow.neb.runner import NEBRunSettings
from sseflow.neb.schemas import NEBDocument, NEBHopResult

__all__ = ["CHGNetNEBMaker", "NEBDocument", "NEBHopResult", "NEBRunSettings", "NEBTierMaker"]
