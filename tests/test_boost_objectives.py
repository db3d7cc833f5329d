"""XGBoost's further objectives: ``reg:squaredlogerror``, ``reg:gamma``,
``reg:pseudohubererror``, ``reg:tweedie``, ``reg:quantileerror``, ``survival:cox``,
``binary:logitraw`` and ``binary:hinge``, each with its parameter, default metric and
intercept estimate, compared with xgboost on the same data; models export to xgboost and
import back.

Tolerance: 1e-5 relative (plus 1e-6 absolute) on float32 outputs. Features have at most
``max_bin`` distinct values, so that ``hist`` cuts where xgboost cuts.
"""

from __future__ import annotations

import numpy as np
import pytest

from sapwood import GBTClassifier, GBTRegressor, load_model

RTOL, ATOL = 1e-5, 1e-6


def _X(n=600, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(-25, 25, size=(n, 4)).astype(np.float32) / 5


def _targets(kind: str, X: np.ndarray, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    signal = X[:, 0] + np.sin(X[:, 1]) * X[:, 2]
    if kind == "squaredlog":
        return np.maximum(np.exp(0.3 * signal + rng.normal(0, 0.2, len(X))) - 0.5, 0.0)
    if kind == "gamma":
        return rng.gamma(2.0, np.exp(0.2 * signal) / 2.0)
    if kind == "heavy":
        return signal + rng.standard_t(2, len(X))
    if kind == "tweedie":
        return np.where(rng.random(len(X)) < 0.4, 0.0, rng.gamma(2.0, np.exp(0.2 * signal)))
    if kind == "normal":
        return signal + rng.normal(0, 1, len(X))
    if kind == "cox":
        # Survival times with ties, 30% right-censored (negative).
        t = np.round(rng.exponential(np.exp(-0.3 * signal)), 2) + 0.01
        return np.where(rng.random(len(X)) < 0.3, -t, t)
    return (signal + rng.normal(0, 1, len(X)) > 0).astype(int)


REGRESSION = [
    ("reg:squaredlogerror", "squaredlog", {}),
    ("reg:squaredlogerror", "squaredlog", {"tree_method": "exact", "reg_alpha": 0.3}),
    ("reg:gamma", "gamma", {}),
    ("reg:gamma", "gamma", {"tree_method": "approx", "scale_pos_weight": 2.0}),
    ("reg:pseudohubererror", "heavy", {}),
    ("reg:pseudohubererror", "heavy", {"huber_slope": 2.5, "tree_method": "approx"}),
    ("reg:tweedie", "tweedie", {}),
    ("reg:tweedie", "tweedie", {"tweedie_variance_power": 1.2, "tree_method": "exact"}),
    ("reg:quantileerror", "normal", {"quantile_alpha": 0.5}),
    ("reg:quantileerror", "normal", {"quantile_alpha": 0.1}),
    ("reg:quantileerror", "normal", {"quantile_alpha": 0.9, "tree_method": "approx"}),
    ("reg:quantileerror", "normal", {"quantile_alpha": 0.3, "tree_method": "exact"}),
    ("survival:cox", "cox", {}),
    ("survival:cox", "cox", {"tree_method": "approx", "reg_lambda": 3.0}),
]


@pytest.mark.parametrize(("objective", "kind", "params"), REGRESSION)
def test_regression_objectives_match_xgboost(xgb, objective, kind, params, tmp_path):
    X = _X(seed=1)
    y = _targets(kind, X, seed=1).astype(np.float32)
    common = dict(n_estimators=12, max_depth=4, n_jobs=2, objective=objective, **params)
    params.setdefault("tree_method", "hist")
    eval_set = [(X[:200], y[:200])]
    ours = GBTRegressor(**common).fit(X, y, eval_set=eval_set)
    theirs = xgb.XGBRegressor(**common).fit(X, y, eval_set=eval_set, verbose=False)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=RTOL, atol=ATOL)
    metric = ours._metrics(objective)[0]
    np.testing.assert_allclose(
        ours.evals_result_["validation_0"][metric],
        theirs.evals_result()["validation_0"][metric],
        rtol=1e-5,
    )
    ours.save_model(tmp_path / "x.json", format="xgboost")
    booster = xgb.Booster(model_file=str(tmp_path / "x.json"))
    np.testing.assert_allclose(booster.predict(xgb.DMatrix(X)), ours.predict(X), rtol=RTOL)
    theirs.save_model(tmp_path / "theirs.json")
    back = load_model(tmp_path / "theirs.json")
    np.testing.assert_allclose(back.predict(X), theirs.predict(X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("objective", ["binary:logitraw", "binary:hinge"])
@pytest.mark.parametrize("method", ["hist", "exact"])
def test_binary_objectives_match_xgboost(xgb, objective, method, tmp_path):
    X = _X(seed=2)
    y = _targets("binary", X, seed=2)
    common = dict(n_estimators=10, max_depth=3, n_jobs=2, objective=objective, tree_method=method)
    eval_set = [(X[:200], y[:200])]
    ours = GBTClassifier(**common).fit(X, y, eval_set=eval_set)
    theirs = xgb.XGBClassifier(**common).fit(X, y, eval_set=eval_set, verbose=False)
    np.testing.assert_allclose(
        ours.predict(X, output_margin=True),
        theirs.predict(X, output_margin=True),
        rtol=RTOL,
        atol=1e-5,
    )
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=RTOL, atol=1e-5)
    metric = ours._metrics(objective)[0]
    np.testing.assert_allclose(
        ours.evals_result_["validation_0"][metric],
        theirs.evals_result()["validation_0"][metric],
        rtol=1e-5,
        atol=1e-7,
    )
    ours.save_model(tmp_path / "x.json", format="xgboost")
    booster = xgb.Booster(model_file=str(tmp_path / "x.json"))
    np.testing.assert_allclose(
        booster.predict(xgb.DMatrix(X), output_margin=True),
        ours.predict(X, output_margin=True),
        rtol=RTOL,
        atol=1e-5,
    )


def test_objective_labels_and_metrics_are_checked(xgb):
    X = _X(100)
    with pytest.raises(ValueError, match="positive"):
        GBTRegressor(objective="reg:gamma", n_estimators=2).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="greater than -1"):
        GBTRegressor(objective="reg:squaredlogerror", n_estimators=2).fit(X, np.full(100, -2.0))
    with pytest.raises(ValueError, match="labels of reg:tweedie must be non-negative"):
        GBTRegressor(objective="reg:tweedie", n_estimators=2).fit(X, np.full(100, -1.0))
    with pytest.raises(ValueError, match="huber_slope must be a finite number other than 0"):
        GBTRegressor(objective="reg:pseudohubererror", huber_slope=0).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="tweedie_variance_power"):
        GBTRegressor(objective="reg:tweedie", tweedie_variance_power=2.0).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="quantile_alpha"):
        GBTRegressor(objective="reg:quantileerror", quantile_alpha=1.5).fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="unknown eval_metric 'tweedie-nloglik@3'"):
        GBTRegressor(eval_metric="tweedie-nloglik@3").fit(X, np.zeros(100), eval_set=[(X, X[:, 0])])
    y3 = np.arange(100) % 3
    with pytest.raises(ValueError, match="two classes"):
        GBTClassifier(objective="binary:hinge", n_estimators=2).fit(X, y3)
    # The new metrics on a familiar objective, as xgboost computes them.
    y = _targets("gamma", X, seed=3).astype(np.float32)
    metrics = ["rmsle", "gamma-deviance", "gamma-nloglik"]
    ours = GBTRegressor(n_estimators=3, objective="reg:gamma", eval_metric=metrics).fit(
        X, y, eval_set=[(X, y)]
    )
    theirs = xgb.XGBRegressor(n_estimators=3, objective="reg:gamma", eval_metric=metrics).fit(
        X, y, eval_set=[(X, y)], verbose=False
    )
    for m in metrics:
        np.testing.assert_allclose(
            ours.evals_result_["validation_0"][m],
            theirs.evals_result()["validation_0"][m],
            rtol=1e-5,
        )


