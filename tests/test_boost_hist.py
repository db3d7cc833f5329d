"""The histogram split finders (hist, approx), loss-guided growth and random-forest mode,
against XGBoost."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import mean_squared_error, roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from sapwood import GBTClassifier, GBTRegressor, RFClassifier, RFRegressor, load_model

RTOL = 1e-5


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    # Every pixel has at most 17 distinct values, fewer than max_bin: cuts match XGBoost's.
    return X.astype(np.float32), y


SHAPES = [
    ("hist", "depthwise", 6, 0),
    ("hist", "lossguide", 0, 16),
    ("approx", "depthwise", 4, 0),
    ("approx", "lossguide", 5, 12),
]


@pytest.mark.parametrize(("method", "policy", "max_depth", "max_leaves"), SHAPES)
def test_same_predictions_as_xgboost_when_values_fit_in_the_bins(
    xgb, digits, method, policy, max_depth, max_leaves
):
    X, y = digits
    kw = dict(
        n_estimators=8,
        tree_method=method,
        grow_policy=policy,
        max_depth=max_depth,
        max_leaves=max_leaves,
        learning_rate=0.3,
    )
    reg = GBTRegressor(**kw).fit(X, y.astype(float)).predict(X)
    assert _rel(reg, xgb.XGBRegressor(**kw).fit(X, y).predict(X)) <= RTOL
    yb = y % 2
    binary = GBTClassifier(**kw).fit(X, yb).predict_proba(X)
    assert _rel(binary, xgb.XGBClassifier(**kw).fit(X, yb).predict_proba(X)) <= RTOL
    multi = GBTClassifier(**kw).fit(X, y).predict_proba(X)
    assert _rel(multi, xgb.XGBClassifier(**kw).fit(X, y).predict_proba(X)) <= RTOL


@pytest.mark.parametrize("method", ["hist", "approx"])
def test_parity_with_missing_values_weights_and_regularisation(xgb, digits, method):
    X, y = digits
    X = X.copy()
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.1] = np.nan
    w = rng.uniform(0.5, 2.0, size=len(y))
    kw = dict(
        n_estimators=6,
        tree_method=method,
        max_depth=5,
        gamma=0.5,
        reg_alpha=0.3,
        reg_lambda=2.0,
        min_child_weight=2.0,
        max_delta_step=0.8,
    )
    ours = GBTClassifier(**kw).fit(X, y % 2, sample_weight=w).predict_proba(X)
    theirs = xgb.XGBClassifier(**kw).fit(X, y % 2, sample_weight=w).predict_proba(X)
    assert _rel(ours, theirs) <= RTOL


def test_absolute_error_refreshes_leaves_like_xgboost(xgb, digits):
    X, y = digits
    kw = dict(n_estimators=5, tree_method="hist", objective="reg:absoluteerror", max_depth=4)
    ours = GBTRegressor(**kw).fit(X, y.astype(float)).predict(X)
    theirs = xgb.XGBRegressor(**kw).fit(X, y).predict(X)
    assert _rel(ours, theirs) <= RTOL


@pytest.mark.parametrize("method", ["hist", "approx"])
def test_continuous_data_matches_xgboost_quality(xgb, method):
    # Cut points differ from XGBoost's sketch on continuous data, which moves a single split's
    # score by about 2% either way; averaged over six fixed data sets the two must agree within
    # 0.5%.
    kw = dict(n_estimators=60, tree_method=method, max_depth=6, learning_rate=0.1)
    tr, te = slice(0, 6000), slice(6000, None)
    rmse_ratios, auc_ratios = [], []
    for seed in range(6):
        X, y = make_regression(n_samples=8000, n_features=10, noise=10, random_state=seed)
        ours = GBTRegressor(**kw).fit(X[tr], y[tr]).predict(X[te])
        ref = xgb.XGBRegressor(**kw).fit(X[tr], y[tr]).predict(X[te])
        rmse_ratios.append(
            (mean_squared_error(y[te], ours) / mean_squared_error(y[te], ref)) ** 0.5
        )
        X, y = make_classification(
            n_samples=8000, n_features=20, n_informative=8, random_state=seed
        )
        X[::7, 3] = np.nan
        ours = GBTClassifier(**kw).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        ref = xgb.XGBClassifier(**kw).fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
        auc_ratios.append(roc_auc_score(y[te], ours) / roc_auc_score(y[te], ref))
    assert np.mean(rmse_ratios) <= 1.005, rmse_ratios
    assert np.mean(auc_ratios) >= 0.995, auc_ratios


def test_sparse_input_stays_sparse_and_matches_dense_missing(digits):
    X, y = digits
    dense = np.where(X == 0, np.nan, X)
    sparse = sp.csr_matrix(X)  # absent entries are missing, like NaN in `dense`
    kw = dict(n_estimators=5, tree_method="hist", max_depth=4)
    a = GBTRegressor(**kw).fit(dense, y.astype(float)).predict(dense)
    b = GBTRegressor(**kw).fit(sparse, y.astype(float)).predict(sparse)
    np.testing.assert_allclose(a, b, rtol=1e-6)


@pytest.mark.parametrize("method", ["hist", "approx", "exact"])
def test_sparse_input_with_unsorted_or_duplicated_columns(method):
    # scipy allows a CSR row's columns in any order, and duplicated (meaning their sum): the
    # model must be the one of the canonical matrix, and the caller's matrix left alone.
    rng = np.random.default_rng(0)
    canonical = sp.random(600, 12, density=0.4, format="csr", random_state=1, dtype=np.float64)
    y = canonical[:, 0].toarray().ravel() - 2 * canonical[:, 5].toarray().ravel()
    y = (y + 0.1 * rng.standard_normal(600) > 0).astype(int)
    # Every row reversed, and its first entry split in two halves.
    indices, data, indptr = [], [], [0]
    for r in range(canonical.shape[0]):
        lo, hi = canonical.indptr[r], canonical.indptr[r + 1]
        cols, vals = list(canonical.indices[lo:hi][::-1]), list(canonical.data[lo:hi][::-1])
        if cols:
            cols.append(cols[-1])
            vals[-1] /= 2
            vals.append(vals[-1])
        indices += cols
        data += vals
        indptr.append(len(indices))
    messy = sp.csr_matrix((data, indices, indptr), shape=canonical.shape)
    assert not messy.has_canonical_format
    before = (messy.indices.copy(), messy.data.copy())
    kw = dict(n_estimators=8, max_depth=4, tree_method=method)
    ref = GBTClassifier(**kw).fit(canonical, y)
    got = GBTClassifier(**kw).fit(messy, y)
    np.testing.assert_allclose(got.predict_proba(canonical), ref.predict_proba(canonical))
    np.testing.assert_allclose(ref.predict_proba(messy), ref.predict_proba(canonical))
    np.testing.assert_array_equal(messy.indices, before[0])
    np.testing.assert_array_equal(messy.data, before[1])


def test_results_do_not_depend_on_the_thread_count(digits):
    X, y = digits
    kw = dict(
        n_estimators=10, tree_method="hist", subsample=0.8, colsample_bynode=0.7, random_state=3
    )
    one = GBTClassifier(**kw, n_jobs=1).fit(X, y).predict_proba(X)
    two = GBTClassifier(**kw, n_jobs=2).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(one, two)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["hist", "approx"]),
    policy=st.sampled_from(["depthwise", "lossguide"]),
    max_depth=st.integers(1, 8),
    max_leaves=st.integers(0, 40),
    max_bin=st.integers(2, 64),
    min_child_weight=st.floats(0.5, 2.0),
    reg_alpha=st.floats(1e-5, 2.0),
    reg_lambda=st.floats(1e-5, 2.0),
    learning_rate=st.floats(0.01, 0.5),
    gamma=st.floats(1e-5, 2.0),
    colsample=st.floats(0.5, 1.0),
)
def test_training_loss_never_increases(
    method,
    policy,
    max_depth,
    max_leaves,
    max_bin,
    min_child_weight,
    reg_alpha,
    reg_lambda,
    learning_rate,
    gamma,
    colsample,
):
    X, y = make_regression(n_samples=400, n_features=6, noise=5, random_state=0)
    model = GBTRegressor(
        n_estimators=8,
        tree_method=method,
        grow_policy=policy,
        max_depth=max_depth,
        max_leaves=max_leaves,
        max_bin=max_bin,
        min_child_weight=min_child_weight,
        reg_alpha=reg_alpha,
        reg_lambda=reg_lambda,
        learning_rate=learning_rate,
        gamma=gamma,
        colsample_bytree=colsample,
        colsample_bylevel=colsample,
        eval_metric="rmse",
    ).fit(X, y, eval_set=[(X, y)])
    rmse = np.asarray(model.evals_result_["validation_0"]["rmse"])
    assert np.all(np.diff(rmse) <= 1e-6 * rmse[:-1])


# --- random-forest mode ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def forest_data():
    X, y = make_classification(n_samples=3000, n_features=20, n_informative=8, random_state=0)
    return X.astype(np.float32), y


def test_rf_accuracy_is_comparable_to_scikit_learn(forest_data):
    X, y = forest_data
    tr, te = slice(0, 2000), slice(2000, None)
    ours = RFClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X[tr], y[tr])
    theirs = RandomForestClassifier(n_estimators=50, max_depth=8, random_state=0).fit(X[tr], y[tr])
    assert ours._model.n_iterations == 1
    assert ours._model.n_trees == 50
    assert ours.score(X[te], y[te]) >= theirs.score(X[te], y[te]) - 0.02


def test_rf_exports_to_xgboost_and_back(xgb, forest_data, tmp_path):
    X, y = forest_data
    rf = RFClassifier(n_estimators=20, max_depth=6, random_state=1).fit(X, y)
    path = tmp_path / "rf.json"
    rf.save_model(path, format="xgboost")
    booster = xgb.Booster()
    booster.load_model(str(path))
    ours = rf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(booster.predict(xgb.DMatrix(X)), ours, rtol=1e-6, atol=1e-7)
    back = load_model(path)
    np.testing.assert_array_equal(back.predict_proba(X)[:, 1], ours)
    own = tmp_path / "rf-sapwood.json"
    rf.save_model(own)
    again = load_model(own)
    assert isinstance(again, RFClassifier)
    np.testing.assert_array_equal(again.predict_proba(X), rf.predict_proba(X))
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(rf)).predict_proba(X), rf.predict_proba(X)
    )


def test_xgboost_random_forest_loads_and_predicts_the_same(xgb, forest_data, tmp_path):
    X, y = forest_data
    theirs = xgb.XGBRFRegressor(n_estimators=15, max_depth=5, random_state=0).fit(X, y)
    path = tmp_path / "xgb-rf.json"
    theirs.save_model(path)
    ours = load_model(path)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-6, atol=1e-6)


def test_rf_regressor_and_parameters(forest_data):
    X, y = forest_data
    rf = RFRegressor(n_estimators=10, random_state=0).fit(X, y.astype(float))
    params = rf.get_params()
    assert params["learning_rate"] == 1.0
    assert params["subsample"] == 0.8
    assert params["colsample_bynode"] == 0.8
    assert params["reg_lambda"] == 1e-5
    assert "num_parallel_tree" not in params
    assert rf._model.num_parallel_tree == 10
    with pytest.raises(ValueError, match="early_stopping_rounds"):
        RFRegressor(early_stopping_rounds=3).fit(X, y.astype(float), eval_set=[(X, y)])


def test_boosted_forest_rounds(forest_data):
    X, y = forest_data
    m = GBTClassifier(n_estimators=3, num_parallel_tree=4, subsample=0.8, random_state=0)
    m.fit(X, y)
    assert m._model.n_iterations == 3
    assert m._model.n_trees == 12
    assert m.apply(X).shape == (len(X), 12)
    np.testing.assert_array_equal(m.predict_proba(X, iteration_range=(0, 3)), m.predict_proba(X))


@parametrize_with_checks(
    [
        GBTRegressor(n_estimators=5),
        GBTClassifier(n_estimators=5, tree_method="approx"),
        RFRegressor(n_estimators=5),
        RFClassifier(n_estimators=5, grow_policy="lossguide", max_leaves=8),
    ],
    # Rows of weight 0 take no part in the quantile cuts (as in XGBoost's sketch), but they
    # do in row sampling, which draws from every row, and approx's per-tree sketch weighs
    # duplicated rows unlike weighted ones (XGBoost fails these checks the same ways).
    expected_failed_checks=lambda est: (
        {
            "check_sample_weight_equivalence_on_dense_data": "row sampling or approx's sketch "
            "(XGBoost too)",
            "check_sample_weight_equivalence_on_sparse_data": "row sampling or approx's sketch "
            "(XGBoost too)",
        }
        if est.subsample < 1 or est.tree_method == "approx"
        else {}
    ),
)
def test_scikit_learn_compatible(estimator, check):
    check(estimator)
