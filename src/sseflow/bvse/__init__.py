"""The BVSE tier: bond-valence site-energy landscapes and Li+ percolation barriers."""

from sseflow.bvse.jobs import BVSEMaker, bvse_activation_energy
from sseflow.bvse.schemas import BVSEDocument, BVSEGrid
from sseflow.bvse.settings import BVSEError, BVSESettings

__all__ = [
    "BVSEDocument",
    "BVSEError",
    "BVSEGrid",
    "BVSEMaker",
    "BVSESettings",
    "bvse_activation_energy",
]
