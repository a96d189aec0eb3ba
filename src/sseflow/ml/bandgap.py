"""Band-gap filter: predicted E_g from pretrained MEGNet multi-fidelity models.

McHaffie et al. keep only candidates with a band gap above 1 eV (electronic insulators).
We predict E_g with the disorder-capable multi-fidelity MEGNet band-gap models of Chen
et al. (Nat. Comput. Sci. 1, 46 (2021); ``mf_2020/pbe_gllb_hse_exp_disorder`` in the
megnet 1.3.2 source distribution, BSD-3-Clause, licence shipped beside the models in
``sseflow/data/models/megnet_bandgap``) at the *experimental* fidelity (state 3).
Disordered sites are handled natively by these models (occupancy-weighted elemental
embeddings). The reported E_g is the mean of the six models trained on different data
splits; their standard deviation is the uncertainty the authors recommend (their
experimental-fidelity MAE: 0.37 eV ordered, 0.51 eV disordered).

A user-supplied value (e.g. from DFT) can always replace the prediction.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Structure

from sseflow.common.paths import shipped_data
from sseflow.ml.atomsets.features import FeaturizationError, apply_megnet_shims, import_tensorflow

#: Fidelity index of the multi-fidelity models: 0 PBE, 1 GLLB-SC, 2 HSE, 3 experiment.
EXPERIMENT_FIDELITY = 3
#: Name recorded as the band-gap source of predictions.
MODEL_NAME = "megnet-mf_2020-pbe_gllb_hse_exp_disorder (experimental fidelity, 6-model mean)"


def bandgap_model_dir() -> Path:
    """Return the directory of the shipped band-gap models."""
    return shipped_data("models", "megnet_bandgap", "pbe_gllb_hse_exp_disorder")


@dataclass
class BandGapPrediction:
    """Predicted band gaps (eV), in input order."""

    band_gap_ev: np.ndarray
    band_gap_std_ev: np.ndarray


_LOCK = threading.Lock()
_MODELS: list[Any] = []


def _load_models(n_models: int | None = None) -> list[Any]:
    with _LOCK:
        paths = sorted(bandgap_model_dir().glob("*/best_model.hdf5"))
        if not paths:
            raise FileNotFoundError(f"no band-gap models in {bandgap_model_dir()}")
        wanted = len(paths) if n_models is None else min(n_models, len(paths))
        if len(_MODELS) < wanted:
            import_tensorflow()
            apply_megnet_shims()
            from megnet.data.graph import DummyConverter
            from megnet.models import MEGNetModel

            for path in paths[len(_MODELS) : wanted]:
                model = MEGNetModel.from_file(str(path))
                # Atoms are converted to float features by us (see _graphs), so the
                # batch generator must pass them through unchanged.
                model.sseflow_atom_converter = model.graph_converter.atom_converter
                model.graph_converter.atom_converter = DummyConverter()
                _MODELS.append(model)
        return _MODELS[:wanted]


def _graphs(model: Any, structures: Sequence[Structure]) -> list[dict[str, Any]]:
    graphs = []
    for i, structure in enumerate(structures):
        plain = structure.copy()
        plain.remove_oxidation_states()
        try:
            graph = model.graph_converter.convert(plain, state_attributes=[[EXPERIMENT_FIDELITY]])
            graph["atom"] = model.sseflow_atom_converter.convert(graph["atom"])
        except (RuntimeError, KeyError) as exc:
            raise FeaturizationError(f"structure {i}: cannot build band-gap graph: {exc}") from exc
        graphs.append(graph)
    return graphs


def predict_band_gaps(
    structures: Sequence[Structure], n_models: int | None = None
) -> BandGapPrediction:
    """Predict experimental-fidelity band gaps (eV) for several structures.

    Parameters
    ----------
    structures
        Ordered or disordered structures (oxidation states are ignored).
    n_models
        Use only the first ``n_models`` of the six models (all by default).

    Returns
    -------
    BandGapPrediction
        Mean over the models (each clipped at 0 eV) and their standard deviation.
    """
    if not structures:
        return BandGapPrediction(np.zeros(0), np.zeros(0))
    models = _load_models(n_models)
    graphs = _graphs(models[0], structures)  # all six share the graph converter settings
    preds = np.stack([np.asarray(m.predict_graphs(graphs)).reshape(-1) for m in models])
    preds = np.clip(preds, 0.0, None)
    return BandGapPrediction(preds.mean(axis=0), preds.std(axis=0))
