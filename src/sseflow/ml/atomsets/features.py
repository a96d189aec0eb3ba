"""Disorder-aware atom features from the pretrained MEGNet formation-energy model.

The features are those of McHaffie et al. (Digital Discovery 4, 1518 (2025)): the
MEGNet model trained on Materials Project (2019.4.1) formation energies, as shipped in
the maml wheel (``maml/describers/data/megnet_models/formation_energy.hdf5``), is used
as a frozen featurizer.

- ``V0`` (level 0): the 16-dimensional learned elemental embedding of each site.
- ``V1`` (level 1): the 32-dimensional atom features after the first graph convolution
  (output 0 of ``meg_net_layer_1``).

A disordered site gets the occupancy-weighted sum of its species' embeddings,
``W_site = sum_i x_i W_{Z_i}`` (x_i: occupancy of species i on the site, so a partly
vacant site has a shorter vector), exactly as in the paper. maml's ``MEGNetSite``
cannot do this (megnet's graph converter asks every site for a single ``specie``), so
V1 is computed by a sub-model that takes float node features instead of the integer
embedding lookup and reuses the pretrained layers up to ``meg_net_layer_1``. On ordered
input it gives maml's ``MEGNetSite(level=1)`` result (tested).

Many structures are evaluated as one disjoint batched graph (megnet's own batching
convention: per-atom and per-bond graph indices), which is much faster than one
structure at a time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import DummySpecies, Element, Structure

# tf-keras (Keras 2) is needed to load megnet's HDF5 models; this must be set before
# TensorFlow is first imported anywhere in the process.
if "tensorflow" not in sys.modules:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"

#: Number of elemental embedding features (V0) and atom features after one convolution (V1).
FEATURE_DIMENSIONS: dict[int, int] = {0: 16, 1: 32}
#: Default number of TensorFlow threads (the machine is usually shared).
DEFAULT_TF_THREADS = int(os.environ.get("SSEFLOW_TF_THREADS", "1"))
#: Identifier of the parent MEGNet model recorded with every feature set.
PARENT_MODEL_NAME = "megnet-formation-energy-mp-2019.4.1 (maml)"


class FeaturizationError(ValueError):
    """A structure cannot be turned into MEGNet atom features."""


class TensorFlowSetupError(RuntimeError):
    """TensorFlow was imported in a mode megnet's models cannot be loaded in."""


def apply_megnet_shims() -> None:
    """Restore pymatgen names that megnet 1.3.2 still imports (renamed in pymatgen)."""
    import pymatgen.analysis.local_env as local_env

    for suffix in ("real", "reciprocal", "relative"):
        old, new = f"BrunnerNN_{suffix}", f"BrunnerNN{suffix.capitalize()}"
        if not hasattr(local_env, old) and hasattr(local_env, new):
            setattr(local_env, old, getattr(local_env, new))


_TF_LOCK = threading.Lock()
_TF_CONFIGURED: dict[str, int] = {}
#: TensorFlow log output is silenced unless SSEFLOW_TF_VERBOSE=1 or quiet_tensorflow(False).
_TF_QUIET: dict[str, bool] = {"quiet": os.environ.get("SSEFLOW_TF_VERBOSE", "") != "1"}


def quiet_tensorflow(quiet: bool = True) -> None:
    """Silence (default) or show TensorFlow's C++, absl and Keras log output.

    TensorFlow 2.21 writes its start-up lines (oneDNN, CPU features, CUDA probing) from
    C++ straight to the process's standard error, before and regardless of
    ``TF_CPP_MIN_LOG_LEVEL``; when quiet, :func:`import_tensorflow` therefore imports it
    and initialises its devices with file descriptor 2 pointed at ``/dev/null`` (Python
    exceptions still propagate), and lowers the ``absl``/``tensorflow`` Python loggers
    and tf-keras warnings to errors. Call it before TensorFlow is imported; the command
    line calls ``quiet_tensorflow(not verbose)``.
    """
    _TF_QUIET["quiet"] = quiet
    if "tensorflow" not in sys.modules:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3" if quiet else "0"
    else:
        _set_python_loggers()


def _set_python_loggers() -> None:
    import logging
    import warnings

    quiet = _TF_QUIET["quiet"]
    for name in ("absl", "tensorflow", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.NOTSET)
    if quiet:
        # tf-keras warns about unseeded initializers each time a network is built
        warnings.filterwarnings("ignore", module=r"tf_keras\..*")


