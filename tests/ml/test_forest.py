import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from sseflow.ml.forest import ForestArrays


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_arrays_predict_exactly_like_sklearn(cls, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 12))
    y = (x[:, 0] + x[:, 1] ** 2 > 1).astype(int)
    x[rng.random(x.shape) < 0.05] = np.nan  # missing values take the learned side
    model = cls(50, random_state=0, min_samples_leaf=2, max_features=0.5).fit(x, y)
    test = rng.normal(size=(100, 12))
    test[rng.random(test.shape) < 0.05] = np.nan
    forest = ForestArrays.load(ForestArrays.from_sklearn(model).save(tmp_path / "f.npz"))
    np.testing.assert_allclose(forest.predict_proba(test), model.predict_proba(test)[:, 1])
    assert forest.tree_probabilities(test).shape == (50, 100)


def test_rejects_other_classes():
    model = RandomForestClassifier(5).fit([[0], [1], [2]], [1, 2, 3])
    with pytest.raises(ValueError, match="classes"):
        ForestArrays.from_sklearn(model)
