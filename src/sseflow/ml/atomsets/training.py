"""Training flow of the P_SI model: featurize -> nested cross-validation -> train -> save.

Each step is a jobflow job; the atom features travel between jobs as ``.npz`` files in
``<out_dir>.work/`` (they are too large for a job document). The model is chosen and
trained by :func:`sseflow.ml.atomsets.selection.fit_psi_model` and written as a
versioned artifact directory (:meth:`sseflow.ml.atomsets.stack.PSIModel.save`) whose
manifest holds the nested cross-validation metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jobflow import Flow, Job, Maker, job

from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.selection import FEATURE_VARIANTS, SelectionSettings


def _variant_name(settings: FeatureSettings) -> str:
    return f"v{settings.level}_{settings.simplification}"


@job
def featurize_label_table(
    label_table: str | list[str], variants: list[dict[str, Any]], work_dir: str
) -> dict[str, Any]:
    """Read a label table (every row) and store the MEGNet features of each variant.

    Several tables (a list of paths) are read as one (their ids must be distinct).

    Returns
    -------
    dict
        ``ids``, ``labels``, ``formulas``, ``compositions`` (formula strings),
        ``has_structure`` and ``features`` (variant name -> ``.npz`` path, one array per
        row with a usable structure, keyed by row index).
    """
    from sseflow.ml.atomsets.selection import TrainingSet
    from sseflow.ml.labels import combine_label_tables, load_label_table

    tables = [label_table] if isinstance(label_table, str) else label_table
    table = combine_label_tables(
        [load_label_table(path, require_structures=False) for path in tables]
    )
    data = TrainingSet.from_label_table(table)
    paths = {}
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    for variant in variants:
        settings = FeatureSettings(variant["level"], variant["simplification"])
        feats = data.atom_features(settings)
        path = Path(work_dir) / f"features_{_variant_name(settings)}.npz"
        arrays = {f"r{i:05d}": f for i, f in enumerate(feats) if f is not None}
        np.savez_compressed(path, **arrays)  # type: ignore[arg-type]  # mypy matches **dict against numpy's allow_pickle: bool
        paths[_variant_name(settings)] = str(path)
    return {
        "ids": data.ids,
        "labels": [int(v) for v in data.labels],
        "formulas": data.groups,
        "compositions": [c.formula for c in data.compositions],
        "has_structure": [s is not None for s in data.structures],
        "features": paths,
    }


def training_set(featurized: dict[str, Any]) -> Any:
    """Rebuild the :class:`~sseflow.ml.atomsets.selection.TrainingSet` of a featurize job."""
    from pymatgen.core import Composition

    from sseflow.ml.atomsets.selection import TrainingSet

    n = len(featurized["ids"])
    data = TrainingSet(
        ids=list(featurized["ids"]),
        labels=np.asarray(featurized["labels"], dtype=int),
        compositions=[Composition(c) for c in featurized["compositions"]],
        groups=list(featurized["formulas"]),
        structures=[None] * n,
    )
    for name, path in featurized["features"].items():
        level, simplification = name[1:].split("_", 1)
        rows: list[np.ndarray | None] = [None] * n
        with np.load(path) as arrays:
            for key in arrays.files:
                rows[int(key[1:])] = arrays[key]
        data.features[FeatureSettings(int(level), simplification)] = rows
    return data


def _selection_settings(settings: dict[str, Any]) -> SelectionSettings:
    values = dict(settings)
    values["variants"] = tuple(
        FeatureSettings(v["level"], v["simplification"]) for v in values["variants"]
    )
    values["seeds"] = tuple(values["seeds"])
    values["weight_grid"] = tuple(values["weight_grid"])
    return SelectionSettings(**values)


@job
def cross_validate_psi(
    featurized: dict[str, Any],
    settings: dict[str, Any],
    n_splits: int = 5,
    loco: bool = True,
    n_clusters: int = 12,
) -> dict[str, Any]:
    """Nested CV of the whole recipe: stratified k-fold by formula and (optionally) LOCO.

    Returns
    -------
    dict
        Per scheme, the fold summary (AUC-PR and MCC with the shuffled and mean
        controls) on all rows and on the rows with a structure.
    """
    from sseflow.ml import evaluation as ev
    from sseflow.ml.atomsets.selection import fit_psi_model

    data = training_set(featurized)
    selection_settings = _selection_settings(settings)
    y = data.labels
    schemes = {"kfold": ev.grouped_stratified_kfold_splits(y, data.groups, n_splits)}
    if loco:
        clusters = ev.composition_clusters(data.compositions, n_clusters)
        schemes["loco"] = ev.leave_one_cluster_out_splits(clusters)
    out: dict[str, Any] = {}
    for scheme, splits in schemes.items():
        oof = np.full(len(y), np.nan)
        for train, val in splits:
            model, _ = fit_psi_model(data, train, selection_settings)
            feats = data.atom_features(model.feature_settings)
            pred = model.predict([data.compositions[i] for i in val], [feats[i] for i in val])
            oof[val] = pred.p_si
        has = np.asarray(featurized["has_structure"], dtype=bool)
        out[scheme] = {
            "all_rows": ev.oof_metrics(y, oof, splits)["summary"],
            "structures": ev.oof_metrics(y, oof, splits, subset=has)["summary"],
        }
    return out


@job
def train_and_save(
    featurized: dict[str, Any],
    settings: dict[str, Any],
    out_dir: str,
    model_version: str,
    metrics: dict[str, Any] | None = None,
    label_table: str | list[str] | None = None,
) -> dict[str, Any]:
    """Choose and train the model on all rows and write the artifact."""
    from sseflow.ml.atomsets.ensemble import AtomSetsEnsemble
    from sseflow.ml.atomsets.selection import fit_psi_model

    data = training_set(featurized)
    model, selection = fit_psi_model(data, None, _selection_settings(settings))
    model.training["label_table"] = label_table
    model.metrics = {"nested_cv": metrics} if metrics else {}
    path = model.save(out_dir, model_version=model_version)
    structure = model.structure  # only an AtomSetsEnsemble has members
    n_members = len(structure.members) if isinstance(structure, AtomSetsEnsemble) else 1
    return {
        "model_dir": str(path),
        "structure_family": selection.family,
        "n_members": n_members,
    }


@dataclass
class AtomSetsTrainingMaker(Maker):
    """Build the training Flow of a P_SI model.

    Parameters
    ----------
    name
        Flow name.
    selection
        Search budget and options (:class:`SelectionSettings`): feature variants, number
        of pooled-forest and AtomSets configurations, inner folds, seeds of the final
        AtomSets ensemble.
    cross_validate, loco
        Run nested k-fold CV (and leave-one-cluster-out CV) of the whole recipe before
        training; results go to the manifest. Each outer fold repeats the whole search.
    n_splits
        Outer folds of the k-fold CV.
    model_version
        Name recorded in the manifest.
    """

    name: str = "P_SI model training"
    selection: SelectionSettings = field(default_factory=SelectionSettings)
    cross_validate: bool = True
    loco: bool = True
    n_splits: int = 5
    model_version: str = "psi_user"

    def make(self, label_table: str | Path | Sequence[str | Path], out_dir: str | Path) -> Flow:
        """Return the Flow training on ``label_table`` and saving to ``out_dir``.

        ``label_table`` is one CSV or several, read as one table (e.g. your own
        measurements and :func:`sseflow.ml.labels.default_training_table`).
        """
        tables: str | list[str] = (
            str(label_table)
            if isinstance(label_table, str | Path)
            else [str(path) for path in label_table]
        )
        settings = asdict(self.selection)
        settings["variants"] = [
            {"level": v.level, "simplification": v.simplification} for v in self.selection.variants
        ]
        out_dir = str(Path(out_dir).resolve())
        featurized = featurize_label_table(tables, settings["variants"], f"{out_dir}.work")
        featurized.name = "featurize"
        jobs: list[Job | Flow] = [featurized]
        metrics = None
        if self.cross_validate:
            cv = cross_validate_psi(featurized.output, settings, self.n_splits, self.loco)
            cv.name = "cross-validate"
            jobs.append(cv)
            metrics = cv.output
        train = train_and_save(
            featurized.output, settings, out_dir, self.model_version, metrics, tables
        )
        train.name = "train model"
        jobs.append(train)
        return Flow(jobs, output=train.output, name=self.name)


__all__ = ["FEATURE_VARIANTS", "AtomSetsTrainingMaker"]
