"""Monotone constraints: XGBoost's semantics (weights clipped to per-node bounds, splits that
break a constraint rejected, bounds narrowed at each constrained split), the same predictions
as xgboost in every tree method and growth policy, and monotone models on continuous data.

Tolerance against xgboost: 1e-5 relative (plus 1e-6 absolute), on float32 outputs. The data
have at most ``max_bin`` distinct values per feature, so that ``hist`` and ``approx`` cut where
xgboost cuts.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sapwood import GBTClassifier, GBTRegressor, RFRegressor, load_model

RTOL, ATOL = 1e-5, 1e-6


def _data(n=600, seed=0, nan_frac=0.0):
    rng = np.random.default_rng(seed)
    X = rng.integers(-30, 30, size=(n, 5)).astype(np.float32) / 10
    y = (
        2 * X[:, 0]
        - np.sin(2 * X[:, 1])
        + 0.5 * X[:, 2] * X[:, 3]
        + np.cos(X[:, 0] * 3)
        + rng.normal(0, 0.3, n)
    )
    if nan_frac:
        X[rng.random(X.shape) < nan_frac] = np.nan
    return X, y.astype(np.float32)


CASES = [
    {"tree_method": "exact"},
    {"tree_method": "hist"},
    {"tree_method": "approx"},
    {"tree_method": "hist", "grow_policy": "lossguide", "max_leaves": 12, "max_depth": 0},
    {"tree_method": "approx", "grow_policy": "lossguide", "max_leaves": 9},
    {"tree_method": "hist", "reg_alpha": 0.5, "max_delta_step": 0.8},
    {"tree_method": "exact", "min_child_weight": 5.0, "gamma": 0.2},
]


@pytest.mark.parametrize("params", CASES)
def test_regression_matches_xgboost(xgb, params):
    X, y = _data()
    common = dict(n_estimators=12, max_depth=params.pop("max_depth", 4), n_jobs=2, **params)
    s = GBTRegressor(monotone_constraints=(1, -1, 0, 1), **common).fit(X, y)
    x = xgb.XGBRegressor(monotone_constraints="(1,-1,0,1)", **common).fit(X, y)
    np.testing.assert_allclose(s.predict(X), x.predict(X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("method", ["exact", "hist"])
def test_missing_values_and_classification_match_xgboost(xgb, method):
    X, y = _data(seed=2, nan_frac=0.1)
    labels = (y > np.median(y)).astype(int)
    common = dict(n_estimators=10, max_depth=3, tree_method=method, n_jobs=2)
    s = GBTClassifier(monotone_constraints=[1, 0, -1], **common).fit(X, labels)
    x = xgb.XGBClassifier(monotone_constraints="(1,0,-1)", **common).fit(X, labels)
    np.testing.assert_allclose(s.predict_proba(X), x.predict_proba(X), rtol=RTOL, atol=ATOL)


def test_all_zero_constraints_still_use_the_weight_based_gain(xgb):
    """Any constraint vector, even all zeros, switches XGBoost to its weight-based gain
    formula; the predictions follow it."""
    X, y = _data(seed=3)
    common = dict(n_estimators=8, max_depth=4, tree_method="hist", n_jobs=2)
    s = GBTRegressor(monotone_constraints="(0,0)", **common).fit(X, y)
    x = xgb.XGBRegressor(monotone_constraints="(0,0)", **common).fit(X, y)
    np.testing.assert_allclose(s.predict(X), x.predict(X), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize(
    "params",
    [
        {"tree_method": "exact"},
        {"tree_method": "hist"},
        {"tree_method": "approx", "grow_policy": "lossguide", "max_leaves": 16},
    ],
)
def test_a_grid_sweep_is_monotone(params):
    """On continuous data, each constrained feature moves the prediction one way only,
    whatever the other features hold."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 4))
    y = X[:, 0] + np.sin(4 * X[:, 0]) - X[:, 1] ** 3 + X[:, 2] * X[:, 3] + rng.normal(0, 0.5, 3000)
    constraints = (1, -1, 0, 0)
    model = GBTRegressor(
        n_estimators=40, max_depth=5, monotone_constraints=constraints, **params
    ).fit(X, y)
    grid = np.linspace(-3, 3, 101)
    for feature, c in enumerate(constraints[:2]):
        rows = np.repeat(X[:50], len(grid), axis=0)
        rows[:, feature] = np.tile(grid, 50)
        pred = model.predict(rows).reshape(50, len(grid))
        steps = np.diff(pred, axis=1) * c
        assert steps.min() >= -1e-6, (feature, steps.min())
    # The unconstrained fit is not monotone on this data: the constraint did the work.
    free = GBTRegressor(n_estimators=40, max_depth=5, **params).fit(X, y)
    rows = np.repeat(X[:50], len(grid), axis=0)
    rows[:, 0] = np.tile(grid, 50)
    assert np.diff(free.predict(rows).reshape(50, len(grid)), axis=1).min() < 0


