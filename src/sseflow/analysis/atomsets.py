"""Deprecated path of the AtomSets model (old YAML, stored workflows).

``sseflow.analysis.atomsets`` was split into :mod:`sseflow.ml.atomsets.network`,
:mod:`~sseflow.ml.atomsets.ensemble`, :mod:`~sseflow.ml.atomsets.featurization` and
:mod:`~sseflow.ml.atomsets.scoring`; its label reading is :mod:`sseflow.ml.labels`.
"""

from sseflow._legacy import moved

__getattr__, __dir__ = moved(
    __name__,
    [
        "sseflow.ml.atomsets.network",
        "sseflow.ml.atomsets.ensemble",
        "sseflow.ml.atomsets.featurization",
        "sseflow.ml.atomsets.scoring",
        "sseflow.ml.atomsets.features",
        "sseflow.ml.labels",
    ],
    renamed={
        "_predict_probabilities": "predict_probabilities",
        "parse_conductivity_s_per_cm": "parse_conductivity",
        "LabelledStructures": "LabelTable",
    },
)
