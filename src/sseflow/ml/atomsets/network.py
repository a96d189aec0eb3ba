"""The AtomSets network: builder, cyclical learning-rate schedule, training one member.

Reproduces the supervised model of McHaffie et al. (Digital Discovery 4, 1518 (2025)):
an AtomSets network (maml) on frozen MEGNet atom features (see
:mod:`sseflow.ml.atomsets.features`) classifies a structure as superionic
(``sigma_RT >= 1e-4 S/cm``) or not. Ensembles of such networks are in
:mod:`sseflow.ml.atomsets.ensemble`.

Differences from the paper, and why
-----------------------------------
- Regularisation: maml's ``construct_atom_sets`` has no dropout or weight decay, which
  the paper added. :func:`make_regularized_atom_sets` builds a ``maml.models.AtomSets``
  (keeping its batching/fit/predict) and replaces its network by the same network - dense
  layers, maml's ``WeightedSet2Set`` readout, dense layers, sigmoid - with a ``Dropout``
  after every hidden dense layer and L2 kernel penalties, separately for the layers before
  ("initial") and after ("final") the set2set readout, as in the paper's Table C.7.
- Optimiser: the paper used LAMB + Lookahead (tensorflow-addons, no longer maintained)
  with a triangular2 cyclical learning rate; we use Adam with the same triangular2
  cyclical schedule (``Triangular2CyclicalLearningRate``).
- No pre-training on the MatBench metal classification set (not available offline);
  the networks start from random weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sseflow.ml.atomsets.features import import_tensorflow


@dataclass(frozen=True)
class AtomSetsHyperparameters:
    """One network configuration (names follow the paper's Table C.7).

    ``n_layers`` dense layers of ``n_neurons`` units are used both before ("initial")
    and after ("final") the set2set readout. Learning rates are per optimiser step.
    """

    n_layers: int = 2
    n_neurons: int = 64
    dropout_initial: float = 0.1
    dropout_final: float = 0.1
    l2_initial: float = 1e-3
    l2_final: float = 1e-3
    batch_size: int = 32
    learning_rate_initial: float = 6e-5
    learning_rate_max: float = 3e-3
    epochs: int = 120
    set2set_steps: int = 3
    cycle_epochs: int = 20

    def as_dict(self) -> dict[str, Any]:
        """Return the hyperparameters as a JSON-ready dict."""
        return asdict(self)


#: Candidate configurations compared by k-fold CV (benchmarks/atomsets.py). Sets 0-2 are
#: the paper's Table C.8 optima for validation clusters 0, 3 and 7; with Adam instead of
#: LAMB and a fixed 50 epochs (the paper picked the best of up to 500) their strong final
#: L2 penalties under-fit here. Sets 3-4 are milder variants within the paper's Table C.7
#: ranges. The shipped ensemble uses the sets CV kept (see its manifest).
CANDIDATE_HYPERPARAMETER_SETS: tuple[AtomSetsHyperparameters, ...] = (
    AtomSetsHyperparameters(
        n_layers=2,
        n_neurons=32,
        dropout_initial=0.2,
        dropout_final=0.1,
        l2_initial=1e-3,
        l2_final=1e-1,
        batch_size=32,
        learning_rate_initial=6e-5,
        learning_rate_max=5e-3,
        epochs=50,
    ),
    AtomSetsHyperparameters(
        n_layers=2,
        n_neurons=128,
        dropout_initial=0.2,
        dropout_final=0.2,
        l2_initial=1e-4,
        l2_final=1e-1,
        batch_size=32,
        learning_rate_initial=6e-5,
        learning_rate_max=3e-3,
        epochs=50,
    ),
    AtomSetsHyperparameters(
        n_layers=2,
        n_neurons=32,
        dropout_initial=0.1,
        dropout_final=0.1,
        l2_initial=1.0,
        l2_final=1e-2,
        batch_size=32,
        learning_rate_initial=8e-5,
        learning_rate_max=5e-3,
        epochs=50,
    ),
    AtomSetsHyperparameters(
        n_layers=2,
        n_neurons=64,
        dropout_initial=0.1,
        dropout_final=0.1,
        l2_initial=1e-3,
        l2_final=1e-3,
        batch_size=32,
        learning_rate_initial=6e-5,
        learning_rate_max=3e-3,
        epochs=60,
    ),
    AtomSetsHyperparameters(
        n_layers=2,
        n_neurons=128,
        dropout_initial=0.15,
        dropout_final=0.1,
        l2_initial=1e-4,
        l2_final=1e-3,
        batch_size=32,
        learning_rate_initial=6e-5,
        learning_rate_max=1e-3,
        epochs=60,
    ),
)


def _learning_rate_schedule_class() -> type:
    tf = import_tensorflow()
    from tf_keras.optimizers.schedules import LearningRateSchedule

    class Triangular2CyclicalLearningRate(LearningRateSchedule):
        """Cyclical learning rate whose amplitude halves every cycle (Smith, 2017)."""

        def __init__(self, initial: float, maximum: float, step_size: int) -> None:
            self.initial = float(initial)
            self.maximum = float(maximum)
            self.step_size = max(int(step_size), 1)

        def __call__(self, step: Any) -> Any:
            step = tf.cast(step, tf.float32)
            cycle = tf.floor(1.0 + step / (2.0 * self.step_size))
            x = tf.abs(step / self.step_size - 2.0 * cycle + 1.0)
            scale = 1.0 / tf.pow(2.0, cycle - 1.0)
            return self.initial + (self.maximum - self.initial) * tf.maximum(0.0, 1 - x) * scale

        def get_config(self) -> dict[str, Any]:
            return {
                "initial": self.initial,
                "maximum": self.maximum,
                "step_size": self.step_size,
            }

    return Triangular2CyclicalLearningRate


def build_regularized_atom_sets(
    input_dim: int, hyper: AtomSetsHyperparameters, steps_per_epoch: int
) -> Any:
    """Build and compile the regularised AtomSets network (a tf-keras Model).

    Same graph as ``maml.models.dl._atomsets.construct_atom_sets`` with
    ``is_embedding=False, symmetry_func="set2set", is_classification=True``, plus
    dropout and L2 kernel penalties.
    """
    import_tensorflow()
    from maml.models.dl._layers import WeightedSet2Set
    from tf_keras.layers import Dense, Dropout, Input
    from tf_keras.models import Model
    from tf_keras.optimizers import Adam
    from tf_keras.regularizers import l2

    node_in = Input(shape=(None, input_dim), dtype="float32", name="node_feature_input")
    weight_in = Input(shape=(None,), dtype="float32", name="weight_input")
    graph_in = Input(shape=(None,), dtype="int32", name="node_in_graph_id")
    out = node_in
    for _ in range(hyper.n_layers):
        out = Dense(hyper.n_neurons, activation="relu", kernel_regularizer=l2(hyper.l2_initial))(
            out
        )
        out = Dropout(hyper.dropout_initial)(out)
    out = WeightedSet2Set(T=hyper.set2set_steps, n_hidden=hyper.n_neurons)(
        [out, weight_in, graph_in]
    )
    for _ in range(hyper.n_layers):
        out = Dense(hyper.n_neurons, activation="relu", kernel_regularizer=l2(hyper.l2_final))(out)
        out = Dropout(hyper.dropout_final)(out)
    out = Dense(1, activation="sigmoid", kernel_regularizer=l2(hyper.l2_final))(out)
    model = Model(inputs=[node_in, weight_in, graph_in], outputs=out)
    schedule = _learning_rate_schedule_class()(
        hyper.learning_rate_initial,
        hyper.learning_rate_max,
        step_size=hyper.cycle_epochs * steps_per_epoch // 2,
    )
    model.compile(Adam(learning_rate=schedule), "binary_crossentropy")
    return model


def _atom_sets_base() -> type:
    import_tensorflow()
    from maml.models import AtomSets

    return AtomSets


def make_regularized_atom_sets(
    input_dim: int, hyper: AtomSetsHyperparameters, steps_per_epoch: int = 1
) -> Any:
    """Return a ``maml.models.AtomSets`` classifier whose network is regularised.

    maml's constructor builds its own (unregularised) network; it is replaced by
    :func:`build_regularized_atom_sets`, keeping maml's data generator, ``fit`` and
    ``predict_objs``/``_predict``.
    """
    base = _atom_sets_base()
    atom_sets = base(
        input_dim=input_dim,
        is_embedding=False,
        n_neurons=(hyper.n_neurons,) * hyper.n_layers,
        n_neurons_final=(hyper.n_neurons,) * hyper.n_layers,
        symmetry_func="set2set",
        loss="binary_crossentropy",
        is_classification=True,
        T=hyper.set2set_steps,
        n_hidden=hyper.n_neurons,
    )
    atom_sets.model = build_regularized_atom_sets(input_dim, hyper, steps_per_epoch)
    return atom_sets


def predict_probabilities(atom_sets: Any, features: Sequence[np.ndarray]) -> np.ndarray:
    """Return sigmoid outputs, one per structure (maml's generator, no shuffling)."""
    generator = atom_sets._get_data_generator(
        list(features), [0.0] * len(features), batch_size=128, is_shuffle=False
    )
    out = [np.asarray(atom_sets.model(batch[0], training=False))[0, :, 0] for batch in generator]
    return np.concatenate(out).astype(np.float64)


def train_member(
    features: Sequence[np.ndarray],
    labels: Sequence[int] | np.ndarray,
    hyper: AtomSetsHyperparameters,
    seed: int,
    input_dim: int,
) -> Any:
    """Train one regularised AtomSets classifier.

    Parameters
    ----------
    features
        Atom feature matrices, one ``(n_sites, input_dim)`` array per structure.
    labels
        1 = superionic, 0 = not.
    hyper
        Network configuration; trained for ``hyper.epochs`` epochs.
    seed
        Seeds Python, NumPy and TensorFlow (weights, dropout, batch shuffling).

    Returns
    -------
    maml.models.AtomSets
        The trained classifier.
    """
    tf = import_tensorflow()
    tf.keras.utils.set_random_seed(int(seed))
    steps = math.ceil(len(features) / hyper.batch_size)
    atom_sets = make_regularized_atom_sets(input_dim, hyper, steps_per_epoch=steps)
    targets = np.asarray(labels, dtype=np.float32).reshape(-1, 1)
    atom_sets.fit(
        list(features),
        targets,
        batch_size=hyper.batch_size,
        epochs=hyper.epochs,
        verbose=0,
    )
    return atom_sets
