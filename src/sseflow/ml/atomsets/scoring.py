"""Scores of structures (P_SI, its spread, components, d_training) and the shipped model.

:func:`score_structures` is the batch API of the ML stage: the AtomSets tier
(:class:`~sseflow.ml.atomsets.jobs.AtomSetsMaker`) and large screens call it on a list of
structures; the model is loaded once per process (:func:`load_default_model`), the
structures are simplified and featurized as batched graphs in chunks (memory stays
bounded for tens of thousands of structures) and a structure that cannot be scored
gets its exception, the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sseflow.common.paths import shipped_data
from sseflow.ml.atomsets.ensemble import AtomSetsEnsemble
from sseflow.ml.atomsets.features import atom_features_or_errors
from sseflow.ml.atomsets.featurization import simplify_for_features
from sseflow.ml.atomsets.stack import PSIModel

#: Name of the P_SI model shipped with the package (``sseflow/data/models/<name>``).
DEFAULT_MODEL_NAME = "psi_v3"
#: Structures featurized and scored together (bounds the memory of large screens).
DEFAULT_CHUNK_SIZE = 500


def default_model_dir() -> Path:
    """Return the directory of the shipped default model."""
    return shipped_data("models", DEFAULT_MODEL_NAME)


_MODELS: dict[str, PSIModel] = {}


def load_model(directory: str | Path | None = None) -> PSIModel:
    """Load a P_SI model artifact once per process (the shipped model when None)."""
    path = str(Path(directory).resolve()) if directory is not None else "default"
    if path not in _MODELS:
        _MODELS[path] = PSIModel.load(default_model_dir() if directory is None else directory)
    return _MODELS[path]


def load_default_model() -> PSIModel:
    """Load (once per process) the model shipped in ``sseflow/data/models``."""
    return load_model(None)


#: Former name of :func:`load_default_model`.
load_default_ensemble = load_default_model


@dataclass
class StructureScore:
    """P_SI of one structure (see :class:`~sseflow.ml.atomsets.stack.PSIPrediction`)."""

    p_si: float
    p_si_std: float
    d_training: float
    n_sites_featurized: int
    is_ordered: bool
    p_si_composition: float | None = None
    p_si_structure: float | None = None
    d_composition: float | None = None

    def rounded(self) -> dict[str, float | None]:
        """Return the scores as stored and printed: probabilities to 6 digits, distances to 4.

        Returns
        -------
        dict
            ``p_si``, ``p_si_std``, ``p_si_composition``, ``p_si_structure`` (None when the
            model has no such component), ``d_training`` and ``d_composition``
            (dimensionless distances; None without a composition domain).
        """

        def digits(value: float | None, n: int) -> float | None:
            return None if value is None else round(value, n)

        return {
            "p_si": round(self.p_si, 6),
            "p_si_std": round(self.p_si_std, 6),
            "p_si_composition": digits(self.p_si_composition, 6),
            "p_si_structure": digits(self.p_si_structure, 6),
            "d_training": round(self.d_training, 4),
            "d_composition": digits(self.d_composition, 4),
        }


def _number(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def score_structures(
    structures: Sequence[Any],
    model: PSIModel | AtomSetsEnsemble | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> list[StructureScore | Exception]:
    """Featurize and score structures in batches, isolating per-structure failures.

    Parameters
    ----------
    structures
        pymatgen Structures (ordered or disordered).
    model
        A P_SI model (or a bare AtomSets ensemble); the shipped default when omitted.
    chunk_size
        Structures featurized and scored together.

    Returns
    -------
    list
        One :class:`StructureScore` per structure, or the exception (e.g. a
        :class:`~sseflow.ml.atomsets.features.FeaturizationError` or a simplification
        error) that prevented scoring it, in input order.
    """
    if model is None:
        model = load_default_model()
    elif isinstance(model, AtomSetsEnsemble):
        model = PSIModel.from_ensemble(model)
    out: list[StructureScore | Exception] = []
    for start in range(0, len(structures), max(chunk_size, 1)):
        out.extend(_score_chunk(structures[start : start + chunk_size], model))
    return out


def _score_chunk(structures: Sequence[Any], model: PSIModel) -> list[StructureScore | Exception]:
    settings = model.feature_settings
    results: list[StructureScore | Exception | None] = [None] * len(structures)
    good, simplified = [], []
    for i, structure in enumerate(structures):
        try:
            simplified.append(simplify_for_features(structure, settings.simplification))
            good.append(i)
        except Exception as exc:  # recorded per structure, the batch goes on
            results[i] = exc
    feats: list[np.ndarray] = []
    kept: list[int] = []
    feature_rows = atom_features_or_errors(simplified, settings.level, embedding=model.embedding)
    for i, f in zip(good, feature_rows, strict=True):
        if isinstance(f, Exception):
            results[i] = f
        else:
            feats.append(f)
            kept.append(i)
    if kept:
        pred = model.predict([structures[i].composition for i in kept], feats)
        for k, i in enumerate(kept):
            results[i] = StructureScore(
                p_si=float(pred.p_si[k]),
                p_si_std=float(pred.p_si_std[k]),
                d_training=float(pred.d_training[k]),
                n_sites_featurized=len(feats[k]),
                is_ordered=bool(structures[i].is_ordered),
                p_si_composition=_number(pred.p_composition[k]),
                p_si_structure=_number(pred.p_structure[k]),
                d_composition=None
                if pred.d_composition is None
                else _number(pred.d_composition[k]),
            )
    return [r if r is not None else RuntimeError("not scored") for r in results]
