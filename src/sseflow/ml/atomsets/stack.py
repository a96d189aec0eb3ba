"""The P_SI model: composition + structure components, their combination and calibration.

``P_SI`` is the probability that a structure's room-temperature Li-ion conductivity is at
least 1e-4 S/cm. The model shipped with sseflow (and the one ``sseflow train`` writes)
is a :class:`PSIModel`:

1. the composition component (:class:`~sseflow.ml.atomsets.components.ForestComponent`
   on :mod:`sseflow.ml.composition` features) gives ``p_composition``;
2. the structure component - an AtomSets ensemble or a forest on pooled MEGNet atom
   features, both on the features of ``feature_settings`` - gives ``p_structure``;
3. the :class:`Combiner` merges them (weighted average of probabilities, the same with
   its weight switched for compositions far from the training set, or logistic stacking
   on their logits) into a raw score; rows without a structure (training data only) use
   ``p_composition``;
4. the :class:`~sseflow.ml.calibration.Calibrator` turns the raw score into P_SI;
5. ``d_training`` (:class:`~sseflow.ml.atomsets.ensemble.ApplicabilityDomain`) is the
   distance of the structure's mean-pooled atom features to the nearest training
   structure.
   ``d_composition`` (models that store a composition domain) is the same kind of distance
   for the composition features.

Every choice (component configurations, combiner, calibration) is made by nested
cross-validation (:mod:`sseflow.ml.atomsets.selection`) and recorded, with the CV
numbers, in ``manifest.json``. ``p_si_std`` is the spread of P_SI over the members of
the two components: networks of the AtomSets ensemble, or ten equal groups of trees of
a forest (``sqrt(var_structure + var_composition)``, each varying one component's
members with the other at its mean).

Artifact layout (``format_version`` 2): ``manifest.json``, ``composition.npz`` (tree
arrays), ``structure/`` (an AtomSets ensemble artifact) or ``structure.npz`` (tree
arrays), ``applicability_domain.npz``, ``composition_domain.npz`` (optional), and for
V0 features ``megnet_embedding.npy`` (the parent model's elemental embeddings: a model
of forests on V0 features then scores without TensorFlow). Version-1 artifacts (a bare
AtomSets ensemble) load as a model with only a structure component.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Composition

from sseflow import __version__
from sseflow.ml.atomsets.components import (
    AtomSetsConfig,
    ForestComponent,
    ForestConfig,
    PooledForestConfig,
    pooled_features,
)
from sseflow.ml.atomsets.ensemble import (
    ARTIFACT_FORMAT_VERSION,
    ApplicabilityDomain,
    AtomSetsEnsemble,
    ModelArtifactError,
    manifest_feature_settings,
    nearest_distances,
    read_manifest,
)
from sseflow.ml.atomsets.featurization import FeatureSettings
from sseflow.ml.calibration import Calibrator, logit
from sseflow.ml.composition import composition_features, feature_names
from sseflow.ml.forest import ForestArrays
from sseflow.ml.labels import SUPERIONIC_THRESHOLD_S_PER_CM

#: Layout version of :meth:`PSIModel.save` artifacts.
STACK_FORMAT_VERSION = 2
COMBINERS = ("average", "logistic", "gated_average")


@dataclass
class Combiner:
    """How the two component probabilities become one raw score.

    ``"average"``: ``w p_composition + (1 - w) p_structure``; ``"logistic"``:
    ``sigmoid(a logit(p_composition) + b logit(p_structure) + c)``; ``"gated_average"``:
    the average with weight ``weight_composition`` for a structure whose composition is
    near the training compositions and ``weight_composition_far`` for one whose
    composition distance ``d_composition`` exceeds ``far_distance`` (a composition model
    interpolates between known chemistries but cannot extrapolate to unseen ones).
    Where there is no structure, the raw score is ``p_composition``.
    """

    kind: str = "average"
    weight_composition: float = 0.5
    coef: tuple[float, float, float] = (1.0, 1.0, 0.0)
    weight_composition_far: float | None = None
    far_distance: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in COMBINERS:
            raise ValueError(f"unknown combiner {self.kind!r}; choose from {COMBINERS}")

    def weights(self, d_composition: np.ndarray | None, n: int) -> np.ndarray:
        """Return the composition weight of each of ``n`` rows (average kinds)."""
        if self.kind != "gated_average":
            return np.full(n, self.weight_composition)
        if (
            d_composition is None
            or self.far_distance is None
            or self.weight_composition_far is None
        ):
            raise ValueError("a gated combiner needs d_composition, far weight and far_distance")
        far = np.nan_to_num(np.asarray(d_composition, dtype=float)) > self.far_distance
        return np.where(far, self.weight_composition_far, self.weight_composition)

    def __call__(
        self,
        p_composition: np.ndarray,
        p_structure: np.ndarray,
        d_composition: np.ndarray | None = None,
    ) -> np.ndarray:
        """Return the raw scores (``p_structure`` may hold NaN: no structure).

        ``d_composition`` (the composition-domain distance of each row, see
        :func:`composition_domain`) is needed by the gated combiner only.
        """
        pc = np.asarray(p_composition, dtype=float)
        ps = np.asarray(p_structure, dtype=float)
        if self.kind == "logistic":
            a, b, c = self.coef
            from scipy.special import expit

            both = expit(a * logit(pc) + b * logit(np.nan_to_num(ps)) + c)
        else:
            w = self.weights(d_composition, np.broadcast(pc, ps).shape[-1])
            both = w * pc + (1 - w) * np.nan_to_num(ps)
        return np.where(np.isnan(ps), pc, both)

    @classmethod
    def fit_logistic(cls, pc: np.ndarray, ps: np.ndarray, y: np.ndarray) -> Combiner:
        """Fit logistic stacking on the logits of the two component probabilities."""
        from sklearn.linear_model import LogisticRegression

        x = np.column_stack([logit(pc), logit(ps)])
        model = LogisticRegression(C=1e6, max_iter=1000).fit(x, np.asarray(y, dtype=int))
        a, b = (float(v) for v in model.coef_[0])
        return cls("logistic", coef=(a, b, float(model.intercept_[0])))

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in the manifest."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "weight_composition": self.weight_composition,
            "coef": self.coef,
        }
        if self.kind == "gated_average":
            out["weight_composition_far"] = self.weight_composition_far
            out["far_distance"] = self.far_distance
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Combiner:
        """Rebuild from :meth:`as_dict` output."""
        far_weight, far_distance = data.get("weight_composition_far"), data.get("far_distance")
        return cls(
            data["kind"],
            float(data["weight_composition"]),
            tuple(data["coef"]),
            None if far_weight is None else float(far_weight),
            None if far_distance is None else float(far_distance),
        )


def composition_domain(x_composition: np.ndarray) -> ApplicabilityDomain:
    """Fit the composition domain on training composition features.

    The same construction as the structure domain (z-scored, whitened PCA keeping 99 %
    of the variance, distance to the nearest training row), on the
    :func:`~sseflow.ml.composition.composition_features` of the training rows.
    """
    return ApplicabilityDomain.fit([row[None, :] for row in np.asarray(x_composition)])


def composition_distance(domain: ApplicabilityDomain, x_composition: np.ndarray) -> np.ndarray:
    """Return ``d_composition`` of each row of ``x_composition`` (dimensionless)."""
    return domain.distance([row[None, :] for row in np.asarray(x_composition)])


def far_distance(
    domain: ApplicabilityDomain, groups: Sequence[str], quantile: float = 0.95
) -> float:
    """Return the ``quantile`` of the training rows' own composition distances.

    Each training row's distance is to the nearest training row of *another* group
    (reduced formula): repeated measurements of one compound do not count as neighbours.
    A new composition farther than this from every training row is "far".
    """
    points = domain.training_points
    nearest = nearest_distances(points, points, groups, groups)
    finite = nearest[np.isfinite(nearest)]
    return float(np.quantile(finite, quantile)) if len(finite) else float("inf")


@dataclass
class PSIPrediction:
    """Scores of several structures (arrays in input order)."""

    p_si: np.ndarray
    p_si_std: np.ndarray
    p_composition: np.ndarray
    p_structure: np.ndarray
    d_training: np.ndarray
    d_composition: np.ndarray | None = None


StructureComponent = AtomSetsEnsemble | ForestComponent


@dataclass
class PSIModel:
    """The P_SI model (see the module docstring)."""

    feature_settings: FeatureSettings
    composition: ForestComponent | None
    structure: StructureComponent | None
    combiner: Combiner
    calibrator: Calibrator
    domain: ApplicabilityDomain
    structure_config: Any = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    model_version: str = "unsaved"
    embedding: np.ndarray | None = None
    composition_domain: ApplicabilityDomain | None = None

    def _structure_members(self, features: Sequence[np.ndarray]) -> np.ndarray:
        if isinstance(self.structure, AtomSetsEnsemble):
            return self.structure.predict_features(features).member_probabilities
        if isinstance(self.structure, ForestComponent):
            return self.structure.predict(pooled_features(features))[1]
        raise ModelArtifactError("the model has no structure component")

    def predict(
        self,
        compositions: Sequence[Composition | str],
        structure_features: Sequence[np.ndarray | None],
    ) -> PSIPrediction:
        """Score rows given their compositions and atom features (None: no structure).

        Parameters
        ----------
        compositions
            One composition per row.
        structure_features
            ``(n_sites, input_dim)`` MEGNet atom features of each row's simplified
            structure (``feature_settings``), or None where there is no structure.

        Returns
        -------
        PSIPrediction
            ``p_structure`` and ``d_training`` are NaN for rows without a structure;
            ``p_composition`` is NaN when the model has no composition component.
        """
        n = len(compositions)
        if len(structure_features) != n:
            raise ValueError(f"{n} compositions but {len(structure_features)} feature rows")
        rows = [i for i, f in enumerate(structure_features) if f is not None]
        feats = [np.asarray(structure_features[i], dtype=np.float64) for i in rows]
        dim = self.feature_settings.input_dim
        for i, f in zip(rows, feats, strict=True):
            if f.ndim != 2 or f.shape[1] != dim:
                raise ValueError(f"features of row {i} have shape {f.shape}; expected (n, {dim})")
        pc, pc_members = np.full(n, np.nan), np.full((1, n), np.nan)
        d_composition = None
        # composition features only for a part that reads them (not a bare AtomSets model)
        if self.composition is not None or self.composition_domain is not None:
            x_composition = composition_features(compositions)
            if self.composition is not None:
                pc, pc_members = self.composition.predict(x_composition)
            if self.composition_domain is not None and n:
                d_composition = composition_distance(self.composition_domain, x_composition)
        ps_members = np.full((1, n), np.nan)
        d_training = np.full(n, np.nan)
        if rows and self.structure is not None:
            members = self._structure_members(feats)
            ps_members = np.full((len(members), n), np.nan)
            ps_members[:, rows] = members
        if rows:
            d_training[rows] = self.domain.distance(feats)
        ps = ps_members.mean(axis=0)
        if self.composition is None:
            p_si = self.calibrator(ps)
            spread = self.calibrator(ps_members).std(axis=0)
        else:
            p_si = self.calibrator(self.combiner(pc, ps, d_composition))
            var_s = self.calibrator(self.combiner(pc[None], ps_members, d_composition)).var(axis=0)
            var_c = self.calibrator(self.combiner(pc_members, ps[None], d_composition)).var(axis=0)
            spread = np.sqrt(np.nan_to_num(var_s) + var_c)
        return PSIPrediction(p_si, spread, pc, ps, d_training, d_composition)

    def manifest(self) -> dict[str, Any]:
        """Return the JSON manifest of this model."""
        from sseflow.provenance import software_versions

        structure: dict[str, Any] | None = None
        if isinstance(self.structure, AtomSetsEnsemble):
            structure = {"kind": "atomsets", "directory": "structure"}
        elif isinstance(self.structure, ForestComponent):
            structure = {
                "kind": "pooled_forest",
                "file": "structure.npz",
                "config": asdict(self.structure_config) if self.structure_config else None,
            }
        return {
            "format_version": STACK_FORMAT_VERSION,
            "kind": "psi_stack",
            "model_version": self.model_version,
            "sseflow_version": __version__,
            "created_at": datetime.now(UTC).isoformat(),
            "superionic_threshold_s_per_cm": SUPERIONIC_THRESHOLD_S_PER_CM,
            "feature_settings": self.feature_settings.as_dict(),
            "composition": None
            if self.composition is None
            else {
                "file": "composition.npz",
                "config": asdict(self.composition.config),
                "n_features": len(feature_names()),
            },
            "structure": structure,
            "combiner": self.combiner.as_dict(),
            "calibration": self.calibrator.as_dict(),
            "applicability_domain": self.domain.manifest_entry(),
            "composition_domain": None
            if self.composition_domain is None
            else {
                **self.composition_domain.manifest_entry("composition_domain.npz"),
                "definition": (
                    "composition features z-scored on training, PCA (whitened) keeping "
                    f"{self.composition_domain.variance_kept:.0%} of variance; Euclidean "
                    "distance to the nearest training composition"
                ),
            },
            "selection": self.selection,
            "training": self.training,
            "metrics": self.metrics,
            "software": software_versions(
                ["tensorflow", "tf-keras", "megnet", "maml", "pymatgen", "scikit-learn"]
            ),
        }

    def save(self, directory: str | Path, model_version: str | None = None) -> Path:
        """Write the artifact directory (layout in the module docstring) and return it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if model_version is not None:
            self.model_version = model_version
        if self.composition is not None:
            self.composition.forest.save(directory / "composition.npz")
        if isinstance(self.structure, AtomSetsEnsemble):
            self.structure.save(directory / "structure", model_version=self.model_version)
        elif isinstance(self.structure, ForestComponent):
            self.structure.forest.save(directory / "structure.npz")
        np.savez(directory / "applicability_domain.npz", **self.domain.to_arrays())  # type: ignore[arg-type]  # mypy matches **dict against numpy's allow_pickle: bool
        if self.composition_domain is not None:
            arrays = self.composition_domain.to_arrays()
            np.savez(directory / "composition_domain.npz", **arrays)  # type: ignore[arg-type]  # as above
        if self.feature_settings.level == 0:
            if self.embedding is None:
                from sseflow.ml.atomsets.features import elemental_embeddings

                self.embedding = elemental_embeddings()
            np.save(directory / "megnet_embedding.npy", self.embedding)
        (directory / "manifest.json").write_text(json.dumps(self.manifest(), indent=2) + "\n")
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> PSIModel:
        """Load a version-2 artifact, or wrap a version-1 AtomSets ensemble artifact."""
        directory = Path(directory)
        manifest = read_manifest(directory, (ARTIFACT_FORMAT_VERSION, STACK_FORMAT_VERSION))
        if manifest["format_version"] == ARTIFACT_FORMAT_VERSION:
            return cls.from_ensemble(AtomSetsEnsemble.load(directory))
        settings = manifest_feature_settings(directory, manifest)
        composition = None
        if manifest.get("composition"):
            entry = manifest["composition"]
            if entry.get("n_features") != len(feature_names()):
                raise ModelArtifactError(f"{directory}: composition features changed; retrain")
            composition = ForestComponent(
                ForestConfig(**entry["config"]), ForestArrays.load(directory / entry["file"])
            )
        structure: StructureComponent | None = None
        structure_config: Any = None
        entry = manifest.get("structure") or {}
        if entry.get("kind") == "atomsets":
            structure = AtomSetsEnsemble.load(directory / entry["directory"])
        elif entry.get("kind") == "pooled_forest":
            raw = dict(entry["config"])
            structure_config = PooledForestConfig(
                level=raw["level"],
                simplification=raw["simplification"],
                forest=ForestConfig(**raw["forest"]),
            )
            structure = ForestComponent(
                structure_config.forest, ForestArrays.load(directory / entry["file"])
            )
        with np.load(directory / manifest["applicability_domain"]["file"]) as arrays:
            domain = ApplicabilityDomain.from_arrays(arrays)
        composition_dom = None
        if manifest.get("composition_domain"):
            with np.load(directory / manifest["composition_domain"]["file"]) as arrays:
                composition_dom = ApplicabilityDomain.from_arrays(arrays)
        embedding_file = directory / "megnet_embedding.npy"
        embedding = np.load(embedding_file) if embedding_file.is_file() else None
        return cls(
            feature_settings=settings,
            composition=composition,
            structure=structure,
            combiner=Combiner.from_dict(manifest["combiner"]),
            calibrator=Calibrator.from_dict(manifest["calibration"]),
            domain=domain,
            structure_config=structure_config,
            training=manifest.get("training", {}),
            metrics=manifest.get("metrics", {}),
            selection=manifest.get("selection", {}),
            model_version=manifest.get("model_version", "unknown"),
            embedding=embedding,
            composition_domain=composition_dom,
        )

    @classmethod
    def from_ensemble(cls, ensemble: AtomSetsEnsemble) -> PSIModel:
        """Wrap a bare AtomSets ensemble (a version-1 artifact): P_SI = its mean output."""
        hyper = ensemble.members[0][0] if ensemble.members else None
        return cls(
            feature_settings=ensemble.feature_settings,
            composition=None,
            structure=ensemble,
            combiner=Combiner("average", weight_composition=0.0),
            calibrator=Calibrator("none"),
            domain=ensemble.domain,
            structure_config=AtomSetsConfig(
                ensemble.feature_settings.level, ensemble.feature_settings.simplification, hyper
            )
            if hyper
            else None,
            training=ensemble.training,
            metrics=ensemble.metrics,
            model_version=ensemble.model_version,
        )