@contextlib.contextmanager
def _stderr_to_devnull(active: bool) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null (C++ libraries write there directly)."""
    if not active:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def import_tensorflow(n_threads: int | None = None) -> Any:
    """Import TensorFlow (legacy Keras) and cap its thread pools.

    Parameters
    ----------
    n_threads
        Intra- and inter-op threads. Only the first call in a process can set them;
        defaults to ``SSEFLOW_TF_THREADS`` (1 if unset).

    Returns
    -------
    module
        The ``tensorflow`` module.
    """
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise TensorFlowSetupError(
            "TF_USE_LEGACY_KERAS=1 must be set before TensorFlow is imported "
            "(megnet models need tf-keras). Import sseflow.ml.atomsets.features first "
            "or export TF_USE_LEGACY_KERAS=1."
        )
    quiet = _TF_QUIET["quiet"] and "tensorflow" not in sys.modules
    if quiet:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_to_devnull(quiet):
        import tensorflow as tf
    _set_python_loggers()
    with _TF_LOCK:
        if not _TF_CONFIGURED:
            threads = int(n_threads or DEFAULT_TF_THREADS)
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(threads)
                _TF_CONFIGURED["threads"] = threads
            except RuntimeError:  # runtime already initialised elsewhere: keep its pools
                _TF_CONFIGURED["threads"] = -1
            with _stderr_to_devnull(quiet):
                tf.config.list_physical_devices()  # CUDA probing logs here, once
    return tf


def parent_model_path() -> Path:
    """Return the path of the pretrained MEGNet formation-energy model shipped by maml."""
    import maml

    path = Path(maml.__file__).parent / "describers/data/megnet_models/formation_energy.hdf5"
    if not path.is_file():
        raise FileNotFoundError(f"maml's MEGNet formation-energy model is missing: {path}")
    return path


@cache
def parent_model_sha256() -> str:
    """Return the SHA-256 of the parent model file (recorded in model manifests)."""
    return hashlib.sha256(parent_model_path().read_bytes()).hexdigest()


@dataclass
class _ParentModel:
    embedding: np.ndarray  # (95, 16) elemental embeddings indexed by Z
    level1: Any  # keras Model: float node features -> meg_net_layer_1 atom output
    bond_centers: np.ndarray
    bond_width: float
    cutoff_angstrom: float


_PARENT_LOCK = threading.Lock()
_PARENT: dict[str, _ParentModel] = {}


def load_parent_model() -> _ParentModel:
    """Load the pretrained model once per process and build the level-1 sub-model."""
    with _PARENT_LOCK:
        if "model" in _PARENT:
            return _PARENT["model"]
        import_tensorflow()
        apply_megnet_shims()
        from megnet.models import MEGNetModel
        from tf_keras.layers import Input
        from tf_keras.models import Model

        megnet_model = MEGNetModel.from_file(str(parent_model_path()))
        keras_model = megnet_model.model
        embedding_layer = keras_model.get_layer("embedding_1")
        embedding = np.asarray(embedding_layer.get_weights()[0], dtype=np.float64)
        n_embed = embedding.shape[1]
        bond_converter = megnet_model.graph_converter.bond_converter
        centers = np.asarray(bond_converter.centers, dtype=np.float64)

        # Rebuild the front of the network with a float node input in place of the
        # integer Embedding lookup; every other layer is the pretrained one.
        node_in = Input(shape=(None, n_embed), dtype="float32", name="node_features")
        bond_in = Input(shape=(None, len(centers)), dtype="float32", name="bond_features")
        state_in = Input(shape=(None, 2), dtype="float32", name="state")
        index1_in = Input(shape=(None,), dtype="int32", name="index1")
        index2_in = Input(shape=(None,), dtype="int32", name="index2")
        gnode_in = Input(shape=(None,), dtype="int32", name="atom_graph_index")
        gbond_in = Input(shape=(None,), dtype="int32", name="bond_graph_index")
        node = keras_model.get_layer("dense_2")(keras_model.get_layer("dense_1")(node_in))
        bond = keras_model.get_layer("dense_4")(keras_model.get_layer("dense_3")(bond_in))
        state = keras_model.get_layer("dense_6")(keras_model.get_layer("dense_5")(state_in))
        conv = keras_model.get_layer("meg_net_layer_1")(
            [node, bond, state, index1_in, index2_in, gnode_in, gbond_in]
        )
        level1 = Model(
            inputs=[node_in, bond_in, state_in, index1_in, index2_in, gnode_in, gbond_in],
            outputs=conv[0],
        )
        parent = _ParentModel(
            embedding=embedding,
            level1=level1,
            bond_centers=centers,
            bond_width=float(bond_converter.width),
            cutoff_angstrom=float(megnet_model.graph_converter.cutoff),
        )
        _PARENT["model"] = parent
        return parent


def elemental_embeddings() -> np.ndarray:
    """Return the (95, 16) elemental embedding matrix of the parent model (row = Z)."""
    return load_parent_model().embedding.copy()


def site_embeddings(structure: Structure, embedding: np.ndarray | None = None) -> np.ndarray:
    """Return occupancy-weighted elemental embeddings of every site (V0).

    Parameters
    ----------
    structure
        Structure, possibly with partial occupancies and oxidation states.
    embedding
        (95, 16) embedding matrix; the parent model's when omitted.

    Returns
    -------
    numpy.ndarray
        (n_sites, 16) array, ``sum_i occupancy_i * W[Z_i]`` per site.
    """
    if embedding is None:
        embedding = load_parent_model().embedding
    if len(structure) == 0:
        raise FeaturizationError("structure has no sites (did the simplification remove all?)")
    out = np.zeros((len(structure), embedding.shape[1]), dtype=np.float64)
    for i, site in enumerate(structure):
        for species, occupancy in site.species.items():
            element = species if isinstance(species, Element) else getattr(species, "element", None)
            if not isinstance(element, Element) or isinstance(species, DummySpecies):
                raise FeaturizationError(
                    f"site {i} holds {species!s}, which is not a chemical element"
                )
            if embedding.shape[0] <= element.Z:
                raise FeaturizationError(f"no MEGNet embedding for {element} (Z={element.Z})")
            out[i] += float(occupancy) * embedding[element.Z]
    return out


@dataclass
class _Graph:
    nodes: np.ndarray  # (n_atoms, 16)
    distances_angstrom: np.ndarray  # (n_bonds,)
    index1: np.ndarray
    index2: np.ndarray


def _structure_graph(structure: Structure, parent: _ParentModel) -> _Graph:
    from megnet.utils.data import get_graphs_within_cutoff

    nodes = site_embeddings(structure, parent.embedding)
    index1, index2, _, distances = get_graphs_within_cutoff(structure, parent.cutoff_angstrom)
    if len(index1) == 0:
        raise FeaturizationError(
            f"no neighbours within {parent.cutoff_angstrom} A: MEGNet graph has no bonds"
        )
    return _Graph(nodes, np.asarray(distances, dtype=np.float64), index1, index2)


def _level1_batch(graphs: Sequence[_Graph], parent: _ParentModel) -> list[np.ndarray]:
    """Evaluate several graphs as one disjoint graph; return per-structure V1."""
    n_atoms = np.array([len(g.nodes) for g in graphs])
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    nodes = np.concatenate([g.nodes for g in graphs]).astype(np.float32)
    dist = np.concatenate([g.distances_angstrom for g in graphs])
    bonds = np.exp(-((dist[:, None] - parent.bond_centers[None, :]) ** 2) / parent.bond_width**2)
    index1 = np.concatenate([g.index1 + o for g, o in zip(graphs, offsets, strict=True)])
    index2 = np.concatenate([g.index2 + o for g, o in zip(graphs, offsets, strict=True)])
    gnode = np.repeat(np.arange(len(graphs)), n_atoms)
    gbond = np.repeat(np.arange(len(graphs)), [len(g.index1) for g in graphs])
    state = np.zeros((1, len(graphs), 2), dtype=np.float32)
    inputs = [
        nodes[None],
        bonds.astype(np.float32)[None],
        state,
        index1.astype(np.int32)[None],
        index2.astype(np.int32)[None],
        gnode.astype(np.int32)[None],
        gbond.astype(np.int32)[None],
    ]
    out = np.asarray(parent.level1(inputs, training=False))[0].astype(np.float64)
    return np.split(out, np.cumsum(n_atoms)[:-1])


def atom_features(
    structures: Sequence[Structure], level: int = 1, max_atoms_per_batch: int = 1000
) -> list[np.ndarray]:
    """Return MEGNet atom feature matrices (one row per site) for several structures.

    Parameters
    ----------
    structures
        Structures (ordered or disordered); simplify them beforehand if wanted.
    level
        0 for elemental embeddings (V0, 16 features), 1 for atom features after one
        graph convolution (V1, 32 features).
    max_atoms_per_batch
        Structures are grouped into disjoint-graph batches of at most this many atoms.
        1000 was fastest on the 254 OBELiX training structures (26k atoms, 1.4M bonds;
        ``benchmarks/atomsets.py --stage batching``, numbers in docs/atomsets.md).

    Returns
    -------
    list of numpy.ndarray
        ``(n_sites_i, n_features)`` per structure, in input order.

    Raises
    ------
    FeaturizationError
        If a structure has no sites, a non-element species or no bonds within the
        parent model's 5 A cutoff.
    """
    if level not in FEATURE_DIMENSIONS:
        raise ValueError(f"level must be one of {sorted(FEATURE_DIMENSIONS)}, got {level}")
    parent = load_parent_model()
    if level == 0:
        return [site_embeddings(s, parent.embedding) for s in structures]
    graphs = [_structure_graph(s, parent) for s in structures]
    results: list[np.ndarray] = []
    batch: list[_Graph] = []
    n_batch = 0
    for graph in graphs:
        if batch and n_batch + len(graph.nodes) > max_atoms_per_batch:
            results.extend(_level1_batch(batch, parent))
            batch, n_batch = [], 0
        batch.append(graph)
        n_batch += len(graph.nodes)
    if batch:
        results.extend(_level1_batch(batch, parent))
    return results
