"""The AtomSets ensemble: members, applicability domain, artifact save/load, training.

``P_SI`` is the mean sigmoid output of an ensemble of networks (several hyperparameter
sets x repeated seeds, see :mod:`sseflow.ml.atomsets.network`), reported with the
ensemble's standard deviation and ``d_training``, the distance of the structure to its
nearest training sample (definition in :class:`ApplicabilityDomain`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sseflow import __version__
from sseflow.ml.atomsets.features import parent_model_sha256
from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.atomsets.network import (
    AtomSetsHyperparameters,
    make_regularized_atom_sets,
    predict_probabilities,
    train_member,
)
from sseflow.ml.labels import SUPERIONIC_THRESHOLD_S_PER_CM

#: Version of the on-disk ensemble artifact layout written by :meth:`AtomSetsEnsemble.save`.
ARTIFACT_FORMAT_VERSION = 1


class ModelArtifactError(ValueError):
    """A saved ensemble is missing, incomplete or incompatible."""


@dataclass
class ApplicabilityDomain:
    """Distance of a structure to the training set, ``d_training``.

    Definition: each structure is pooled to one vector, the mean of its atom feature
    rows (the same MEGNet features the classifier sees). Pooled training vectors are
    z-scored per feature (training mean and standard deviation), then projected on the
    principal components of the z-scored training set that together explain
    ``variance_kept`` of its variance, each component divided by the square root of its
    variance (whitening). ``d_training`` is the Euclidean distance in that space to the
    nearest training structure (dimensionless; ~sqrt(n_components) is typical spread).
    """

    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray
    component_std: np.ndarray
    training_points: np.ndarray
    variance_kept: float = 0.99

    @staticmethod
    def pool(features: Sequence[np.ndarray]) -> np.ndarray:
        """Return the structure-level pooled features (mean over atom rows)."""
        return np.stack([np.asarray(f, dtype=np.float64).mean(axis=0) for f in features])

    @classmethod
    def fit(
        cls, features: Sequence[np.ndarray], variance_kept: float = 0.99
    ) -> ApplicabilityDomain:
        """Fit the normalisation and PCA on training atom features."""
        pooled = cls.pool(features)
        mean = pooled.mean(axis=0)
        scale = pooled.std(axis=0)
        scale[scale < 1e-12] = 1.0
        z = (pooled - mean) / scale
        _, singular, vt = np.linalg.svd(z, full_matrices=False)
        variance = singular**2 / max(len(z) - 1, 1)
        ratio = np.cumsum(variance) / variance.sum()
        n_keep = int(np.searchsorted(ratio, variance_kept) + 1)
        components = vt[:n_keep]
        std = np.sqrt(variance[:n_keep])
        std[std < 1e-12] = 1.0
        points = (z @ components.T) / std
        return cls(mean, scale, components, std, points, variance_kept)

    def transform(self, features: Sequence[np.ndarray]) -> np.ndarray:
        """Project structures into the whitened PCA space."""
        z = (self.pool(features) - self.mean) / self.scale
        return (z @ self.components.T) / self.component_std

    def distance(self, features: Sequence[np.ndarray], block: int = 64) -> np.ndarray:
        """Return ``d_training`` for each structure.

        Rows are compared with the training points ``block`` at a time, so the memory
        is ``block x n_training x n_components`` floats whatever the number of rows.
        """
        return nearest_distances(self.transform(features), self.training_points, block=block)

    def manifest_entry(self, file: str = "applicability_domain.npz") -> dict[str, Any]:
        """Return the description of the domain stored in model manifests."""
        return {
            "file": file,
            "definition": (
                "mean-pooled atom features, z-scored on training, PCA (whitened) keeping "
                f"{self.variance_kept:.0%} of variance; Euclidean distance to the nearest "
                "training structure"
            ),
            "n_components": int(self.components.shape[0]),
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the arrays that define the domain (for ``np.savez``)."""
        return {
            "mean": self.mean,
            "scale": self.scale,
            "components": self.components,
            "component_std": self.component_std,
            "training_points": self.training_points,
            "variance_kept": np.array(self.variance_kept),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> ApplicabilityDomain:
        """Rebuild from :meth:`to_arrays` output (or an ``np.load`` result)."""
        return cls(
            mean=np.asarray(arrays["mean"]),
            scale=np.asarray(arrays["scale"]),
            components=np.asarray(arrays["components"]),
            component_std=np.asarray(arrays["component_std"]),
            training_points=np.asarray(arrays["training_points"]),
            variance_kept=float(arrays["variance_kept"]),
        )


def nearest_distances(
    points: np.ndarray,
    reference: np.ndarray,
    groups: Sequence[str] | None = None,
    reference_groups: Sequence[str] | None = None,
    block: int = 64,
) -> np.ndarray:
    """Euclidean distance of each point to its nearest reference point.

    Points are compared ``block`` at a time, so the memory is ``block x len(reference) x
    dimensions`` floats whatever the number of points. With ``groups`` and
    ``reference_groups``, a reference point of a point's own group does not count (inf
    when every reference point is in it).
    """
    out = np.empty(len(points))
    point_groups = None if groups is None else np.asarray(list(groups))
    ref_groups = None if reference_groups is None else np.asarray(list(reference_groups))
    for start in range(0, len(points), block):
        diff = points[start : start + block, None, :] - reference[None, :, :]
        d = np.sqrt((diff**2).sum(axis=-1))
        if point_groups is not None and ref_groups is not None:
            d[point_groups[start : start + block, None] == ref_groups[None, :]] = np.inf
        out[start : start + block] = d.min(axis=1)
    return out


@dataclass
class EnsemblePrediction:
    """Ensemble output for a set of structures (arrays in input order)."""

    p_si: np.ndarray
    p_si_std: np.ndarray
    d_training: np.ndarray
    member_probabilities: np.ndarray  # (n_members, n_structures)


def training_data_hash(ids: Sequence[str], labels: Sequence[int]) -> str:
    """Return a SHA-256 over the (id, label) pairs a model was trained on."""
    text = "\n".join(f"{i},{int(y)}" for i, y in sorted(zip(ids, labels, strict=True)))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class AtomSetsEnsemble:
    """Trained ensemble: members, feature settings, applicability domain, manifest."""

    feature_settings: FeatureSettings
    members: list[tuple[AtomSetsHyperparameters, int, Any]]
    domain: ApplicabilityDomain
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    model_version: str = "unsaved"

    def predict_features(self, features: Sequence[np.ndarray]) -> EnsemblePrediction:
        """Predict from precomputed atom feature matrices.

        Returns
        -------
        EnsemblePrediction
            ``p_si`` (mean member probability), ``p_si_std`` (population standard
            deviation over members), ``d_training`` (see :class:`ApplicabilityDomain`).
        """
        if not self.members:
            raise ModelArtifactError("the ensemble has no members")
        features = [np.asarray(f, dtype=np.float64) for f in features]
        dim = self.feature_settings.input_dim
        for i, f in enumerate(features):
            if f.ndim != 2 or f.shape[1] != dim:
                raise ValueError(f"features[{i}] has shape {f.shape}; expected (n_sites, {dim})")
        net_inputs = [f.astype(np.float32) for f in features]
        probs = np.stack([predict_probabilities(m, net_inputs) for _, _, m in self.members])
        return EnsemblePrediction(
            p_si=probs.mean(axis=0),
            p_si_std=probs.std(axis=0),
            d_training=self.domain.distance(features),
            member_probabilities=probs,
        )

    def manifest(self) -> dict[str, Any]:
        """Return the JSON manifest describing this ensemble."""
        from sseflow.provenance import software_versions

        return {
            "format_version": ARTIFACT_FORMAT_VERSION,
            "model_version": self.model_version,
            "sseflow_version": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "feature_settings": self.feature_settings.as_dict(),
            "superionic_threshold_s_per_cm": SUPERIONIC_THRESHOLD_S_PER_CM,
            "members": [
                {
                    "file": f"members/m{i:03d}.weights.h5",
                    "seed": seed,
                    "hyperparameters": h.as_dict(),
                }
                for i, (h, seed, _) in enumerate(self.members)
            ],
            "applicability_domain": self.domain.manifest_entry(),
            "training": self.training,
            "metrics": self.metrics,
            "software": software_versions(["tensorflow", "tf-keras", "megnet", "maml", "pymatgen"]),
        }

    def save(self, directory: str | Path, model_version: str | None = None) -> Path:
        """Write the versioned artifact directory and return its path.

        Layout: ``manifest.json``, ``members/mNNN.weights.h5`` (network weights),
        ``applicability_domain.npz``.
        """
        directory = Path(directory)
        (directory / "members").mkdir(parents=True, exist_ok=True)
        if model_version is not None:
            self.model_version = model_version
        manifest = self.manifest()
        for entry, (_, _, member) in zip(manifest["members"], self.members, strict=True):
            member.model.save_weights(str(directory / entry["file"]))
        np.savez(directory / "applicability_domain.npz", **self.domain.to_arrays())  # type: ignore[arg-type]  # mypy matches **dict against numpy's allow_pickle: bool
        (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> AtomSetsEnsemble:
        """Load an artifact written by :meth:`save`."""
        directory = Path(directory)
        manifest = read_manifest(directory, (ARTIFACT_FORMAT_VERSION,))
        settings = manifest_feature_settings(directory, manifest)
        members = []
        for entry in manifest["members"]:
            hyper = AtomSetsHyperparameters(**entry["hyperparameters"])
            atom_sets = make_regularized_atom_sets(settings.input_dim, hyper)
            weights = directory / entry["file"]
            if not weights.is_file():
                raise ModelArtifactError(f"missing member weights {weights}")
            atom_sets.model.load_weights(str(weights))
            members.append((hyper, int(entry["seed"]), atom_sets))
        with np.load(directory / manifest["applicability_domain"]["file"]) as arrays:
            domain = ApplicabilityDomain.from_arrays(arrays)
        return cls(
            feature_settings=settings,
            members=members,
            domain=domain,
            training=manifest.get("training", {}),
            metrics=manifest.get("metrics", {}),
            model_version=manifest.get("model_version", "unknown"),
        )


def read_manifest(directory: Path, formats: tuple[int, ...]) -> dict[str, Any]:
    """Read ``directory/manifest.json`` and check its ``format_version`` is in ``formats``."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise ModelArtifactError(f"no manifest.json in {directory}")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format_version") not in formats:
        raise ModelArtifactError(
            f"{directory}: artifact format {manifest.get('format_version')} is not "
            f"{' or '.join(map(str, formats))}; retrain with this sseflow version"
        )
    return manifest


def manifest_feature_settings(directory: Path, manifest: dict[str, Any]) -> FeatureSettings:
    """Return a manifest's feature settings, checking the MEGNet parent model is the same."""
    fs = manifest["feature_settings"]
    if fs.get("parent_model_sha256") not in (None, parent_model_sha256()):
        raise ModelArtifactError(
            f"{directory}: trained on features of a different MEGNet parent model"
        )
    return FeatureSettings(level=int(fs["level"]), simplification=fs["simplification"])


def train_ensemble(
    features: Sequence[np.ndarray],
    labels: Sequence[int] | np.ndarray,
    feature_settings: FeatureSettings,
    hyperparameter_sets: Sequence[AtomSetsHyperparameters],
    seeds: Sequence[int],
    ids: Sequence[str] | None = None,
) -> AtomSetsEnsemble:
    """Train every hyperparameter set with every seed and bundle the ensemble.

    Parameters
    ----------
    features
        Atom feature matrices of the training structures.
    labels
        1 = superionic (``sigma >= 1e-4 S/cm``), 0 = not.
    feature_settings
        How ``features`` were made (recorded; must be reused at prediction time).
    hyperparameter_sets, seeds
        The ensemble has ``len(hyperparameter_sets) * len(seeds)`` members.
    ids
        Structure identifiers (for the training-data hash).
    """
    labels = np.asarray(labels, dtype=int)
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature matrices but {len(labels)} labels")
    if len(set(labels.tolist())) < 2:
        raise ValueError("training labels contain a single class")
    members = []
    for hyper in hyperparameter_sets:
        for seed in seeds:
            model = train_member(features, labels, hyper, seed, feature_settings.input_dim)
            members.append((hyper, int(seed), model))
    ids = list(ids) if ids is not None else [str(i) for i in range(len(labels))]
    training = {
        "n_samples": len(labels),
        "n_positive": int(labels.sum()),
        "data_sha256": training_data_hash(ids, labels.tolist()),
    }
    return AtomSetsEnsemble(
        feature_settings=feature_settings,
        members=members,
        domain=ApplicabilityDomain.fit(features),
        training=training,
    )
