"""The estimators' API: scikit-learn checks, bad input, metrics, early stopping, ranges."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss, mean_absolute_error, roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sapwood import GBTClassifier, GBTRegressor


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(0, 0.1, n)
    return X, y


# XGBoost's exact method (and so sapwood's) places thresholds at midpoints between the
# distinct values present in a column, including rows of weight 0, so dropping those rows
# moves thresholds; xgboost.XGBRegressor/XGBClassifier fail these two checks the same way.
_WEIGHT_REASON = (
    "thresholds are midpoints between present values, rows of weight 0 included "
    "(XGBoost's exact semantics; XGBoost fails this check too)"
)
_EXPECTED = {
    "check_sample_weight_equivalence_on_dense_data": _WEIGHT_REASON,
    "check_sample_weight_equivalence_on_sparse_data": _WEIGHT_REASON,
}


@parametrize_with_checks(
    [
        GBTRegressor(n_estimators=10, tree_method="exact"),
        GBTClassifier(n_estimators=10, tree_method="exact"),
    ],
    expected_failed_checks=lambda est: _EXPECTED,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("X", "y", "match"),
    [
        (np.array([[1.0, np.inf], [2.0, 3.0]]), [1.0, 2.0], "infinity"),
        (np.array([[1.0, 2.0], [2.0, 3.0]]), [1.0, np.nan], "NaN"),
        (np.empty((0, 3)), [], "0 sample"),
        (np.array([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0], "2D array"),
        (np.ones((3, 2)), [1.0, 2.0], "inconsistent numbers of samples"),
    ],
)
def test_bad_training_data_raises_value_error(X, y, match):
    with pytest.raises(ValueError, match=match):
        GBTRegressor(tree_method="exact").fit(X, y)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"learning_rate": 0}, ValueError, "learning_rate"),
        ({"max_depth": 0}, ValueError, "max_depth"),
        ({"max_depth": 1.5}, TypeError, "max_depth"),
        ({"subsample": 1.5}, ValueError, "subsample"),
        ({"colsample_bynode": 0}, ValueError, "colsample_bynode"),
        ({"reg_lambda": -1}, ValueError, "reg_lambda"),
        ({"gamma": float("nan")}, ValueError, "gamma"),
        ({"min_child_weight": "a"}, TypeError, "min_child_weight"),
        ({"n_estimators": 0}, ValueError, "n_estimators"),
        ({"objective": "reg:nope"}, ValueError, "unknown objective"),
        ({"objective": "binary:logistic"}, ValueError, "GBTClassifier"),
        ({"max_depth": 0, "tree_method": "exact"}, ValueError, "max_depth"),
        ({"grow_policy": "lossguide", "tree_method": "exact"}, ValueError, "lossguide"),
        ({"grow_policy": "breadth"}, ValueError, "unknown grow_policy"),
        ({"max_bin": 1}, ValueError, "max_bin"),
        ({"max_leaves": -1}, ValueError, "max_leaves"),
        ({"num_parallel_tree": 0}, ValueError, "num_parallel_tree"),
        ({"tree_method": "gpu"}, ValueError, "unknown tree_method"),
        ({"eval_metric": "nope"}, ValueError, "unknown eval_metric"),
        ({"importance_type": "nope"}, ValueError, "importance_type"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"random_state": -3}, ValueError, "random_state"),
        ({"base_score": float("inf")}, ValueError, "base_score"),
        ({"objective": "reg:logistic", "base_score": 2.0}, ValueError, "base_score"),
        ({"early_stopping_rounds": 3}, ValueError, "eval_set"),
    ],
)
def test_bad_parameters_are_named(params, error, match):
    X, y = _data()
    if params.get("objective") == "reg:logistic":
        y = (y > 0).astype(float)
    with pytest.raises(error, match=match):
        GBTRegressor(**params).fit(X, y)


def test_bad_labels_and_weights():
    X, y = _data()
    with pytest.raises(ValueError, match="at least 2 classes"):
        GBTClassifier(tree_method="exact").fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="non-negative"):
        GBTRegressor(tree_method="exact").fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight has"):
        GBTRegressor(tree_method="exact").fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="labels of reg:logistic must be in"):
        GBTRegressor(tree_method="exact", objective="reg:logistic").fit(X, y)
    with pytest.raises(ValueError, match="non-negative"):
        GBTRegressor(tree_method="exact", objective="count:poisson").fit(X, y)
    with pytest.raises(ValueError, match="not seen in y"):
        GBTClassifier(tree_method="exact", n_estimators=2).fit(
            X, y > 0, eval_set=[(X, np.full(len(y), 7))]
        )


def test_predict_before_fit_and_wrong_width():
    from sklearn.exceptions import NotFittedError

    X, y = _data()
    with pytest.raises(NotFittedError):
        GBTRegressor().predict(X)
    est = GBTRegressor(n_estimators=3, tree_method="exact").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        est.predict(X[:, :3])
    with pytest.raises(ValueError, match="iteration_range"):
        est.predict(X, iteration_range=(0, 10))
    with pytest.raises(ValueError, match="infinity"):
        est.predict(np.full((2, 4), np.inf))


def test_repeated_predictions_follow_the_iteration_range():
    # The native model keeps the trees of the last range it predicted with, packed; every
    # range must still get its own trees, one row or many.
    X, y = _data()
    est = GBTRegressor(n_estimators=12, max_depth=4).fit(X, y)
    fresh = {
        r: GBTRegressor(n_estimators=12, max_depth=4).fit(X, y).predict(X, iteration_range=r)
        for r in [(0, 0), (0, 5), (3, 9)]
    }
    for r in [(0, 5), (0, 0), (0, 5), (3, 9), (3, 9), (0, 0)]:
        np.testing.assert_array_equal(est.predict(X, iteration_range=r), fresh[r])
        np.testing.assert_array_equal(est.predict(X[:1], iteration_range=r), fresh[r][:1])
    assert not np.array_equal(fresh[(0, 5)], fresh[(0, 0)])


def test_custom_objective_errors_are_clear():
    X, y = _data()

    def wrong_size(y_true, y_pred):
        return np.zeros(3), np.ones(3)

    def nan_grad(y_true, y_pred):
        return np.full_like(y_pred, np.nan), np.ones_like(y_pred)

    with pytest.raises(ValueError, match="custom objective returned 3 gradients"):
        GBTRegressor(objective=wrong_size, tree_method="exact").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        GBTRegressor(objective=nan_grad, tree_method="exact").fit(X, y)


# ------------------------------------------------------------------------------- behaviour
def test_metrics_equal_scikit_learn_weighted_versions():
    X, y = _data(200, seed=1)
    yb = (y > 0.3).astype(int)
    w = np.random.default_rng(1).uniform(0.2, 2.0, len(y))
    clf = GBTClassifier(
        n_estimators=5, tree_method="exact", eval_metric=["logloss", "auc", "error"]
    ).fit(X, yb, eval_set=[(X, yb)], sample_weight_eval_set=[w])
    p = clf.predict_proba(X)[:, 1]
    hist = clf.evals_result_["validation_0"]
    np.testing.assert_allclose(hist["logloss"][-1], log_loss(yb, p, sample_weight=w), rtol=1e-6)
    np.testing.assert_allclose(hist["auc"][-1], roc_auc_score(yb, p, sample_weight=w), rtol=1e-7)
    err = np.average((p > 0.5) != yb, weights=w)
    np.testing.assert_allclose(hist["error"][-1], err, rtol=1e-7)
    reg = GBTRegressor(n_estimators=5, tree_method="exact", eval_metric="mae").fit(
        X, y, eval_set=[(X, y)]
    )
    np.testing.assert_allclose(
        reg.evals_result_["validation_0"]["mae"][-1],
        mean_absolute_error(y, reg.predict(X)),
        rtol=1e-5,
    )


def test_early_stopping_keeps_trees_and_predicts_with_the_best():
    X, y = _data(300, seed=2)
    est = GBTRegressor(
        n_estimators=300, learning_rate=0.8, tree_method="exact", early_stopping_rounds=3
    ).fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    assert est.n_iterations_ == est.best_iteration_ + 4
    full = est.predict(X, iteration_range=(0, 0))
    best = est.predict(X)
    np.testing.assert_array_equal(
        best, est.predict(X, iteration_range=(0, est.best_iteration_ + 1))
    )
    assert not np.array_equal(full, best)
    assert est.best_score_ == min(est.evals_result_["validation_0"]["rmse"])


def test_classifier_takes_any_labels_and_margins():
    X, y = _data(150, seed=3)
    labels = np.array(["cat", "dog", "emu"])[np.digitize(y, [0.0, 1.0])]
    clf = GBTClassifier(n_estimators=5, tree_method="exact").fit(X, labels)
    assert list(clf.classes_) == ["cat", "dog", "emu"]
    assert set(clf.predict(X)) <= set(labels)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.predict(X, output_margin=True).shape == (150, 3)
    assert clf.apply(X).shape == (150, 15)
    binary = GBTClassifier(n_estimators=5, tree_method="exact").fit(X, y > 0)
    assert binary.predict(X, output_margin=True).shape == (150,)
    assert binary.predict_proba(X).shape == (150, 2)
    imp = binary.feature_importances_
    assert imp.dtype == np.float32
    assert abs(imp.sum() - 1) < 1e-6


def test_float32_and_missing_sentinel():
    X, y = _data(100, seed=4)
    X32 = X.astype(np.float32)
    a = GBTRegressor(n_estimators=5, tree_method="exact").fit(X32, y).predict(X32)
    b = GBTRegressor(n_estimators=5, tree_method="exact").fit(X, y).predict(X32)
    np.testing.assert_array_equal(a, b)
    Xm = X.copy()
    Xm[::4, 1] = -999.0
    Xn = X.copy()
    Xn[::4, 1] = np.nan
    c = GBTRegressor(n_estimators=5, tree_method="exact", missing=-999.0).fit(Xm, y).predict(Xm)
    d = GBTRegressor(n_estimators=5, tree_method="exact").fit(Xn, y).predict(Xn)
    np.testing.assert_array_equal(c, d)
