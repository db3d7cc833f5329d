"""Distributed boosting on a two-worker LocalCluster: the same model as one machine."""

from __future__ import annotations

import itertools
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
        {"tree_method": "approx", "max_depth": 3},
        {"monotone_constraints": (1, -1), "interaction_constraints": [[0, 1], [2, 3]]},
        {"tree_method": "approx", "subsample": 0.6, "num_parallel_tree": 2, "max_depth": 2},
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
    # Explanations come from the fitted model, as for the local estimator.
    np.testing.assert_allclose(
        d.predict_contributions(X[:50]), local.predict_contributions(X[:50]), atol=1e-6
    )


@pytest.mark.parametrize(("n_classes", "method"), [(2, "hist"), (3, "hist"), (3, "approx")])
def test_classifier_equals_single_machine_with_eval_and_early_stopping(
    dask_client, n_classes, method
):
    X, _, w = _data(seed=1)
    labels = np.array(["a", "b", "c"])[:n_classes]
    code = (np.nan_to_num(X[:, 2]) > 25).astype(int) + (np.nan_to_num(X[:, 3]) > 40).astype(int)
    y = labels[np.minimum(code, n_classes - 1)]
    dX = da.from_array(X, chunks=(700, 5))
    dy = da.from_array(y, chunks=700)
    params = {
        "n_estimators": 30,
        "max_depth": 3,
        "early_stopping_rounds": 3,
        "learning_rate": 0.5,
        "tree_method": method,
    }
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
    labels = np.where(X[:, 0] > 30, "yes", "no").astype(object)
    labels[250] = None  # a label missing in the last partition only
    with pytest.raises(ValueError, match="missing labels"):
        DaskGBTClassifier(client=dask_client).fit(dX, da.from_array(labels, chunks=100))
    with pytest.raises(ValueError, match="missing labels"):
        DaskGBTClassifier(client=dask_client).fit(
            dX, da.from_array(np.where(np.arange(300) == 7, np.nan, 1.0), chunks=100)
        )
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


# The fault test's cluster and what its callback did (callbacks are deep-copied per fit).
_FAULT: dict = {}