@pytest.mark.parametrize(
    ("objective", "kind", "params"),
    [
        ("reg:quantileerror", "normal", {"quantile_alpha": 0.8}),
        ("reg:tweedie", "tweedie", {"tweedie_variance_power": 1.7}),
        ("reg:pseudohubererror", "heavy", {"huber_slope": 0.5}),
    ],
)
def test_parameterised_objectives_with_weights_and_metrics(xgb, objective, kind, params):
    X = _X(seed=4)
    y = _targets(kind, X, seed=4).astype(np.float32)
    w = np.random.default_rng(4).uniform(0.2, 3.0, len(X))
    metrics = ["mphe", "tweedie-nloglik@1.3", "quantile", "rmse"]
    # xgboost's quantile metric needs quantile_alpha set, whatever the objective.
    params = {"quantile_alpha": 0.5, **params}
    common = dict(n_estimators=8, max_depth=3, objective=objective, eval_metric=metrics, **params)
    ours = GBTRegressor(**common).fit(X, y, sample_weight=w, eval_set=[(X, y)])
    theirs = xgb.XGBRegressor(**common).fit(X, y, sample_weight=w, eval_set=[(X, y)], verbose=False)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=RTOL, atol=ATOL)
    for m in metrics:
        np.testing.assert_allclose(
            ours.evals_result_["validation_0"][m],
            theirs.evals_result()["validation_0"][m],
            rtol=1e-5,
        )
    # The quantile model's leaves sit at the quantile: about that share of rows below it.
    if objective == "reg:quantileerror":
        below = np.average(y <= ours.predict(X), weights=w)
        assert abs(below - params["quantile_alpha"]) < 0.1


