"""Training flow of the AtomSets ensemble: featurize -> cross-validate -> train -> save.

Each step is a jobflow job; the atom features travel between jobs as an ``.npz`` file in
``<out_dir>.work/`` (they are too large for a job document). The trained ensemble is written as
a versioned artifact directory (see :meth:`AtomSetsEnsemble.save`) whose manifest holds
the cross-validation metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Flow, Maker, job

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.network import CANDIDATE_HYPERPARAMETER_SETS, AtomSetsHyperparameters

#: Sets kept by cross-validation for the shipped ensemble (benchmarks/atomsets.py).
DEFAULT_SETS: tuple[int, ...] = (3,)


@job
def featurize_label_table(
    label_table: str, feature_settings: dict[str, Any], work_dir: str
) -> dict[str, Any]:
    """Read a label table, featurize its structures and store the features.

    Returns
    -------
    dict
        ``features_path`` (npz with one array per structure), ``ids``, ``labels``,
        ``formulas``, ``n_structures``.
    """
    from sseflow.ml.atomsets.featurization import featurize
    from sseflow.ml.labels import load_label_table

    data = load_label_table(label_table)
    settings = FeatureSettings(**feature_settings)
    feats = featurize(data.structures, settings)
    path = Path(work_dir) / "features.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"s{i:05d}": f for i, f in enumerate(feats)})
    return {
        "features_path": str(path),
        "ids": data.ids,
        "labels": [int(v) for v in data.labels],
        "formulas": data.formulas,
        "n_structures": len(data.ids),
    }


def _load_features(path: str) -> list[np.ndarray]:
    with np.load(path) as arrays:
        return [arrays[k] for k in sorted(arrays.files)]


@job
def cross_validate_ensemble(
    featurized: dict[str, Any],
    hyperparameters: list[dict[str, Any]],
    seeds: list[int],
    input_dim: int,
    n_splits: int = 5,
    n_clusters: int = 12,
    loco: bool = True,
) -> dict[str, Any]:
    """Stratified k-fold (and optionally LOCO) CV of the ensemble recipe, with controls."""
    from sseflow.ml import evaluation as ev

    feats = _load_features(featurized["features_path"])
    labels = np.asarray(featurized["labels"])
    hypers = [AtomSetsHyperparameters(**h) for h in hyperparameters]
    fit_predict = ev.atomsets_fit_predict(feats, labels, hypers, seeds, input_dim)
    out = {
        "kfold": ev.cross_validate(
            labels, ev.stratified_kfold_splits(labels, n_splits), fit_predict
        )["summary"]
    }
    if loco:
        clusters = ev.composition_clusters(featurized["formulas"], n_clusters)
        splits = ev.leave_one_cluster_out_splits(clusters)
        out["loco"] = ev.cross_validate(labels, splits, fit_predict)["summary"]
    return out


@job
def train_and_save(
    featurized: dict[str, Any],
    feature_settings: dict[str, Any],
    hyperparameters: list[dict[str, Any]],
    seeds: list[int],
    out_dir: str,
    model_version: str,
    metrics: dict[str, Any] | None = None,
    label_table: str | None = None,
) -> dict[str, Any]:
    """Train the ensemble on all labelled structures and write the artifact."""
    from sseflow.ml.atomsets.ensemble import train_ensemble

    feats = _load_features(featurized["features_path"])
    ensemble = train_ensemble(
        feats,
        featurized["labels"],
        FeatureSettings(**feature_settings),
        [AtomSetsHyperparameters(**h) for h in hyperparameters],
        seeds,
        ids=featurized["ids"],
    )
    ensemble.training["label_table"] = label_table
    ensemble.metrics = {"cross_validation": metrics} if metrics else {}
    path = ensemble.save(out_dir, model_version=model_version)
    return {"model_dir": str(path), "n_members": len(ensemble.members)}


@dataclass
class AtomSetsTrainingMaker(Maker):
    """Build the training Flow.

    Parameters
    ----------
    name
        Flow name.
    feature_settings
        MEGNet level and simplification.
    hyperparameter_sets
        Network configurations of the ensemble.
    seeds
        Repeated seeds per configuration (ensemble size = sets x seeds).
    cross_validate, loco
        Run k-fold CV (and LOCO CV) before training, with the first seed only (to
        save time); results go to the manifest.
    n_splits
        Folds of the stratified k-fold CV.
    model_version
        Name recorded in the manifest.
    """

    name: str = "atomsets training"
    feature_settings: FeatureSettings = field(default_factory=FeatureSettings)
    hyperparameter_sets: list[AtomSetsHyperparameters] = field(
        default_factory=lambda: [CANDIDATE_HYPERPARAMETER_SETS[k] for k in DEFAULT_SETS]
    )
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    cross_validate: bool = True
    loco: bool = True
    n_splits: int = 5
    model_version: str = "atomsets_user"

    def make(self, label_table: str | Path, out_dir: str | Path) -> Flow:
        """Return the Flow training on ``label_table`` and saving to ``out_dir``."""
        settings = {
            "level": self.feature_settings.level,
            "simplification": self.feature_settings.simplification,
        }
        hypers = [h.as_dict() for h in self.hyperparameter_sets]
        out_dir = str(Path(out_dir).resolve())
        featurized = featurize_label_table(str(label_table), settings, f"{out_dir}.work")
        featurized.name = "featurize"
        jobs = [featurized]
        metrics = None
        if self.cross_validate:
            cv = cross_validate_ensemble(
                featurized.output,
                hypers,
                list(self.seeds[:1]),
                self.feature_settings.input_dim,
                n_splits=self.n_splits,
                loco=self.loco,
            )
            cv.name = "cross-validate"
            jobs.append(cv)
            metrics = cv.output
        train = train_and_save(
            featurized.output,
            settings,
            hypers,
            list(self.seeds),
            out_dir,
            self.model_version,
            metrics,
            str(label_table),
        )
        train.name = "train ensemble"
        jobs.append(train)
        return Flow(jobs, output=train.output, name=self.name)