def test_formats_and_padding():
    pd = pytest.importorskip("pandas")
    X, y = _data(300)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    base = GBTRegressor(n_estimators=5, max_depth=3, monotone_constraints=(1, -1)).fit(X, y)
    for spec in ([1, -1], "(1,-1)", "( 1, -1, 0 )", np.array([1, -1, 0, 0, 0]), (1, -1, 0)):
        other = GBTRegressor(n_estimators=5, max_depth=3, monotone_constraints=spec).fit(X, y)
        np.testing.assert_array_equal(other.predict(X), base.predict(X))
    named = GBTRegressor(n_estimators=5, max_depth=3, monotone_constraints={"a": 1, "b": -1})
    np.testing.assert_array_equal(named.fit(frame, y).predict(frame), base.predict(X))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ((1, -1, 0, 0, 0, 1), "6 entries, but X has 5 features"),
        ((1, 2), "must be -1, 0 or 1"),
        ((1.5,), "must be -1, 0 or 1"),
        ("1,-1", "must look like"),
        ("(1,x)", "must hold -1, 0 or 1"),
        ({"zz": 1}, "does not have"),
        ({3: 1}, "keyed by feature name"),
        (object(), "must be None, a list"),
    ],
)
def test_bad_constraints_are_value_errors(spec, match):
    pd = pytest.importorskip("pandas")
    X, y = _data(100)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    with pytest.raises(ValueError, match=match):
        GBTRegressor(n_estimators=2, monotone_constraints=spec).fit(frame, y)


def test_names_need_a_frame():
    X, y = _data(100)
    with pytest.raises(ValueError, match="column names"):
        GBTRegressor(n_estimators=2, monotone_constraints={"a": 1}).fit(X, y)


def test_constraints_survive_save_load_and_apply_to_forests(tmp_path):
    X, y = _data(400, seed=5)
    model = GBTRegressor(n_estimators=6, max_depth=3, monotone_constraints=(1, -1)).fit(X, y)
    model.save_model(tmp_path / "m.json")
    back = load_model(tmp_path / "m.json")
    assert list(back.get_params()["monotone_constraints"]) == [1, -1]
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    forest = RFRegressor(n_estimators=20, max_depth=4, monotone_constraints=(1,)).fit(X, y)
    grid = np.linspace(-3, 3, 61)
    rows = np.repeat(X[:20], len(grid), axis=0)
    rows[:, 0] = np.tile(grid, 20)
    assert np.diff(forest.predict(rows).reshape(20, len(grid)), axis=1).min() >= -1e-6


# ----------------------------------------------------------------------------- interactions
INTERACTION_CASES = [
    {"tree_method": "exact"},
    {"tree_method": "hist"},
    {"tree_method": "approx"},
    {"tree_method": "hist", "grow_policy": "lossguide", "max_leaves": 16},
    {"tree_method": "hist", "colsample_bynode": 0.6, "random_state": 3},
]


