"""Continued training (``xgb_model``) and boosting from given margins (``base_margin``), as
XGBoost does them: compared with xgboost on the same data, and 5 + 5 rounds equal to 10
exactly, row and column sampling included.

Tolerance against xgboost: 1e-5 relative (plus 1e-6 absolute), on float32 outputs. Features
have at most ``max_bin`` distinct values, so that ``hist`` cuts where xgboost cuts.
"""

from __future__ import annotations

import numpy as np
import pytest

from sapwood import GBTClassifier, GBTRegressor, load_model

RTOL, ATOL = 1e-5, 1e-6


def _data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(-20, 20, size=(n, 4)).astype(np.float32) / 5
    y = (X[:, 0] + np.sin(X[:, 1]) * X[:, 2] + rng.normal(0, 0.2, n)).astype(np.float32)
    return X, y


@pytest.mark.parametrize(
    "params",
    [
        {"tree_method": "hist", "subsample": 0.7, "colsample_bytree": 0.8},
        {"tree_method": "approx", "subsample": 0.6, "colsample_bynode": 0.5},
        {"tree_method": "exact", "colsample_bylevel": 0.6, "subsample": 0.8},
        {"tree_method": "hist", "num_parallel_tree": 2, "subsample": 0.5},
    ],
)
def test_five_and_five_rounds_equal_ten(params):
    X, y = _data()
    common = dict(max_depth=4, random_state=7, **params)
    ten = GBTRegressor(n_estimators=10, **common).fit(X, y)
    five = GBTRegressor(n_estimators=5, **common).fit(X, y)
    more = GBTRegressor(n_estimators=5, **common).fit(X, y, xgb_model=five)
    assert more._model.to_json() == ten._model.to_json()
    assert more._model.n_iterations == 10


def test_five_and_five_classes_from_a_file(tmp_path):
    X, y = _data(seed=1)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    common = dict(max_depth=3, subsample=0.8, random_state=1)
    ten = GBTClassifier(n_estimators=10, **common).fit(X, labels)
    GBTClassifier(n_estimators=5, **common).fit(X, labels).save_model(tmp_path / "five.json")
    more = GBTClassifier(n_estimators=5, **common).fit(X, labels, xgb_model=tmp_path / "five.json")
    np.testing.assert_array_equal(more.predict_proba(X), ten.predict_proba(X))


def test_continuing_an_xgboost_model_equals_its_longer_fit(xgb, tmp_path):
    X, y = _data(seed=2)
    common = dict(max_depth=4, tree_method="hist", learning_rate=0.3)
    theirs_ten = xgb.XGBRegressor(n_estimators=10, **common).fit(X, y)
    theirs_five = xgb.XGBRegressor(n_estimators=5, **common).fit(X, y)
    for start in (theirs_five, theirs_five.get_booster()):
        ours = GBTRegressor(n_estimators=5, **common).fit(X, y, xgb_model=start)
        np.testing.assert_allclose(ours.predict(X), theirs_ten.predict(X), rtol=RTOL, atol=ATOL)
    theirs_five.save_model(tmp_path / "xgb.json")
    ours = GBTRegressor(n_estimators=5, **common).fit(X, y, xgb_model=str(tmp_path / "xgb.json"))
    np.testing.assert_allclose(ours.predict(X), theirs_ten.predict(X), rtol=RTOL, atol=ATOL)


def test_base_margin_matches_xgboost(xgb):
    X, y = _data(seed=3)
    labels = (y > 0).astype(int)
    rng = np.random.default_rng(0)
    margin = rng.normal(0, 1, len(y)).astype(np.float32)
    ev_margin = margin[:100] * 0.5
    common = dict(n_estimators=6, max_depth=3, tree_method="hist")
    ours = GBTClassifier(**common).fit(
        X,
        labels,
        base_margin=margin,
        eval_set=[(X[:100], labels[:100])],
        base_margin_eval_set=[ev_margin],
    )
    theirs = xgb.XGBClassifier(**common).fit(
        X,
        labels,
        base_margin=margin,
        eval_set=[(X[:100], labels[:100])],
        base_margin_eval_set=[ev_margin],
        verbose=False,
    )
    np.testing.assert_allclose(
        ours.predict_proba(X, base_margin=margin),
        theirs.predict_proba(X, base_margin=margin),
        rtol=RTOL,
        atol=ATOL,
    )
    np.testing.assert_allclose(
        ours.evals_result_["validation_0"]["logloss"],
        theirs.evals_result()["validation_0"]["logloss"],
        rtol=1e-5,
    )
    # Without the margins, predictions start from the intercept as usual.
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=RTOL, atol=ATOL)


def test_multiclass_base_margin_and_contributions(xgb):
    X, y = _data(seed=4)
    labels = np.digitize(y, np.quantile(y, [0.33, 0.66]))
    margin = np.random.default_rng(1).normal(0, 0.5, (len(y), 3)).astype(np.float32)
    common = dict(n_estimators=5, max_depth=3, tree_method="hist")
    ours = GBTClassifier(**common).fit(X, labels, base_margin=margin)
    theirs = xgb.XGBClassifier(**common).fit(X, labels, base_margin=margin)
    np.testing.assert_allclose(
        ours.predict(X, output_margin=True, base_margin=margin),
        theirs.predict(X, output_margin=True, base_margin=margin),
        rtol=RTOL,
        atol=1e-5,
    )
    phi = ours.predict_contributions(X[:20], base_margin=margin[:20])
    np.testing.assert_allclose(
        phi.sum(axis=-1),
        ours.predict(X[:20], output_margin=True, base_margin=margin[:20]),
        rtol=1e-5,
        atol=1e-4,
    )


def test_regression_base_margin_with_a_custom_start():
    X, y = _data(seed=5)
    start = np.full(len(y), 3.0, dtype=np.float32)
    model = GBTRegressor(n_estimators=3, max_depth=2).fit(X, y, base_margin=start)
    # The first trees correct from 3.0, so the margins given at predict matter.
    with_margin = model.predict(X, base_margin=start)
    assert np.abs(with_margin - y).mean() < np.abs(model.predict(X) - y).mean() + 2.0
    assert not np.allclose(with_margin, model.predict(X))


def test_bad_starts_are_value_errors(tmp_path):
    X, y = _data(200, seed=6)
    model = GBTRegressor(n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        GBTRegressor(n_estimators=2).fit(X[:, :3], y, xgb_model=model)
    labels = (y > 0).astype(int)
    with pytest.raises(ValueError, match="objective"):
        GBTClassifier(n_estimators=2).fit(X, labels, xgb_model=model)
    with pytest.raises(ValueError, match="shape"):
        GBTRegressor(n_estimators=2).fit(X, y, base_margin=np.zeros((len(y), 2)))
    with pytest.raises(ValueError, match="shape"):
        model.predict(X, base_margin=np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(X, base_margin=np.full(len(y), np.nan))
    with pytest.raises(ValueError, match="one entry per eval_set"):
        GBTRegressor(n_estimators=2).fit(X, y, base_margin_eval_set=[np.zeros(len(y))])
    with pytest.raises(TypeError, match="xgb_model"):
        GBTRegressor(n_estimators=2).fit(X, y, xgb_model=42)
    with pytest.raises((ValueError, OSError)):
        GBTRegressor(n_estimators=2).fit(X, y, xgb_model=tmp_path / "missing.json")
    model.save_model(tmp_path / "m.json")
    back = load_model(tmp_path / "m.json")
    assert GBTRegressor(n_estimators=1).fit(X, y, xgb_model=back)._model.n_iterations == 3
