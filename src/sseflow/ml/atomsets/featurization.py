"""From structures to AtomSets inputs: feature settings, simplification, MEGNet features."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sseflow.ml.atomsets.features import (
    FEATURE_DIMENSIONS,
    PARENT_MODEL_NAME,
    atom_features,
    parent_model_sha256,
)
from sseflow.ml.simplify import simplify_structure

#: Simplifications accepted before featurization (thesis chapter 4).
SIMPLIFICATIONS = ("CAMN", "CAN", "CAMNS", "CANS")


@dataclass(frozen=True)
class FeatureSettings:
    """How structures are turned into AtomSets inputs.

    Parameters
    ----------
    level
        MEGNet feature level: 0 = elemental embeddings (V0), 1 = after one graph
        convolution (V1, the paper's best).
    simplification
        Structure simplification before featurization: ``"CAMNS"`` (default, the
        paper's best), ``"CAMN"`` (unchanged), ``"CAN"`` or ``"CANS"``.
    """

    level: int = 1
    simplification: str = "CAMNS"

    @property
    def input_dim(self) -> int:
        """Number of features per atom."""
        return FEATURE_DIMENSIONS[self.level]

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready description, including the parent model identity."""
        return {
            "level": self.level,
            "simplification": self.simplification,
            "input_dim": self.input_dim,
            "parent_model": PARENT_MODEL_NAME,
            "parent_model_sha256": parent_model_sha256(),
        }


def simplify_for_features(structure: Any, simplification: str) -> Any:
    """Apply a chapter-4 simplification before featurization.

    ``CAMN``/``CAN`` keep the original species (Li kept/removed); ``CAMNS``/``CANS``
    substitute cations -> Al, anions -> S, neutral atoms -> Mg (Li kept/removed).
    """
    if simplification not in SIMPLIFICATIONS:
        raise ValueError(
            f"unknown simplification {simplification!r}; choose CAMN, CAN, CAMNS or CANS"
        )
    return simplify_structure(
        structure, simplification, substitute_species=simplification in ("CAMNS", "CANS")
    )


def featurize(structures: Sequence[Any], settings: FeatureSettings) -> list[np.ndarray]:
    """Simplify structures and return their MEGNet atom feature matrices.

    Parameters
    ----------
    structures
        pymatgen Structures (ordered or disordered, with or without oxidation states).
    settings
        Feature level and simplification.

    Returns
    -------
    list of numpy.ndarray
        ``(n_sites_i, settings.input_dim)`` per structure.
    """
    simplified = [simplify_for_features(s, settings.simplification) for s in structures]
    return atom_features(simplified, level=settings.level)
