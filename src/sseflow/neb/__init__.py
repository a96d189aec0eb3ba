"""The CI-NEB tier: Li-vacancy hops seeded from BVSE, run with a universal potential.

The science (hops, supercell, images, the resumable NEB runner, potentials,
calibration) is in plain modules; :mod:`sseflow.neb.jobs` holds the MLIP Makers and
:mod:`sseflow.neb.base` what every NEB Maker shares (the Quantum ESPRESSO one is
:class:`sseflow.qe.QENEBMaker`).
"""

from sseflow.neb.base import NEBTierMaker
from sseflow.neb.jobs import DEFAULT_POTENTIAL, CHGNetNEBMaker, MLIPNEBMaker
from sseflow.neb.ordering import OrderingSettings
from sseflow.neb.potentials import SHIPPED_POTENTIALS
from sseflow.neb.runner import NEBRunSettings
from sseflow.neb.schemas import NEBDocument, NEBHopResult

__all__ = [
    "DEFAULT_POTENTIAL",
    "SHIPPED_POTENTIALS",
    "CHGNetNEBMaker",
    "MLIPNEBMaker",
    "NEBDocument",
    "NEBHopResult",
    "NEBRunSettings",
    "NEBTierMaker",
    "OrderingSettings",
]
