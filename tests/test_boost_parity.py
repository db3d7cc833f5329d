"""Parity with XGBoost's exact method: same data and parameters give the same predictions.

Tolerance: 1e-5 relative (plus 1e-6 absolute for values near zero), on float32 outputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from sapwood import GBTClassifier, GBTRegressor

RTOL, ATOL = 1e-5, 1e-6


def _regression(n=300, p=6, seed=0, nan_frac=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    y = X[:, 0] * 2 + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + rng.normal(0, 0.1, n)
    X[:, 4] = np.round(X[:, 4])  # many ties
    if nan_frac:
        X[rng.random(X.shape) < nan_frac] = np.nan
    return X, y


def _pair(sap_cls, xgb_cls, **params):
    common = dict(tree_method="exact", n_estimators=15, n_jobs=2, **params)
    return sap_cls(**common), xgb_cls(**common)


def _assert_close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL)


PARAMS = [
    {},
    {"max_depth": 3, "learning_rate": 0.1},
    {"gamma": 0.5},
    {"reg_alpha": 0.7, "reg_lambda": 0.0},
    {"reg_lambda": 5.0, "reg_alpha": 0.1},
    {"max_delta_step": 0.3},
    {"min_child_weight": 8.0},
    {"gamma": 2.0, "reg_alpha": 0.2, "min_child_weight": 3.0, "max_delta_step": 1.0},
    {"base_score": 0.3},
]


@pytest.mark.parametrize("params", PARAMS)
def test_regression_matches_xgboost(xgb, params):
    X, y = _regression()
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, **params)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.predict(X), x.predict(X))


@pytest.mark.parametrize("nan_frac", [0.1, 0.4])
def test_missing_values_match_xgboost(xgb, nan_frac):
    X, y = _regression(nan_frac=nan_frac, seed=1)
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, max_depth=4)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.predict(X), x.predict(X))
    # Dense columns learn default_left, which shows on rows that are all-missing.
    Xq = np.full((3, X.shape[1]), np.nan, dtype=np.float32)
    _assert_close(s.predict(Xq), x.predict(Xq))
    np.testing.assert_array_equal(s.apply(X), x.apply(X))


def test_special_values_route_like_xgboost(xgb):
    # Signed zeros, the smallest subnormals, very large values, values at a split's
    # threshold and missing values (infinity is refused as input), predicted through many
    # trees (a block copied as integer keys), one tree (floats, missing values tested) and
    # two (floats, blocks without a missing value skip the test).
    X, y = _regression(n=400, seed=4, nan_frac=0.05)
    X[:40, 5] = 0.0
    X[40:80, 5] = -0.0
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, max_depth=5)
    s.set_params(n_estimators=40)
    x.set_params(n_estimators=40)
    s.fit(X, y)
    x.fit(X, y)
    tiny = np.float32(1e-45)
    specials = np.array([np.nan, -0.0, 0.0, tiny, -tiny, 1e30, -1e30], dtype=np.float32)
    rng = np.random.default_rng(5)
    Xq = X[rng.integers(0, len(X), 600)].copy()
    mask = rng.random(Xq.shape) < 0.3
    Xq[mask] = rng.choice(specials, mask.sum())
    # Thresholds as values: each tree's cut values appear exactly.
    cuts = x.get_booster().trees_to_dataframe()
    cuts = cuts[cuts.Feature != "Leaf"]
    for r, (f, v) in enumerate(zip(cuts.Feature, cuts.Split, strict=False)):
        Xq[r % len(Xq), int(str(f).lstrip("f"))] = np.float32(v)
    clean = np.nan_to_num(Xq, nan=1.0)
    for q in (Xq, clean):
        _assert_close(s.predict(q), x.predict(q))
        for end in (1, 2):
            _assert_close(
                s.predict(q, iteration_range=(0, end)), x.predict(q, iteration_range=(0, end))
            )


def test_dense_columns_send_missing_left_like_xgboost(xgb):
    X, y = _regression(seed=2)
    s, x = _pair(GBTRegressor, xgb.XGBRegressor)
    s.fit(X, y)
    x.fit(X, y)
    Xq = X[:20].copy()
    Xq[::2, 0] = np.nan
    Xq[1::3, 2] = np.nan
    _assert_close(s.predict(Xq), x.predict(Xq))


def test_sample_weights_match_xgboost(xgb):
    X, y = _regression(seed=3)
    w = np.random.default_rng(3).uniform(0.1, 3.0, len(y))
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, min_child_weight=2.0)
    s.fit(X, y, sample_weight=w)
    x.fit(X, y, sample_weight=w)
    _assert_close(s.predict(X), x.predict(X))


@pytest.mark.parametrize(
    "params", [{}, {"gamma": 0.3, "reg_alpha": 0.1}, {"scale_pos_weight": 3.0}]
)
def test_binary_matches_xgboost(xgb, params):
    X, y = _regression(seed=4, nan_frac=0.05)
    yb = (y > 0.3).astype(int)
    w = np.random.default_rng(4).uniform(0.5, 2.0, len(y))
    s, x = _pair(GBTClassifier, xgb.XGBClassifier, **params)
    s.fit(X, yb, sample_weight=w)
    x.fit(X, yb, sample_weight=w)
    _assert_close(s.predict_proba(X), x.predict_proba(X))
    _assert_close(s.predict(X, output_margin=True), x.predict(X, output_margin=True))


@pytest.mark.parametrize("objective", ["multi:softprob", "multi:softmax"])
def test_multiclass_matches_xgboost(xgb, objective):
    X, y = _regression(seed=5, nan_frac=0.05)
    yc = np.digitize(y, np.quantile(y, [0.3, 0.6, 0.85]))
    s, x = _pair(GBTClassifier, xgb.XGBClassifier, objective=objective, max_depth=4)
    s.fit(X, yc)
    x.fit(X, yc)
    _assert_close(s.predict(X, output_margin=True), x.predict(X, output_margin=True))
    if objective == "multi:softprob":
        _assert_close(s.predict_proba(X), x.predict_proba(X))
    np.testing.assert_array_equal(s.predict(X), x.predict(X))


@pytest.mark.parametrize("objective", ["reg:logistic", "count:poisson", "reg:absoluteerror"])
def test_other_objectives_match_xgboost(xgb, objective):
    X, y = _regression(seed=6)
    if objective == "reg:logistic":
        y = (y - y.min()) / (y.max() - y.min())
    elif objective == "count:poisson":
        y = np.random.default_rng(6).poisson(np.exp(0.5 * X[:, 0].clip(-2, 2)))
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, objective=objective, max_depth=3)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.predict(X), x.predict(X))


def test_sparse_input_matches_xgboost(xgb):
    rng = np.random.default_rng(7)
    dense = rng.normal(size=(300, 8)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.6] = 0.0
    y = dense[:, 0] - 2 * dense[:, 1] + rng.normal(0, 0.1, 300)
    X = sp.csr_matrix(dense)
    s, x = _pair(GBTRegressor, xgb.XGBRegressor, max_depth=4)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.predict(X), x.predict(X))
    _assert_close(s.predict(X.tocsc()), x.predict(X))


def test_custom_objective_matches_xgboost(xgb):
    X, y = _regression(seed=8)

    def squared(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    s, x = _pair(GBTRegressor, xgb.XGBRegressor, objective=squared)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.predict(X), x.predict(X))


def test_early_stopping_matches_xgboost(xgb):
    X, y = _regression(n=400, seed=9)
    Xt, yt, Xv, yv = X[:300], y[:300], X[300:], y[300:]
    common = dict(tree_method="exact", n_estimators=200, learning_rate=0.5, max_depth=6)
    s = GBTRegressor(early_stopping_rounds=5, **common).fit(Xt, yt, eval_set=[(Xv, yv)])
    x = xgb.XGBRegressor(early_stopping_rounds=5, **common).fit(
        Xt, yt, eval_set=[(Xv, yv)], verbose=False
    )
    assert s.best_iteration_ == x.best_iteration
    np.testing.assert_allclose(
        s.evals_result_["validation_0"]["rmse"], x.evals_result()["validation_0"]["rmse"], rtol=1e-5
    )
    _assert_close(s.predict(Xv), x.predict(Xv))


def test_importances_match_xgboost(xgb):
    X, y = _regression(seed=10)
    s, x = _pair(GBTRegressor, xgb.XGBRegressor)
    s.fit(X, y)
    x.fit(X, y)
    _assert_close(s.feature_importances_, x.feature_importances_)
    for kind in ("weight", "gain", "total_gain", "cover", "total_cover"):
        a = s.get_score(importance_type=kind)
        b = x.get_booster().get_score(importance_type=kind)
        assert a.keys() == b.keys()
        np.testing.assert_allclose([a[k] for k in a], [b[k] for k in a], rtol=1e-4)


def test_thread_count_does_not_change_the_model():
    X, y = _regression(seed=11, nan_frac=0.1)
    kw = dict(
        tree_method="exact",
        n_estimators=10,
        subsample=0.7,
        colsample_bytree=0.8,
        colsample_bylevel=0.7,
        colsample_bynode=0.8,
        random_state=3,
    )
    a = GBTRegressor(n_jobs=1, **kw).fit(X, y).predict(X)
    b = GBTRegressor(n_jobs=2, **kw).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    c = GBTRegressor(n_jobs=2, **dict(kw, random_state=4)).fit(X, y).predict(X)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("seed", range(12))
def test_random_configurations_match_xgboost(xgb, seed):
    """Random small problems (ties, NaNs, float32/float64, weights) and random parameters."""
    rng = np.random.default_rng(1000 + seed)
    n, p = int(rng.integers(20, 300)), int(rng.integers(1, 7))
    X = rng.normal(size=(n, p))
    if rng.random() < 0.5:
        X = np.round(X * rng.integers(1, 4))
    if rng.random() < 0.5:
        X[rng.random(X.shape) < rng.random() * 0.5] = np.nan
    if rng.random() < 0.3:
        X = X.astype(np.float32)
    y = np.nan_to_num(X[:, 0]) + rng.normal(0, 0.5, n)
    params = dict(
        tree_method="exact",
        n_estimators=int(rng.integers(1, 15)),
        max_depth=int(rng.integers(1, 8)),
        learning_rate=float(rng.uniform(0.05, 1)),
        gamma=float(rng.choice([0, rng.uniform(0, 2)])),
        reg_alpha=float(rng.choice([0, rng.uniform(0, 1)])),
        reg_lambda=float(rng.uniform(0, 3)),
        min_child_weight=float(rng.uniform(0, 5)),
        max_delta_step=float(rng.choice([0, rng.uniform(0.1, 2)])),
    )
    w = rng.uniform(0.1, 3, n) if rng.random() < 0.5 else None
    n_classes = int(rng.integers(1, 4))
    if n_classes == 1:
        a = GBTRegressor(**params).fit(X, y, sample_weight=w).predict(X)
        b = xgb.XGBRegressor(**params).fit(X, y, sample_weight=w).predict(X)
    else:
        yc = np.digitize(y, np.quantile(y, np.linspace(0, 1, n_classes + 1)[1:-1]))
        a = GBTClassifier(**params).fit(X, yc, sample_weight=w).predict_proba(X)
        b = xgb.XGBClassifier(**params).fit(X, yc, sample_weight=w).predict_proba(X)
    _assert_close(a, b)
