"""Feature contributions (SHAP values and Saabas attributions) against XGBoost's.

Each sapwood model is exported as XGBoost JSON and loaded into ``xgboost.Booster``; its
``pred_contribs`` / ``approx_contribs`` on the same rows must equal sapwood's
``predict_contributions`` to 1e-5 of the values' scale.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import make_classification

from sapwood import GBTClassifier, GBTRegressor, RFClassifier, RFRegressor


def _data(n_classes: int = 2, seed: int = 0):
    X, y = make_classification(
        n_samples=600,
        n_features=7,
        n_informative=4,
        n_classes=n_classes,
        n_clusters_per_class=1,
        random_state=seed,
    )
    X = X.astype(np.float32)
    X[::9, 1] = np.nan
    X[3::13, 4] = np.nan
    return X, y


def _xgb_contribs(
    xgb, model, X, tmp_path, *, approximate=False, iteration_range=None, interactions=False
):
    path = tmp_path / "model.json"
    model.save_model(path, format="xgboost")
    booster = xgb.Booster(model_file=str(path))
    if iteration_range is not None:
        # XGBoost explains a range of rounds through a sliced model.
        booster = booster[iteration_range[0] : iteration_range[1]]
    kwargs = {"approx_contribs": True} if approximate else {}
    kind = {"pred_interactions": True} if interactions else {"pred_contribs": True}
    return booster.predict(xgb.DMatrix(X, missing=np.nan), **kind, **kwargs)


def _assert_close(ours, theirs):
    assert ours.shape == theirs.shape
    scale = max(1.0, float(np.abs(theirs).max()))
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5 * scale)


MODELS = {
    "hist binary": lambda: GBTClassifier(n_estimators=25, max_depth=5),
    "exact binary": lambda: GBTClassifier(n_estimators=20, max_depth=4, tree_method="exact"),
    "approx regression": lambda: GBTRegressor(n_estimators=20, max_depth=4, tree_method="approx"),
    "lossguide regression": lambda: GBTRegressor(
        n_estimators=15, grow_policy="lossguide", max_leaves=24, max_depth=0
    ),
    "deep hist regression": lambda: GBTRegressor(n_estimators=10, max_depth=10),
    "forest classifier": lambda: RFClassifier(n_estimators=30, max_depth=6),
    "forest regressor": lambda: RFRegressor(n_estimators=20, max_depth=6),
}


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("name", list(MODELS))
def test_contributions_equal_xgboost(xgb, tmp_path, name, approximate):
    X, y = _data()
    target = y if "classif" in name or "binary" in name else X[:, 0] * 2 + y
    model = MODELS[name]().fit(X, np.nan_to_num(target))
    ours = model.predict_contributions(X, approximate=approximate)
    _assert_close(ours, _xgb_contribs(xgb, model, X, tmp_path, approximate=approximate))


@pytest.mark.parametrize("approximate", [False, True])
def test_multiclass_contributions_equal_xgboost(xgb, tmp_path, approximate):
    X, y = _data(n_classes=3)
    model = GBTClassifier(n_estimators=12, max_depth=4).fit(X, y)
    ours = model.predict_contributions(X, approximate=approximate)
    assert ours.shape == (X.shape[0], 3, X.shape[1] + 1)
    _assert_close(ours, _xgb_contribs(xgb, model, X, tmp_path, approximate=approximate))


def test_iteration_range_equals_xgboost(xgb, tmp_path):
    X, y = _data()
    model = GBTClassifier(n_estimators=30, max_depth=4).fit(X, y)
    ours = model.predict_contributions(X, iteration_range=(5, 17))
    _assert_close(ours, _xgb_contribs(xgb, model, X, tmp_path, iteration_range=(5, 17)))


@pytest.mark.parametrize("approximate", [False, True])
def test_contributions_add_up_to_the_margin(approximate):
    X, y = _data(n_classes=3)
    model = GBTClassifier(n_estimators=15, max_depth=5).fit(X, y)
    phi = model.predict_contributions(X, approximate=approximate)
    margin = model._model.predict_margin(model._native_X(X), 0, None, None)
    np.testing.assert_allclose(phi.sum(axis=2), margin, atol=1e-4)
    Xb, yb = _data()
    reg = GBTRegressor(n_estimators=15, max_depth=5).fit(Xb, yb.astype(float))
    phi = reg.predict_contributions(Xb, approximate=approximate)
    np.testing.assert_allclose(phi.sum(axis=1), reg.predict(Xb), atol=1e-4)


def test_unused_features_contribute_nothing_and_sparse_input_agrees():
    import scipy.sparse as sp

    X, y = _data()
    X[:, 6] = 0.0  # never split on
    model = GBTRegressor(n_estimators=10, max_depth=4).fit(X, y.astype(float))
    phi = model.predict_contributions(X)
    assert np.all(phi[:, 6] == 0)
    dense = np.where(np.isnan(X), 0.0, X)
    S = sp.csr_matrix(dense)
    missing_as_absent = np.where(dense == 0, np.nan, dense)
    np.testing.assert_allclose(
        model.predict_contributions(S), model.predict_contributions(missing_as_absent), atol=1e-6
    )


def test_contributions_need_a_fitted_model_and_the_right_width():
    from sklearn.exceptions import NotFittedError

    X, y = _data()
    with pytest.raises(NotFittedError):
        GBTRegressor().predict_contributions(X)
    model = GBTRegressor(n_estimators=3).fit(X, y.astype(float))
    with pytest.raises(ValueError, match="features"):
        model.predict_contributions(X[:, :3])


INTERACTION_MODELS = ["hist binary", "exact binary", "lossguide regression", "forest regressor"]


@pytest.mark.parametrize("name", INTERACTION_MODELS)
def test_interactions_equal_xgboost(xgb, tmp_path, name):
    X, y = _data()
    X = X[:150]
    target = y[:150] if "binary" in name else X[:, 0] * 2 + y[:150]
    model = MODELS[name]().fit(X, np.nan_to_num(target))
    ours = model.predict_contributions(X, interactions=True)
    assert ours.shape == (150, 8, 8)
    _assert_close(ours, _xgb_contribs(xgb, model, X, tmp_path, interactions=True))


def test_multiclass_interactions_equal_xgboost_and_add_up(xgb, tmp_path):
    X, y = _data(n_classes=3)
    X, y = X[:120], y[:120]
    model = GBTClassifier(n_estimators=8, max_depth=4).fit(X, y)
    ours = model.predict_contributions(X, interactions=True)
    assert ours.shape == (120, 3, 8, 8)
    _assert_close(ours, _xgb_contribs(xgb, model, X, tmp_path, interactions=True))
    phi = model.predict_contributions(X)
    np.testing.assert_allclose(ours.sum(axis=3), phi, atol=1e-4)
    np.testing.assert_allclose(ours, np.swapaxes(ours, 2, 3), atol=1e-5)


def test_approximate_interactions_equal_xgboost(xgb, tmp_path):
    X, y = _data()
    X = X[:100]
    model = GBTClassifier(n_estimators=10, max_depth=4).fit(X, y[:100])
    ours = model.predict_contributions(X, interactions=True, approximate=True)
    theirs = _xgb_contribs(xgb, model, X, tmp_path, interactions=True, approximate=True)
    _assert_close(ours, theirs)