def _kill_a_worker_after(at: int):
    from sapwood.callback import TrainingCallback

    class KillWorker(TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if epoch == at:
                import os
                import signal

                pids = _FAULT["client"].run(os.getpid)
                address = sorted(pids)[0]
                _FAULT["killed"] = address
                os.kill(pids[address], signal.SIGKILL)
            return False

    return KillWorker()


@pytest.mark.parametrize("with_eval", [True, False])
def test_a_worker_killed_mid_fit(with_eval):
    """The fit finishes with the model it gives without the fault: Dask recomputes the
    partitions the worker held, and the growth states are rebuilt where they are lost."""
    distributed = pytest.importorskip("distributed")

    X, y, _ = _data(3000, seed=7)
    chunks = (700, 800, 700, 800)
    dX = da.from_array(X, chunks=(chunks, 5))
    dy = da.from_array(y, chunks=(chunks,))
    params = {"n_estimators": 8, "max_depth": 4}
    expected = GBTRegressor(**params).fit(X, y)
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    client = distributed.Client(cluster, set_as_default=False)
    _FAULT.clear()
    _FAULT["client"] = client
    try:
        # The partitions live on the workers before the fit, as a persisted array's do.
        dX, dy = client.persist([dX, dy])
        est = DaskGBTRegressor(client=client, callbacks=[_kill_a_worker_after(3)], **params)
        if with_eval:
            est.fit(dX, dy, eval_set=[(dX, dy)])
        else:
            est.fit(dX, dy)
        assert "killed" in _FAULT
        _same_model(est, expected)
    finally:
        _FAULT.clear()
        client.close()
        cluster.close()


def test_one_worker_holds_everything_nan_in_one_partition_classes_missing_in_some(dask_client):
    """All partitions on one worker, missing values in one partition only, and partitions
    that lack some of the classes: the single-machine model still."""
    rng = np.random.default_rng(11)
    X = rng.integers(0, 40, size=(900, 4)).astype(np.float32)
    y = np.array(["low", "mid", "high"])[np.digitize(X[:, 0] + X[:, 1], [30, 50])]
    order = np.argsort(X[:, 0] + X[:, 1], kind="stable")  # the first partition has one class
    X, y = X[order], y[order]
    X[600:750, 2] = np.nan
    address = sorted(dask_client.scheduler_info()["workers"])[0]
    dX = dask_client.persist(da.from_array(X, chunks=((200, 300, 400), 4)), workers=[address])
    dy = dask_client.persist(da.from_array(y, chunks=((200, 300, 400),)), workers=[address])
    assert len(np.unique(y[:200])) == 1
    params = {"n_estimators": 5, "max_depth": 3}
    d = DaskGBTClassifier(client=dask_client, **params).fit(dX, dy)
    local = GBTClassifier(**params).fit(X, y)
    _same_model(d, local)
    np.testing.assert_array_equal(d.classes_, local.classes_)


@pytest.mark.parametrize("method", ["hist", "approx"])
def test_features_of_one_byte_and_two_equal_single_machine(dask_client, method):
    """A 256-bin feature with missing values in one partition only (two bytes a bin in every
    partition, as in the whole data), one without them and a 250-bin one with them (one byte,
    in the shared byte arrays) and a feature of 400 bins: the single-machine model."""
    rng = np.random.default_rng(5)
    n = 1500
    X = np.column_stack(
        [
            rng.permutation(np.arange(n) % 256),
            rng.permutation(np.arange(n) % 256),
            rng.permutation(np.arange(n) % 250),
            rng.permutation(np.arange(n) % 400),
        ]
    ).astype(np.float32)
    X[600:700, 0] = np.nan
    X[rng.random(n) < 0.1, 2] = np.nan
    y = (np.nan_to_num(X[:, 0]) / 50 + np.sin(X[:, 1] / 30) + X[:, 3] / 200).astype(np.float32)
    dX = da.from_array(X, chunks=((500, 500, 500), 4))
    dy = da.from_array(y, chunks=((500, 500, 500),))
    params = {"n_estimators": 6, "max_depth": 4, "max_bin": 400, "tree_method": method}
    d = DaskGBTRegressor(client=dask_client, **params).fit(dX, dy)
    local = GBTRegressor(**params).fit(X, y)
    _same_model(d, local)


def test_saved_and_exported_models(dask_client, tmp_path):
    xgb = pytest.importorskip("xgboost")
    import sapwood

    X, y, _ = _data(800, seed=5)
    d = DaskGBTRegressor(n_estimators=5, client=dask_client).fit(
        da.from_array(X, chunks=(400, 5)), da.from_array(y, chunks=400)
    )
    d.save_model(tmp_path / "m.json")
    back = sapwood.load_model(tmp_path / "m.json")
    np.testing.assert_allclose(back.predict(X), d.predict(X), atol=1e-6)
    d.save_model(tmp_path / "x.json", format="xgboost")
    booster = xgb.Booster(model_file=str(tmp_path / "x.json"))
    np.testing.assert_allclose(booster.predict(xgb.DMatrix(X)), d.predict(X), atol=1e-5)


def test_the_model_does_not_depend_on_the_workers(dask_client):
    """Pruned sketches (no single-machine twin): two worker processes and one in-process
    worker give the same model, as sums and merges run in partition order."""
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(8)
    X = rng.normal(size=(6000, 3)).astype(np.float32)
    y = (X[:, 0] - X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=6000)).astype(np.float32)
    dX, dy = da.from_array(X, chunks=(1500, 3)), da.from_array(y, chunks=1500)
    params = {"n_estimators": 5, "max_depth": 3, "max_bin": 16}
    two = DaskGBTRegressor(client=dask_client, **params).fit(dX, dy)
    with (
        distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=":0") as c,
        distributed.Client(c, set_as_default=False) as one_client,
    ):
        one = DaskGBTRegressor(client=one_client, **params).fit(dX, dy)
    assert two.to_local()._model.to_json() == one.to_local()._model.to_json()


