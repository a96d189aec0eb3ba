"""The AtomSets classifier on MEGNet site features: P_SI, the probability sigma > 1e-4 S/cm."""

from sseflow.ml.atomsets.jobs import AtomSetsMaker
from sseflow.ml.atomsets.schemas import AtomSetsDocument

__all__ = ["AtomSetsDocument", "AtomSetsMaker"]
