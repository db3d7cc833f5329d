"""The ``shap`` package explains sapwood models through ``shap_model()`` (its dict-of-arrays
tree format, no xgboost involved), with the values of ``predict_contributions``."""

from __future__ import annotations

import numpy as np
import pytest

import sapwood

shap = pytest.importorskip("shap")


def _data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[rng.random((n, 5)) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 1]) ** 2 - np.nan_to_num(X[:, 2])
    return X, y


@pytest.mark.parametrize(
    "est",
    [
        sapwood.GBTRegressor(n_estimators=20, max_depth=4),
        sapwood.GBTRegressor(
            n_estimators=10, tree_method="approx", grow_policy="lossguide", max_leaves=9
        ),
        sapwood.RFRegressor(n_estimators=8, random_state=0),
        sapwood.GBTClassifier(n_estimators=10, max_depth=3),
    ],
    ids=["hist", "approx-lossguide", "forest", "binary"],
)
def test_shap_tree_explainer_equals_predict_contributions(est) -> None:
    X, y = _data()
    if isinstance(est, sapwood.GBTClassifier):
        y = (y > np.median(y)).astype(int)
    est.fit(X, y)
    explainer = shap.TreeExplainer(est.shap_model())
    rows = X[:80]
    ours = est.predict_contributions(rows)
    np.testing.assert_allclose(explainer.shap_values(rows), ours[:, :-1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(explainer.expected_value, ours[0, -1], rtol=0, atol=1e-5)
    inter = est.predict_contributions(rows[:20], interactions=True)
    np.testing.assert_allclose(
        explainer.shap_interaction_values(rows[:20]), inter[:, :-1, :-1], rtol=0, atol=1e-5
    )


def test_multiclass_and_iteration_range() -> None:
    X, y = _data(seed=1)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    est = sapwood.GBTClassifier(n_estimators=12, max_depth=3).fit(X, labels)
    rows = X[:60]
    explainer = shap.TreeExplainer(est.shap_model(iteration_range=(0, 5)))
    ours = est.predict_contributions(rows, iteration_range=(0, 5))  # (n, classes, M + 1)
    theirs = np.asarray(explainer.shap_values(rows))  # (n, M, classes)
    np.testing.assert_allclose(np.moveaxis(theirs, -1, 1), ours[:, :, :-1], rtol=0, atol=1e-5)
    np.testing.assert_allclose(explainer.expected_value, ours[0, :, -1], rtol=0, atol=1e-5)


def test_categorical_models_are_refused() -> None:
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"c": pd.Categorical(["a", "b", "c", "a"] * 25), "x": np.arange(100.0)})
    est = sapwood.GBTRegressor(n_estimators=2, enable_categorical=True).fit(X, np.arange(100.0))
    with pytest.raises(ValueError, match="no categorical splits"):
        est.shap_model()