@pytest.mark.parametrize("params", INTERACTION_CASES)
def test_interaction_constraints_match_xgboost(xgb, params):
    X, y = _data(seed=6)
    common = dict(n_estimators=10, max_depth=5, n_jobs=2, **params)
    sets = "[[0, 2], [1, 3, 4]]"
    s = GBTRegressor(interaction_constraints=[[0, 2], [1, 3, 4]], **common).fit(X, y)
    if "random_state" in params:
        # Column draws come from each library's own generator: check the rule, not xgboost.
        _assert_paths_respect(s, [[0, 2], [1, 3, 4]])
        return
    x = xgb.XGBRegressor(interaction_constraints=sets, **common).fit(X, y)
    np.testing.assert_allclose(s.predict(X), x.predict(X), rtol=RTOL, atol=ATOL)
    _assert_paths_respect(s, [[0, 2], [1, 3, 4]])


def test_a_feature_in_no_set_goes_alone_and_both_constraints_together(xgb):
    X, y = _data(seed=7)
    common = dict(n_estimators=8, max_depth=4, tree_method="hist", n_jobs=2)
    s = GBTRegressor(interaction_constraints="[[1, 2]]", monotone_constraints=(1,), **common).fit(
        X, y
    )
    x = xgb.XGBRegressor(
        interaction_constraints="[[1, 2]]", monotone_constraints="(1)", **common
    ).fit(X, y)
    np.testing.assert_allclose(s.predict(X), x.predict(X), rtol=RTOL, atol=ATOL)
    _assert_paths_respect(s, [[1, 2]])


def _walk(tree: dict, nid: int, used: frozenset, sets) -> None:
    if tree["left"][nid] < 0:
        return
    f = tree["split_index"][nid]
    if used:
        allowed = set(used)
        for s in sets:
            if used <= set(s):
                allowed |= set(s)
        assert f in allowed, (used, f)
    _walk(tree, tree["left"][nid], used | {f}, sets)
    _walk(tree, tree["right"][nid], used | {f}, sets)


def _assert_paths_respect(model, sets) -> None:
    """Every root-to-leaf path uses features that the constraint allows together."""
    import json

    for tree in json.loads(model._model.to_json())["trees"]:
        _walk(tree, 0, frozenset(), sets)