def _aft_data(seed=0):
    rng = np.random.default_rng(seed)
    X = _X(seed=seed)
    t = np.exp(0.2 * X[:, 0] + 0.3 * np.sin(X[:, 1]) + rng.normal(0, 0.5, len(X)))
    lower, upper = t.copy(), t.copy()
    r = rng.random(len(X))
    upper[r < 0.25] = np.inf  # right-censored
    lower[(r >= 0.25) & (r < 0.35)] = 0.0  # left-censored
    band = (r >= 0.35) & (r < 0.5)  # interval-censored
    lower[band], upper[band] = t[band] * 0.7, t[band] * 1.4
    return X, lower, upper


@pytest.mark.parametrize("distribution", ["normal", "logistic", "extreme"])
@pytest.mark.parametrize("method", ["hist", "approx", "exact"])
def test_aft_matches_xgboost(xgb, distribution, method, tmp_path):
    X, lower, upper = _aft_data(seed=5)
    w = np.random.default_rng(5).uniform(0.5, 2.0, len(X))
    params = dict(
        objective="survival:aft",
        aft_loss_distribution=distribution,
        aft_loss_distribution_scale=1.3,
        max_depth=3,
        tree_method=method,
    )
    train = xgb.DMatrix(X, weight=w)
    train.set_float_info("label_lower_bound", lower)
    train.set_float_info("label_upper_bound", upper)
    log: dict = {}
    booster = xgb.train(params, train, 8, evals=[(train, "v")], evals_result=log)
    ours = GBTRegressor(n_estimators=8, **params).fit(
        X,
        sample_weight=w,
        label_lower_bound=lower,
        label_upper_bound=upper,
        eval_set=[(X, np.column_stack([lower, upper]))],
        sample_weight_eval_set=[w],
    )
    np.testing.assert_allclose(
        ours.predict(X), booster.predict(xgb.DMatrix(X)), rtol=RTOL, atol=ATOL
    )
    # XGBoost evaluates aft-nloglik at scale 1 whatever the objective's scale; so does sapwood.
    np.testing.assert_allclose(
        ours.evals_result_["validation_0"]["aft-nloglik"], log["v"]["aft-nloglik"], rtol=1e-5
    )
    ours.save_model(tmp_path / "x.json", format="xgboost")
    exported = xgb.Booster(model_file=str(tmp_path / "x.json"))
    np.testing.assert_allclose(
        exported.predict(xgb.DMatrix(X)), ours.predict(X), rtol=RTOL, atol=ATOL
    )
    booster.save_model(tmp_path / "theirs.json")
    back = load_model(tmp_path / "theirs.json")
    np.testing.assert_allclose(
        back.predict(X), booster.predict(xgb.DMatrix(X)), rtol=RTOL, atol=ATOL
    )