def _categorical_frame(n: int = 1500, seed: int = 0):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    cols = {}
    y = np.zeros(n)
    for j, card in enumerate((3, 9, 40, 300)):
        codes = rng.integers(0, card, n)
        y += rng.normal(size=card)[codes]
        codes[rng.random(n) < 0.1] = -1
        cols[f"c{j}"] = pd.Categorical.from_codes(
            codes, categories=[f"v{j}_{k}" for k in range(card)]
        )
    cols["n"] = rng.integers(0, 12, n).astype(float)
    y += 0.1 * cols["n"]
    return pd.DataFrame(cols), y


@pytest.mark.parametrize("method", ["hist", "approx"])
def test_categorical_frames_equal_single_machine(dask_client, method):
    pd = pytest.importorskip("pandas")
    X, y = _categorical_frame()
    dX = dd.from_pandas(X, npartitions=3)
    dy = dd.from_pandas(pd.Series(y), npartitions=3)
    params = dict(n_estimators=8, max_depth=4, enable_categorical=True, tree_method=method)
    local = GBTRegressor(**params).fit(X, y)
    d = DaskGBTRegressor(client=dask_client, **params).fit(dX, dy, eval_set=[(dX, dy)])
    _same_model(d, local)
    np.testing.assert_array_equal(d.predict(dX).compute(), local.predict(X))
    # The local model keeps the categories: a reordered frame is recoded by value.
    reordered = X.assign(c2=X["c2"].cat.reorder_categories(list(X["c2"].cat.categories)[::-1]))
    np.testing.assert_array_equal(d.to_local().predict(reordered), local.predict(X))
    # Unknown categories cannot be coded alike across partitions; eval sets may not add any.
    unknown = dX.assign(c0=dX["c0"].cat.as_unknown())
    with pytest.raises(ValueError, match="unknown categories"):
        DaskGBTRegressor(client=dask_client, **params).fit(unknown, dy)
    extra = X.assign(c0=X["c0"].cat.add_categories(["new"]))
    with pytest.raises(ValueError, match="lists categories the training data lacks: 'new'"):
        DaskGBTRegressor(client=dask_client, **params).fit(
            dX, dy, eval_set=[(dd.from_pandas(extra, npartitions=2), dy)]
        )
    with pytest.raises(ValueError, match="enable_categorical=True"):
        DaskGBTRegressor(client=dask_client, n_estimators=2).fit(dX, dy)