def test_interaction_formats_names_and_errors(tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data(300, seed=8)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d", "e"])
    base = GBTRegressor(n_estimators=5, interaction_constraints=[[0, 2], [1, 3]]).fit(X, y)
    for spec in ("[[0, 2], [1, 3]]", ((0, 2), (1, 3)), [np.array([0, 2]), [1, 3]]):
        other = GBTRegressor(n_estimators=5, interaction_constraints=spec).fit(X, y)
        np.testing.assert_array_equal(other.predict(X), base.predict(X))
    named = GBTRegressor(n_estimators=5, interaction_constraints=[["a", "c"], ["b", "d"]])
    np.testing.assert_array_equal(named.fit(frame, y).predict(frame), base.predict(X))
    named.save_model(tmp_path / "m.json")
    back = load_model(tmp_path / "m.json")
    assert back.get_params()["interaction_constraints"] == [["a", "c"], ["b", "d"]]
    np.testing.assert_array_equal(back.predict(frame), base.predict(X))
    bad = [
        ("[[0, 9]]", "X has 5 features"),
        ("[0, 1]", "list of lists"),
        ("[[0, 1]", "must be JSON"),
        ([[0, -1]], "negative feature index"),
        ([[0, 1.5]], "indices or names"),
        ([["a", "zz"]], "does not have"),
        (5, "must be None"),
    ]
    for spec, match in bad:
        with pytest.raises(ValueError, match=match):
            GBTRegressor(n_estimators=2, interaction_constraints=spec).fit(frame, y)
    with pytest.raises(ValueError, match="column names"):
        GBTRegressor(n_estimators=2, interaction_constraints=[["a"]]).fit(X, y)


# ----------------------------------------------------------------------------- feature weights
def _used_features(model) -> set[int]:
    import json

    used = set()
    for tree in json.loads(model._model.to_json())["trees"]:
        used |= {f for f, left in zip(tree["split_index"], tree["left"], strict=True) if left >= 0}
    return used


def test_feature_weights_steer_column_sampling(tmp_path):
    X, y = _data(800, seed=9)
    common = dict(n_estimators=30, max_depth=2, colsample_bytree=0.2, random_state=0)
    # One feature a tree; feature 0 carries the most signal.
    uniform = GBTRegressor(**common).fit(X, y)
    assert 0 in _used_features(uniform)
    starved = GBTRegressor(feature_weights=[0.0, 1, 1, 1, 1], **common).fit(X, y)
    assert 0 not in _used_features(starved)
    favoured = GBTRegressor(feature_weights=[0.01, 0.01, 0.01, 0.01, 100.0], **common).fit(X, y)
    assert _used_features(favoured) == {4}
    # Deterministic, kept by model files, and without column sampling nothing changes.
    again = GBTRegressor(feature_weights=[0.0, 1, 1, 1, 1], **common).fit(X, y)
    assert again._model.to_json() == starved._model.to_json()
    starved.save_model(tmp_path / "m.json")
    assert list(load_model(tmp_path / "m.json").get_params()["feature_weights"]) == [0, 1, 1, 1, 1]
    plain = GBTRegressor(n_estimators=5).fit(X, y)
    weighted = GBTRegressor(n_estimators=5, feature_weights=np.arange(1.0, 6.0)).fit(X, y)
    assert plain._model.to_json() == weighted._model.to_json()


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1, 1], "2 entries, but X has 5"),
        ([1, -1, 1, 1, 1], "non-negative"),
        ([0, 0, 0, 0, 0], "at least one weight"),
        ([1, np.nan, 1, 1, 1], "finite"),
        ([[1, 1]], "1-D"),
        ("abc", "sequence of numbers"),
    ],
)
def test_bad_feature_weights(weights, match):
    X, y = _data(100)
    with pytest.raises(ValueError, match=match):
        GBTRegressor(n_estimators=2, colsample_bytree=0.5, feature_weights=weights).fit(X, y)


@pytest.mark.parametrize("method", ["hist", "approx", "exact"])
def test_constraints_travel_in_xgboost_config(tmp_path, method: str) -> None:
    xgb = pytest.importorskip("xgboost")
    rng = np.random.default_rng(5)
    X = rng.integers(0, 20, (400, 3)).astype(float)
    y = X[:, 0] - X[:, 1] + rng.normal(0, 0.5, 400)
    model = GBTRegressor(
        n_estimators=4,
        learning_rate=0.2,
        tree_method=method,
        monotone_constraints="(1,-1,0)",
        interaction_constraints=[[0, 1], [2]],
    ).fit(X, y)
    path = tmp_path / "model.json"
    model.save_model(path, format="xgboost")
    booster = xgb.Booster(model_file=str(path))
    booster.load_config(model.save_config())
    config = json.loads(booster.save_config())["learner"]
    params = config["gradient_booster"]["tree_train_param"]
    assert params["monotone_constraints"] == "(1,-1,0)"
    assert params["interaction_constraints"] == "[[0,1],[2]]"
    assert config["gradient_booster"]["gbtree_train_param"]["tree_method"] == method
    assert float(params["eta"]) == pytest.approx(0.2)
    # xgboost continues the exported model under the same constraints: what its own fit of
    # the same rounds gives.
    longer = xgb.train({}, xgb.DMatrix(X, y), 3, xgb_model=booster)
    theirs = xgb.XGBRegressor(
        n_estimators=7,
        learning_rate=0.2,
        tree_method=method,
        monotone_constraints="(1,-1,0)",
        interaction_constraints="[[0,1],[2]]",
    ).fit(X, y)
    np.testing.assert_allclose(longer.predict(xgb.DMatrix(X)), theirs.predict(X), rtol=0, atol=1e-4)
