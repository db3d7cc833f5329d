"""Model I/O: sapwood JSON, XGBoost JSON both ways, pickle and joblib."""

from __future__ import annotations

import json
import pickle

import joblib
import numpy as np
import pytest

import sapwood
from sapwood import GBTClassifier, GBTRegressor


def _data(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 1]) ** 2 + rng.normal(0, 0.1, n)
    return X, y


def _fitted():
    X, y = _data()
    reg = GBTRegressor(n_estimators=12, tree_method="exact", gamma=0.5).fit(X, y)
    yb = np.where(y > 0.5, "yes", "no")
    clf = GBTClassifier(n_estimators=8, tree_method="exact").fit(X, yb)
    yc = np.digitize(y, [-1.0, 0.5, 2.0])
    multi = GBTClassifier(n_estimators=6, tree_method="exact", max_depth=3).fit(X, yc)
    return X, [reg, clf, multi]


def _outputs(est, X):
    if isinstance(est, GBTClassifier):
        return est.predict_proba(X), est.predict(X)
    return est.predict(X), est.apply(X)


@pytest.mark.parametrize("fmt", ["json", "xgboost"])
def test_save_and_load_give_identical_predictions(tmp_path, fmt):
    X, models = _fitted()
    for i, est in enumerate(models):
        path = tmp_path / f"m{i}.json"
        est.save_model(path, format=fmt)
        back = sapwood.load_model(path)
        assert type(back) is type(est)
        a, b = _outputs(est, X), _outputs(back, X)
        np.testing.assert_array_equal(a[0], b[0])
        if fmt == "json" or not isinstance(est, GBTClassifier):
            np.testing.assert_array_equal(a[1], b[1])


def test_exported_model_predicts_the_same_in_xgboost(xgb, tmp_path):
    X, models = _fitted()
    for i, est in enumerate(models):
        path = tmp_path / f"x{i}.json"
        est.save_model(path, format="xgboost")
        booster = xgb.Booster(model_file=str(path))
        dm = xgb.DMatrix(X)
        got = booster.predict(dm, output_margin=True)
        want = est.predict(X, output_margin=True)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(booster.predict(dm, pred_leaf=True), est.apply(X))


def test_xgboost_models_load_and_predict_the_same(xgb, tmp_path):
    X, y = _data(1)
    for est, target in [
        (xgb.XGBRegressor(n_estimators=10, tree_method="hist", max_depth=4), y),
        (xgb.XGBRegressor(n_estimators=10, tree_method="exact", gamma=1.0), y),
        (xgb.XGBClassifier(n_estimators=10, tree_method="approx"), (y > 0.5).astype(int)),
        (
            xgb.XGBClassifier(n_estimators=5, tree_method="hist"),
            np.digitize(y, [-1.0, 0.5, 2.0]),
        ),
        (
            xgb.XGBRegressor(n_estimators=5, objective="count:poisson"),
            np.random.default_rng(0).poisson(2.0, len(y)),
        ),
        (xgb.XGBRFRegressor(n_estimators=4, max_depth=3), y),
        (
            xgb.XGBClassifier(n_estimators=3, num_parallel_tree=2, tree_method="exact"),
            np.digitize(y, [-1.0, 0.5, 2.0]),
        ),
    ]:
        est.fit(X, target)
        path = tmp_path / "xgb.json"
        est.get_booster().save_model(str(path))
        ours = sapwood.load_model(path)
        np.testing.assert_allclose(
            ours.predict(X, output_margin=True),
            est.predict(X, output_margin=True),
            rtol=1e-6,
            atol=1e-6,
        )
        if isinstance(ours, GBTClassifier):
            np.testing.assert_allclose(
                ours.predict_proba(X), est.predict_proba(X), rtol=1e-5, atol=1e-6
            )
        # Round trip back into XGBoost, iteration ranges included.
        back = tmp_path / "back.json"
        ours.save_model(back, format="xgboost")
        booster = xgb.Booster(model_file=str(back))
        n_it = ours.n_iterations_
        np.testing.assert_allclose(
            booster.predict(xgb.DMatrix(X), output_margin=True, iteration_range=(0, n_it)),
            ours.predict(X, output_margin=True, iteration_range=(0, n_it)),
            rtol=1e-6,
            atol=1e-6,
        )


def test_pickle_and_joblib_round_trip(tmp_path):
    X, models = _fitted()
    for est in models:
        back = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(_outputs(est, X)[0], _outputs(back, X)[0])
        path = tmp_path / "m.joblib"
        joblib.dump(est, path)
        back = joblib.load(path)
        np.testing.assert_array_equal(_outputs(est, X)[0], _outputs(back, X)[0])


def test_pandas_feature_names_travel_with_the_model(xgb, tmp_path):
    pd = pytest.importorskip("pandas")
    X, y = _data(2)
    df = pd.DataFrame(X, columns=[f"col_{c}" for c in "abcde"])
    est = GBTRegressor(n_estimators=5, tree_method="exact").fit(df, y)
    scores = est.get_score()
    assert scores  # an empty dict would pass the subset check below
    assert set(scores) <= set(df.columns)
    path = tmp_path / "named.json"
    est.save_model(path, format="xgboost")
    assert xgb.Booster(model_file=str(path)).feature_names == list(df.columns)
    back = sapwood.load_model(path)
    assert list(back.feature_names_in_) == list(df.columns)
    frame = est.trees_to_dataframe()
    assert set(frame["Feature"]) <= set(df.columns) | {"Leaf"}
    assert len(frame) == sum(
        1
        for t in json.loads(est._model.to_json())["trees"]
        for s in t["split_index"]
        if s != 2147483647
    )


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'{"learner": {}}',
        b'{"format": "sapwood-boost"}',
        b"\xff\xfe\x00",
    ],
)
def test_garbage_model_files_raise_value_error(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="cannot read model"):
        sapwood.load_model(path)


def test_truncated_and_corrupted_model_files_raise_value_error(tmp_path):
    _X, models = _fitted()
    for fmt in ("json", "xgboost"):
        path = tmp_path / "m.json"
        models[0].save_model(path, format=fmt)
        text = path.read_text()
        path.write_text(text[: len(text) // 2])
        with pytest.raises(ValueError, match="cannot read model"):
            sapwood.load_model(path)
    doc = json.loads(models[0]._sapwood_document())
    doc["trees"][0]["left"][0] = 0  # a cycle
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="cycle"):
        sapwood.load_model(path)
    doc = json.loads(models[0]._sapwood_document())
    doc["version"] = 99
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="version"):
        sapwood.load_model(path)


def test_unknown_save_format_is_rejected(tmp_path):
    _X, models = _fitted()
    with pytest.raises(ValueError, match="unknown model format"):
        models[0].save_model(tmp_path / "m.ubj", format="ubj")