# ------------------------------------------------------------------------------- ranking
def _queries(n_q: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    size = rng.integers(1, 30, n_q)
    n = int(size.sum())
    X = rng.integers(0, 40, size=(n, 4)).astype(np.float32)
    y = np.clip(np.floor(X[:, 0] / 10 + rng.normal(0, 0.7, n)), 0, 4).astype(np.float32)
    qid = np.repeat(np.arange(n_q) * 3, size)
    return X, y, qid, size


def _query_chunks(size, cuts):
    """Row chunks that end at query boundaries (``cuts``: query counts a chunk)."""
    ends = np.cumsum(size)
    bounds = [0, *[int(ends[c - 1]) for c in np.cumsum(cuts)[:-1]], int(ends[-1])]
    return tuple(int(b) - int(a) for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize(
    "params",
    [
        {"objective": "rank:ndcg"},
        {"objective": "rank:pairwise", "lambdarank_pair_method": "mean"},
        {"objective": "rank:map", "tree_method": "approx"},
        {"objective": "rank:ndcg", "lambdarank_num_pair_per_sample": 4, "subsample": 0.7},
    ],
)
def test_ranker_equals_single_machine(dask_client, params):
    from sapwood import GBTRanker
    from sapwood.dask import DaskGBTRanker

    X, y, qid, size = _queries()
    if params["objective"] == "rank:map":
        y = (y > 1).astype(np.float32)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(size))
    chunks = _query_chunks(size, [20, 0, 25, 15])
    dX = da.from_array(X, chunks=(chunks, 4))
    dy = da.from_array(y, chunks=(chunks,))
    dq = da.from_array(qid, chunks=(chunks,))
    Xe, ye, qe, se = _queries(n_q=20, seed=3)
    if params["objective"] == "rank:map":
        ye = (ye > 1).astype(np.float32)
    echunks = _query_chunks(se, [12, 8])
    metrics = ["ndcg@5", "map@3"] if params["objective"] == "rank:map" else ["ndcg@5", "ndcg-"]
    kw = {"n_estimators": 5, "max_depth": 4, "eval_metric": metrics, **params}
    d = DaskGBTRanker(client=dask_client, **kw).fit(
        dX,
        dy,
        qid=dq,
        sample_weight=w,
        eval_set=[(da.from_array(Xe, chunks=(echunks, 4)), da.from_array(ye, chunks=(echunks,)))],
        eval_qid=[da.from_array(qe, chunks=(echunks,))],
    )
    local = GBTRanker(**kw).fit(X, y, qid=qid, sample_weight=w, eval_set=[(Xe, ye)], eval_qid=[qe])
    _same_model(d, local)
    for name, values in local.evals_result_["validation_0"].items():
        np.testing.assert_allclose(d.evals_result_["validation_0"][name], values, rtol=1e-12)
    np.testing.assert_allclose(d.predict(dX).compute(), local.predict(X), atol=1e-6)


def test_ranker_reads_a_qid_column_and_refuses_split_queries(dask_client):
    import pandas as pd

    from sapwood import GBTRanker
    from sapwood.dask import DaskGBTRanker

    X, y, qid, size = _queries(seed=2)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    frame.insert(0, "qid", qid)
    chunks = _query_chunks(size, [30, 30])
    starts = np.cumsum([0, *chunks[:-1]])
    ddf = dd.from_pandas(frame, npartitions=1).repartition(
        divisions=[*starts.tolist(), len(frame) - 1]
    )
    dy = da.from_array(y, chunks=(chunks,))
    d = DaskGBTRanker(n_estimators=4, client=dask_client).fit(ddf, dy)
    local = GBTRanker(n_estimators=4).fit(frame, y)
    _same_model(d, local)
    # A query cut in two by the partitioning.
    bad = (chunks[0] + 1, chunks[1] - 1)
    with pytest.raises(ValueError, match="each must lie in one partition"):
        DaskGBTRanker(n_estimators=2, client=dask_client).fit(
            da.from_array(X, chunks=(bad, 4)),
            da.from_array(y, chunks=(bad,)),
            qid=da.from_array(qid, chunks=(bad,)),
        )
    with pytest.raises(ValueError, match="sorted"):
        DaskGBTRanker(n_estimators=2, client=dask_client).fit(
            da.from_array(X, chunks=(chunks, 4)),
            da.from_array(y, chunks=(chunks,)),
            qid=da.from_array(qid[::-1].copy(), chunks=(chunks,)),
        )
    with pytest.raises(ValueError, match="lambdarank_unbiased cannot be distributed"):
        DaskGBTRanker(n_estimators=2, lambdarank_unbiased=True, client=dask_client).fit(
            da.from_array(X, chunks=(chunks, 4)),
            da.from_array(y, chunks=(chunks,)),
            qid=da.from_array(qid, chunks=(chunks,)),
        )
    with pytest.raises(ValueError, match="needs the query of each row"):
        DaskGBTRanker(n_estimators=2, client=dask_client).fit(
            da.from_array(X, chunks=(chunks, 4)), da.from_array(y, chunks=(chunks,))
        )
