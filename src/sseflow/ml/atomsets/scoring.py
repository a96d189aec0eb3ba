"""Scores of structures (P_SI, its spread, d_training) and the ensemble shipped with sseflow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sseflow.common.paths import shipped_data
from sseflow.ml.atomsets.ensemble import AtomSetsEnsemble
from sseflow.ml.atomsets.features import atom_features
from sseflow.ml.atomsets.featurization import simplify_for_features

#: Name of the ensemble shipped with the package.
DEFAULT_MODEL_NAME = "atomsets_v1_camns"


def default_model_dir() -> Path:
    """Return the directory of the shipped default ensemble."""
    return shipped_data("models", DEFAULT_MODEL_NAME)


_DEFAULT_ENSEMBLE: dict[str, AtomSetsEnsemble] = {}


def load_default_ensemble() -> AtomSetsEnsemble:
    """Load (once per process) the ensemble shipped in ``sseflow/data/models``."""
    if "default" not in _DEFAULT_ENSEMBLE:
        _DEFAULT_ENSEMBLE["default"] = AtomSetsEnsemble.load(default_model_dir())
    return _DEFAULT_ENSEMBLE["default"]


@dataclass
class StructureScore:
    """AtomSets result for one structure (see :class:`EnsemblePrediction`)."""

    p_si: float
    p_si_std: float
    d_training: float
    n_sites_featurized: int
    is_ordered: bool


def score_structures(
    structures: Sequence[Any], ensemble: AtomSetsEnsemble | None = None
) -> list[StructureScore | Exception]:
    """Featurize and score structures in one batch, isolating per-structure failures.

    Parameters
    ----------
    structures
        pymatgen Structures (ordered or disordered).
    ensemble
        Trained ensemble; the shipped default when omitted.

    Returns
    -------
    list
        One :class:`StructureScore` per structure, or the exception (e.g. a
        :class:`~sseflow.ml.atomsets.features.FeaturizationError` or a simplification
        error) that prevented scoring it, in input order.
    """
    ensemble = ensemble or load_default_ensemble()
    settings = ensemble.feature_settings
    results: list[StructureScore | Exception | None] = [None] * len(structures)
    good, simplified = [], []
    for i, structure in enumerate(structures):
        try:
            simple = simplify_for_features(structure, settings.simplification)
            atom_features([simple], level=0)  # cheap validity check (species, sites)
        except Exception as exc:  # recorded per structure, the batch goes on
            results[i] = exc
            continue
        good.append(i)
        simplified.append(simple)
    feats: list[np.ndarray] = []
    if simplified:
        try:
            feats = atom_features(simplified, level=settings.level)
        except Exception:
            # One bad graph (e.g. no bonds) fails the whole batch: fall back to singles.
            feats = []
            keep = []
            for i, simple in zip(good, simplified, strict=True):
                try:
                    feats.append(atom_features([simple], level=settings.level)[0])
                    keep.append(i)
                except Exception as exc:
                    results[i] = exc
            good = keep
    if good:
        pred = ensemble.predict_features(feats)
        for k, i in enumerate(good):
            results[i] = StructureScore(
                p_si=float(pred.p_si[k]),
                p_si_std=float(pred.p_si_std[k]),
                d_training=float(pred.d_training[k]),
                n_sites_featurized=len(feats[k]),
                is_ordered=bool(structures[i].is_ordered),
            )
    return [r if r is not None else RuntimeError("not scored") for r in results]
