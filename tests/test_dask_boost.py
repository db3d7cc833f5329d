"""Distributed boosting on a two-worker LocalCluster: the same model as one machine."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from sapwood import GBTClassifier, GBTRegressor

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from sapwood.dask import DaskGBTClassifier, DaskGBTRegressor  # noqa: E402


def _data(n: int = 1200, seed: int = 0):
    rng = np.random.default_rng(seed)
    # At most max_bin distinct values per feature: the cuts are exact.
    X = rng.integers(0, 60, size=(n, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (np.nan_to_num(X[:, 0]) * 0.1 + np.sin(np.nan_to_num(X[:, 1]))).astype(np.float32)
    w = (rng.random(n) + 0.5).astype(np.float32)
    return X, y, w


def _same_model(a, b) -> None:
    ja, jb = a.to_local()._model.to_json(), b._model.to_json()
    assert ja == jb


@pytest.mark.parametrize(
    "params",
    [
        {"max_depth": 4},
        {"grow_policy": "lossguide", "max_leaves": 9, "max_depth": 0},
        {"subsample": 0.7, "colsample_bynode": 0.5, "max_depth": 3},
        {"colsample_bynode": 0.2, "num_parallel_tree": 2, "max_depth": 3},
    ],
)
def test_regressor_equals_single_machine(dask_client, params):
    X, y, w = _data()
    # Unequal chunks, an empty one included.
    chunks = (500, 0, 300, 400)
    dX = da.from_array(X, chunks=(chunks, 5))
    dy = da.from_array(y, chunks=(chunks,))
    dw = da.from_array(w, chunks=(chunks,))
    d = DaskGBTRegressor(n_estimators=6, client=dask_client, **params).fit(dX, dy, sample_weight=dw)
    local = GBTRegressor(n_estimators=6, **params).fit(X, y, sample_weight=w)
    _same_model(d, local)
    pred = d.predict(dX)
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), local.predict(X), atol=1e-6)
    np.testing.assert_array_equal(d.apply(dX).compute(), local.apply(X))
    np.testing.assert_allclose(d.predict(X), local.predict(X), atol=1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classifier_equals_single_machine_with_eval_and_early_stopping(dask_client, n_classes):
    X, _, w = _data(seed=1)
    labels = np.array(["a", "b", "c"])[:n_classes]
    code = (np.nan_to_num(X[:, 2]) > 25).astype(int) + (np.nan_to_num(X[:, 3]) > 40).astype(int)
    y = labels[np.minimum(code, n_classes - 1)]
    dX = da.from_array(X, chunks=(700, 5))
    dy = da.from_array(y, chunks=700)
    params = {"n_estimators": 30, "max_depth": 3, "early_stopping_rounds": 3, "learning_rate": 0.5}
    d = DaskGBTClassifier(client=dask_client, **params).fit(
        dX, dy, sample_weight=da.from_array(w, chunks=700), eval_set=[(dX[:500], dy[:500])]
    )
    local = GBTClassifier(**params).fit(X, y, sample_weight=w, eval_set=[(X[:500], y[:500])])
    assert d.evals_result_ == local.evals_result_
    assert d.best_iteration_ == local.best_iteration_
    _same_model(d, local)
    np.testing.assert_array_equal(d.classes_, local.classes_)
    np.testing.assert_allclose(d.predict_proba(dX).compute(), local.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(d.predict(dX).compute(), local.predict(X))


def test_dataframe_input_single_partition_and_pickle(dask_client):
    pd = pytest.importorskip("pandas")
    X, y, _ = _data(600, seed=2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    ddf = dd.from_pandas(frame, npartitions=3).clear_divisions()
    dys = dd.from_pandas(pd.Series(y), npartitions=3).clear_divisions()
    d = DaskGBTRegressor(n_estimators=4, client=dask_client).fit(ddf, dys)
    one = DaskGBTRegressor(n_estimators=4, client=dask_client).fit(X, y)
    local = GBTRegressor(n_estimators=4).fit(X, y)
    _same_model(d, local)
    _same_model(one, local)
    assert list(d.feature_names_in_) == list(frame.columns)
    back = pickle.loads(pickle.dumps(d))
    assert back.client is None
    np.testing.assert_allclose(back.predict(X), local.predict(X), atol=1e-6)
    assert isinstance(d.to_local(), GBTRegressor)


def test_large_cuts_come_from_merged_sketches(dask_client):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + 0.1 * rng.normal(size=4000)).astype(np.float32)
    dX = da.from_array(X, chunks=(1000, 4))
    d = DaskGBTRegressor(n_estimators=20, max_bin=32, client=dask_client).fit(
        dX, da.from_array(y, chunks=1000)
    )
    local = GBTRegressor(n_estimators=20, max_bin=32).fit(X, y)
    rmse = lambda p: float(np.sqrt(np.mean((p - y) ** 2)))  # noqa: E731
    assert abs(rmse(d.predict(X)) - rmse(local.predict(X))) <= 0.002


def test_two_fits_at_once(dask_client):
    from concurrent.futures import ThreadPoolExecutor

    X, y, _ = _data(500, seed=4)
    dX, dy = da.from_array(X, chunks=(250, 5)), da.from_array(y, chunks=250)

    def fit(depth):
        return DaskGBTRegressor(n_estimators=3, max_depth=depth, client=dask_client).fit(dX, dy)

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(fit, [2, 3])
    _same_model(a, GBTRegressor(n_estimators=3, max_depth=2).fit(X, y))
    _same_model(b, GBTRegressor(n_estimators=3, max_depth=3).fit(X, y))


def test_bad_input_and_settings(dask_client):
    X, y, _ = _data(300)
    dX = da.from_array(X, chunks=(100, 5))
    with pytest.raises(ValueError, match="cannot be distributed"):
        DaskGBTRegressor(tree_method="exact", client=dask_client).fit(dX, y)
    with pytest.raises(ValueError, match="rows"):
        DaskGBTRegressor(client=dask_client).fit(dX, da.from_array(y[:200], chunks=100))
    with pytest.raises(ValueError, match="custom objective"):
        DaskGBTRegressor(objective=lambda t, p: (p - t, np.ones_like(p)), client=dask_client).fit(
            dX, y
        )
    with pytest.raises(ValueError, match="NaN"):
        DaskGBTRegressor(client=dask_client).fit(dX, np.where(np.arange(300) == 5, np.nan, y))
    with pytest.raises(ValueError, match="classification objective"):
        DaskGBTRegressor(objective="binary:logistic", client=dask_client).fit(dX, y)


def test_no_client_or_a_closed_one():
    distributed = pytest.importorskip("distributed")
    X, y, _ = _data(100)
    try:
        distributed.default_client()
        pytest.skip("a default client exists in this process")
    except ValueError:
        pass
    with pytest.raises(ValueError, match="no Dask client"):
        DaskGBTRegressor().fit(X, y)


def test_a_closed_client():
    distributed = pytest.importorskip("distributed")
    X, y, _ = _data(100)
    client = distributed.Client(
        distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0"),
        set_as_default=False,
    )
    cluster = client.cluster
    client.close()
    cluster.close()
    with pytest.raises(ValueError, match="closed"):
        DaskGBTRegressor(client=client).fit(X, y)
