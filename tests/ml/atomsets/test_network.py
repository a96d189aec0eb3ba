import numpy as np
import pytest

from sseflow.ml import evaluation as E  # noqa: N812
from sseflow.ml.atomsets.network import (
    CANDIDATE_HYPERPARAMETER_SETS,
    AtomSetsHyperparameters,
    predict_probabilities,
    train_member,
)


def test_member_trains_and_predicts_probabilities(obelix_subset):
    feats, y, _, settings = obelix_subset
    hyper = AtomSetsHyperparameters(n_neurons=8, epochs=2, batch_size=16)
    member = train_member(feats[:40], y[:40], hyper, seed=0, input_dim=settings.input_dim)
    p = predict_probabilities(member, [f.astype(np.float32) for f in feats[40:50]])
    assert p.shape == (10,) and np.all((p >= 0) & (p <= 1))


@pytest.mark.slow
def test_training_beats_shuffled_control(obelix_subset):
    feats, y, _, settings = obelix_subset
    hyper = CANDIDATE_HYPERPARAMETER_SETS[3]
    fit_predict = E.atomsets_fit_predict(feats, y, [hyper], [0], settings.input_dim)
    splits = E.stratified_kfold_splits(y, 3, seed=0)[:1]
    fold = E.cross_validate(y, splits, fit_predict)["folds"][0]
    assert fold["model"]["auc_pr"] > fold["controls"]["shuffled"]["auc_pr"] + 0.15
    assert fold["model"]["auc_pr"] > fold["controls"]["mean"]["auc_pr"] + 0.15