def test_aft_label_forms_and_bad_bounds():
    X, lower, upper = _aft_data(seed=6)
    kw = dict(n_estimators=3, objective="survival:aft")
    a = GBTRegressor(**kw).fit(X, label_lower_bound=lower, label_upper_bound=upper)
    b = GBTRegressor(**kw).fit(X, np.column_stack([lower, upper]))
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    # One column: every time observed.
    times = np.where(np.isinf(upper), lower, upper) + 0.1
    c = GBTRegressor(**kw).fit(X, times)
    d = GBTRegressor(**kw).fit(X, label_lower_bound=times, label_upper_bound=times)
    np.testing.assert_array_equal(c.predict(X), d.predict(X))
    with pytest.raises(ValueError, match="give both label_lower_bound and label_upper_bound"):
        GBTRegressor(**kw).fit(X, label_lower_bound=lower)
    with pytest.raises(ValueError, match="upper bound must be at least its lower bound"):
        GBTRegressor(**kw).fit(
            X, label_lower_bound=np.full(len(X), 2.0), label_upper_bound=np.full(len(X), 1.0)
        )
    with pytest.raises(ValueError, match="lower bounds must be finite and non-negative"):
        GBTRegressor(**kw).fit(X, label_lower_bound=lower - 5, label_upper_bound=upper)
    with pytest.raises(ValueError, match="need objective='survival:aft'"):
        GBTRegressor(n_estimators=2).fit(X, times, label_lower_bound=lower, label_upper_bound=upper)
    with pytest.raises(ValueError, match="aft_loss_distribution"):
        GBTRegressor(aft_loss_distribution="cauchy", **kw).fit(X, times)
    with pytest.raises(ValueError, match="aft_loss_distribution_scale"):
        GBTRegressor(aft_loss_distribution_scale=0.0, **kw).fit(X, times)


@pytest.mark.parametrize("method", ["hist", "approx", "exact"])
def test_several_quantiles_give_one_output_each(xgb, method, tmp_path):
    X = _X(seed=7)
    y = _targets("normal", X, seed=7).astype(np.float32)
    w = np.random.default_rng(7).uniform(0.5, 2.0, len(X))
    common = dict(
        n_estimators=8,
        max_depth=3,
        objective="reg:quantileerror",
        quantile_alpha=[0.1, 0.5, 0.9],
        tree_method=method,
    )
    ours = GBTRegressor(**common).fit(X, y, sample_weight=w, eval_set=[(X, y)])
    theirs = xgb.XGBRegressor(**common).fit(X, y, sample_weight=w, eval_set=[(X, y)], verbose=False)
    pred = ours.predict(X)
    assert pred.shape == (len(X), 3)
    np.testing.assert_allclose(pred, theirs.predict(X), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(
        ours.evals_result_["validation_0"]["quantile"],
        theirs.evals_result()["validation_0"]["quantile"],
        rtol=1e-5,
    )
    # Quantiles in order, each near its share of the rows.
    assert np.all(pred[:, 0] <= pred[:, 2])
    for j, alpha in enumerate([0.1, 0.5, 0.9]):
        assert abs(np.average(y <= pred[:, j], weights=w) - alpha) < 0.1
    phi = ours.predict_contributions(X[:20])
    assert phi.shape == (20, 3, X.shape[1] + 1)
    np.testing.assert_allclose(phi.sum(-1), ours.predict(X[:20], output_margin=True), atol=1e-4)
    margins = ours.predict(X[:20], output_margin=True)
    shifted = ours.predict(X[:20], base_margin=np.zeros((20, 3)), output_margin=True)
    np.testing.assert_allclose(
        margins - shifted, np.tile(ours._model.base_margin, (20, 1)), rtol=0, atol=1e-5
    )
    ours.save_model(tmp_path / "x.json", format="xgboost")
    booster = xgb.Booster(model_file=str(tmp_path / "x.json"))
    np.testing.assert_allclose(booster.predict(xgb.DMatrix(X)), pred, rtol=RTOL, atol=ATOL)
    theirs.save_model(tmp_path / "theirs.json")
    back = load_model(tmp_path / "theirs.json")
    np.testing.assert_allclose(back.predict(X), theirs.predict(X), rtol=RTOL, atol=ATOL)
    ours.save_model(tmp_path / "ours.json")
    np.testing.assert_array_equal(load_model(tmp_path / "ours.json").predict(X), pred)
    with pytest.raises(ValueError, match="quantile_alpha must be a number in"):
        GBTRegressor(objective="reg:quantileerror", quantile_alpha=[]).fit(X, y)
    with pytest.raises(ValueError, match="quantile_alpha must be a number in"):
        GBTRegressor(objective="reg:quantileerror", quantile_alpha=[0.2, 1.5]).fit(X, y)
