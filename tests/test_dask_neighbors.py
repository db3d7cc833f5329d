"""The Dask k-NN estimators: one kd-tree per partition, candidates merged by (distance, global
index), so that every answer equals that of one tree over all the rows concatenated."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.neighbors import NearestNeighbors as SkNearestNeighbors

from sapwood.kdtree import KDTree
from sapwood.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

da = pytest.importorskip("dask.array")
pytest.importorskip("distributed")

from sapwood.dask._neighbors import (  # noqa: E402
    DaskKNeighborsClassifier,
    DaskKNeighborsRegressor,
    DaskNearestNeighbors,
)

# Unequal partitions, one of them empty and one smaller than k.
ROW_CHUNKS = (70, 0, 3, 47, 80)
N = sum(ROW_CHUNKS)


def _data(seed: int = 0, n: int = N, m: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, m))


def _tree_answer(X: np.ndarray, Q: np.ndarray, k: int, p: float = 2.0):
    return KDTree(X).query(Q, k=k, p=p)


def _compute(*arrays):
    return [a.compute() if hasattr(a, "compute") else a for a in arrays]


def test_kneighbors_equals_one_tree_and_brute_force(dask_client):
    X, Q = _data(0), _data(1, n=57)
    nn = DaskNearestNeighbors(n_neighbors=7).fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)))
    assert nn.n_partitions_ == len(ROW_CHUNKS)
    assert nn.n_samples_fit_ == N
    assert nn.n_features_in_ == 3
    dist, ind = nn.kneighbors(da.from_array(Q, chunks=((20, 0, 37), 3)))
    assert isinstance(dist, da.Array)
    assert isinstance(ind, da.Array)
    assert dist.chunks == ((20, 0, 37), (7,))  # block for block with the queries
    dist, ind = _compute(dist, ind)
    tree_dist, tree_ind = _tree_answer(X, Q, 7)
    np.testing.assert_array_equal(ind, tree_ind)
    np.testing.assert_array_equal(dist, tree_dist)
    sk_dist, sk_ind = SkNearestNeighbors(n_neighbors=7, algorithm="brute").fit(X).kneighbors(Q)
    np.testing.assert_array_equal(ind, sk_ind)
    np.testing.assert_allclose(dist, sk_dist, rtol=1e-12)


def test_result_is_lazy_over_query_blocks_with_the_trees_as_dependencies(dask_client):
    X = _data(2)
    nn = DaskNearestNeighbors(n_neighbors=3).fit(da.from_array(X, chunks=(ROW_CHUNKS, 3)))
    dist, _ = nn.kneighbors(da.from_array(X[:40], chunks=10))
    assert dist.chunks == ((10, 10, 10, 10), (3,))
    graph = dict(dist.__dask_graph__())
    deps = set().union(*(getattr(task, "dependencies", ()) for task in graph.values()))
    # Every non-empty partition's tree is a dependency, held by the cluster, not the graph.
    trees = {f.key for f, n in zip(nn._parts, ROW_CHUNKS, strict=True) if n}
    assert trees <= deps
    assert not trees & set(graph)
    assert not any(isinstance(getattr(t, "value", None), KDTree) for t in graph.values())


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_ties_and_duplicates_go_to_the_smaller_global_index(dask_client, metric):
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(N, 2)).astype(np.float64)  # nine distinct points, many ties
    Q = rng.integers(0, 3, size=(25, 2)).astype(np.float64)
    p = {"euclidean": 2.0, "manhattan": 1.0, "chebyshev": np.inf}[metric]
    k = 9
    nn = DaskNearestNeighbors(n_neighbors=k, metric=metric)
    nn.fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)))
    dist, ind = _compute(*nn.kneighbors(da.from_array(Q, chunks=(10, 15))))
    tree_dist, tree_ind = _tree_answer(X, Q, k, p=p)
    np.testing.assert_array_equal(ind, tree_ind)
    np.testing.assert_array_equal(dist, tree_dist)
    # Brute force agrees on the distances; each returned index is at that distance, and the
    # indices of a row are in (distance, index) order.
    sk = SkNearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric).fit(X)
    sk_dist, _ = sk.kneighbors(Q)
    np.testing.assert_allclose(dist, sk_dist)
    direct = np.linalg.norm(X[ind] - Q[:, None, :], ord=p, axis=2)
    np.testing.assert_allclose(dist, direct)
    for row_d, row_i in zip(dist, ind, strict=True):
        assert list(zip(row_d, row_i, strict=True)) == sorted(zip(row_d, row_i, strict=True))


def test_training_rows_as_queries_leave_themselves_out(dask_client):
    rng = np.random.default_rng(4)
    X = rng.integers(0, 4, size=(N, 2)).astype(np.float64)
    nn = DaskNearestNeighbors(n_neighbors=5).fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)))
    dist, ind = nn.kneighbors()
    assert dist.chunks[0] == ROW_CHUNKS
    dist, ind = _compute(dist, ind)
    local_dist, local_ind = NearestNeighbors(n_neighbors=5).fit(X).kneighbors()
    np.testing.assert_array_equal(ind, local_ind)
    np.testing.assert_array_equal(dist, local_dist)


def test_single_chunk_numpy_fit_and_numpy_queries(dask_client):
    X, Q = _data(5, n=60), _data(6, n=11)
    nn = DaskNearestNeighbors(n_neighbors=4, client=dask_client).fit(X)
    assert nn.n_partitions_ == 1
    dist, ind = nn.kneighbors(Q)
    assert isinstance(dist, np.ndarray)
    assert isinstance(ind, np.ndarray)
    tree_dist, tree_ind = _tree_answer(X, Q, 4)
    np.testing.assert_array_equal(ind, tree_ind)
    np.testing.assert_array_equal(dist, tree_dist)
    np.testing.assert_array_equal(nn.kneighbors(Q, 2, return_distance=False), tree_ind[:, :2])
    # A NumPy-fitted estimator answers its own rows in NumPy too.
    local = NearestNeighbors(n_neighbors=4).fit(X).kneighbors()
    np.testing.assert_array_equal(nn.kneighbors()[1], local[1])
    # A Dask array with one chunk, and NumPy queries against it.
    one = DaskNearestNeighbors(n_neighbors=4).fit(da.from_array(X, chunks=-1))
    np.testing.assert_array_equal(one.kneighbors(Q)[1], tree_ind)


def test_float32_stays_float32(dask_client):
    X = _data(7).astype(np.float32)
    nn = DaskNearestNeighbors(n_neighbors=3).fit(da.from_array(X, chunks=(ROW_CHUNKS, 3)))
    dist, ind = nn.kneighbors(X[:9])
    assert dist.dtype == np.float32
    local_dist, local_ind = NearestNeighbors(n_neighbors=3).fit(X).kneighbors(X[:9])
    np.testing.assert_array_equal(ind, local_ind)
    np.testing.assert_array_equal(dist, local_dist)


@pytest.mark.filterwarnings("ignore:Dask currently has limited support:UserWarning")
def test_dask_dataframe_with_unknown_partition_sizes(dask_client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(size=(N, 3)), columns=["a", "b", "c"])
    frame.loc[40:79, "a"] = -1.0  # the second partition is filtered out entirely
    frame["label"] = rng.choice(["x", "y", "z"], size=N)
    ddf = dd.from_pandas(frame, npartitions=5).clear_divisions()
    assert not ddf.known_divisions
    ddf = ddf[ddf.a > -0.3]  # unknown, unequal partition lengths, one of them 0
    kept = frame[frame.a > -0.3]
    features = ["a", "b", "c"]
    clf = DaskKNeighborsClassifier(n_neighbors=4, weights="distance")
    clf.fit(ddf[features], ddf["label"])
    assert clf.n_samples_fit_ == len(kept)
    assert clf.n_partitions_ == 5
    assert list(np.diff(clf._offsets))[1] == 0
    assert list(clf.feature_names_in_) == features
    local = KNeighborsClassifier(n_neighbors=4, weights="distance")
    local.fit(kept[features], kept["label"])
    queries = frame[features].iloc[:30]
    np.testing.assert_array_equal(clf.predict(queries), local.predict(queries))
    pred = clf.predict(dd.from_pandas(queries, npartitions=3))
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), local.predict(queries))
    dist, ind = clf.kneighbors(queries.to_numpy())
    local_dist, local_ind = local.kneighbors(queries)
    np.testing.assert_array_equal(ind, local_ind)
    np.testing.assert_array_equal(dist, local_dist)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(queries[["b", "a", "c"]])


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_classifier_equals_single_machine(dask_client, weights):
    rng = np.random.default_rng(9)
    X = rng.integers(0, 5, size=(N, 2)).astype(np.float64)
    y = rng.choice(np.array(["ash", "birch", "cedar"]), size=N)
    Q = np.vstack([X[:10], rng.normal(2.0, 1.5, size=(25, 2))])
    # y is cut differently from X: it is re-cut along X's partitions.
    clf = DaskKNeighborsClassifier(n_neighbors=6, weights=weights)
    clf.fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)), da.from_array(y, chunks=50))
    local = KNeighborsClassifier(n_neighbors=6, weights=weights).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, local.classes_)
    Qd = da.from_array(Q, chunks=(12, 2))
    np.testing.assert_array_equal(clf.predict_proba(Qd).compute(), local.predict_proba(Q))
    np.testing.assert_array_equal(clf.predict(Qd).compute(), local.predict(Q))
    np.testing.assert_array_equal(clf.predict(Q), local.predict(Q))
    np.testing.assert_array_equal(clf.predict(None).compute(), local.predict(None))


def test_multi_output_classifier_with_numpy_labels(dask_client):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(N, 3))
    y = np.column_stack([rng.integers(0, 3, N), rng.integers(5, 7, N)])
    clf = DaskKNeighborsClassifier(n_neighbors=5).fit(da.from_array(X, chunks=(ROW_CHUNKS, 3)), y)
    local = KNeighborsClassifier(n_neighbors=5).fit(X, y)
    Q = rng.normal(size=(20, 3))
    assert clf.outputs_2d_
    for got, want in zip(clf.predict_proba(Q), local.predict_proba(Q), strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(clf.predict(Q), local.predict(Q))


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_equals_single_machine(dask_client, weights):
    rng = np.random.default_rng(11)
    X = rng.integers(0, 4, size=(N, 2)).astype(np.float64)  # exact matches and ties
    y = rng.normal(size=N)
    Q = np.vstack([X[:10], rng.normal(1.5, 1.0, size=(20, 2))])
    reg = DaskKNeighborsRegressor(n_neighbors=5, weights=weights)
    reg.fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)), da.from_array(y, chunks=(ROW_CHUNKS,)))
    local = KNeighborsRegressor(n_neighbors=5, weights=weights).fit(X, y)
    pred = reg.predict(da.from_array(Q, chunks=7))
    assert isinstance(pred, da.Array)
    assert pred.shape == (30,)
    np.testing.assert_array_equal(pred.compute(), local.predict(Q))
    np.testing.assert_array_equal(reg.predict(Q), local.predict(Q))
    # Two outputs.
    Y = np.column_stack([y, 2 * y + 1])
    reg2 = DaskKNeighborsRegressor(n_neighbors=5, weights=weights)
    reg2.fit(da.from_array(X, chunks=(ROW_CHUNKS, 2)), da.from_array(Y, chunks=(60, 1)))
    local2 = KNeighborsRegressor(n_neighbors=5, weights=weights).fit(X, Y)
    np.testing.assert_array_equal(reg2.predict(Q), local2.predict(Q))


def test_to_local_gives_the_fitted_single_machine_estimator(dask_client):
    rng = np.random.default_rng(12)
    X = rng.normal(size=(N, 3))
    y = rng.choice([3, 7, 9], size=N)
    Xd = da.from_array(X, chunks=(ROW_CHUNKS, 3))
    clf = DaskKNeighborsClassifier(n_neighbors=4, weights="distance", leaf_size=5).fit(Xd, y)
    local = clf.to_local()
    assert type(local) is KNeighborsClassifier
    assert local.get_params() == {k: v for k, v in clf.get_params().items() if k != "client"}
    np.testing.assert_array_equal(local._fit_X, X)
    np.testing.assert_array_equal(local.classes_, [3, 7, 9])
    Q = rng.normal(size=(15, 3))
    np.testing.assert_array_equal(local.predict_proba(Q), clf.predict_proba(Q))
    reg = DaskKNeighborsRegressor(n_neighbors=3).fit(Xd, y.astype(float))
    np.testing.assert_array_equal(reg.to_local().predict(Q), reg.predict(Q))
    nn = DaskNearestNeighbors(n_neighbors=2).fit(Xd)
    assert type(nn.to_local()) is NearestNeighbors


def test_pickle_gathers_the_partitions(dask_client):
    X = _data(13)
    y = np.arange(N) % 4
    clf = DaskKNeighborsClassifier(n_neighbors=3, client=dask_client)
    clf.fit(da.from_array(X, chunks=(ROW_CHUNKS, 3)), y)
    restored = pickle.loads(pickle.dumps(clf))
    assert restored.client is None
    assert restored._parts is None
    # Without touching a cluster ...
    np.testing.assert_array_equal(restored.to_local().predict(X[:20]), clf.predict(X[:20]))
    assert restored._parts is None
    # ... and back on the cluster, partition by partition.
    np.testing.assert_array_equal(restored.predict(X[:20]), clf.predict(X[:20]))
    assert restored.n_partitions_ == len(restored._parts) == len(ROW_CHUNKS)


def test_params_clone_and_validation(dask_client):
    nn = DaskNearestNeighbors(n_neighbors=3, radius=2.0, metric="manhattan", client=dask_client)
    params = nn.get_params()
    assert params["client"] is dask_client
    assert set(params) == set(NearestNeighbors().get_params()) | {"client"}
    assert set(DaskKNeighborsClassifier().get_params()) == (
        set(KNeighborsClassifier().get_params()) | {"client"}
    )
    assert set(DaskKNeighborsRegressor().get_params()) == (
        set(KNeighborsRegressor().get_params()) | {"client"}
    )
    twin = clone(nn)
    assert twin is not nn
    assert twin.client is dask_client
    assert twin.get_params() == params
    assert twin.set_params(n_neighbors=8).n_neighbors == 8
    X = _data(14, n=30)
    for bad, match in [
        ({"metric": "cosine"}, "not supported"),
        ({"algorithm": "ball_tree"}, "algorithm"),
        ({"p": 0.5}, "p must be >= 1"),
        ({"metric_params": {"w": 1}}, "metric_params"),
    ]:
        with pytest.raises(ValueError, match=match):
            DaskNearestNeighbors(**bad).fit(X)
    with pytest.raises(TypeError):
        DaskNearestNeighbors(leaf_size=1.5).fit(X)
    with pytest.raises(ValueError, match="weights"):
        DaskKNeighborsRegressor(weights="gaussian").fit(X, X[:, 0])


def test_errors(dask_client):
    X = _data(15)
    Xd = da.from_array(X, chunks=(ROW_CHUNKS, 3))
    with pytest.raises(ValueError, match="different numbers of rows"):
        DaskKNeighborsRegressor().fit(Xd, da.from_array(np.zeros(N - 1), chunks=50))
    with pytest.raises(ValueError, match="different numbers of rows"):
        DaskKNeighborsClassifier().fit(X, np.zeros(N + 1))
    with pytest.raises(ValueError, match="0 sample"):
        DaskNearestNeighbors().fit(da.zeros((0, 3), chunks=(1, 3)))
    bad = X.copy()
    bad[100, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DaskNearestNeighbors().fit(da.from_array(bad, chunks=(ROW_CHUNKS, 3)))
    with pytest.raises(ValueError, match="2-D"):
        DaskNearestNeighbors().fit(da.from_array(X[:, 0], chunks=50))

    nn = DaskNearestNeighbors(n_neighbors=3).fit(Xd)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(X[:2], n_neighbors=N + 1)
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        nn.kneighbors(None, n_neighbors=N)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        nn.kneighbors(X[:2], n_neighbors=0)
    with pytest.raises(TypeError):
        nn.kneighbors(X[:2], n_neighbors=2.5)
    with pytest.raises(ValueError, match="X has 2 features, but DaskNearestNeighbors"):
        nn.kneighbors(X[:5, :2])
    with pytest.raises(ValueError, match="X has 4 features"):
        nn.kneighbors(da.zeros((5, 4), chunks=(5, 2)))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        DaskKNeighborsClassifier(n_neighbors=N + 1).fit(Xd, np.arange(N) % 2).predict(X[:3])


def test_closed_client(dask_client):
    from distributed import Client

    X = _data(16, n=40)
    other = Client(dask_client.scheduler.address, set_as_default=False)
    nn = DaskNearestNeighbors(n_neighbors=2, client=other).fit(X)
    np.testing.assert_array_equal(nn.kneighbors(X[:3])[1], _tree_answer(X, X[:3], 2)[1])
    other.close()
    with pytest.raises(ValueError, match="closed"):
        nn.kneighbors(X[:3])
    with pytest.raises(ValueError, match="closed"):
        DaskNearestNeighbors(client=other).fit(X)
    with pytest.raises(TypeError, match=r"distributed\.Client"):
        DaskNearestNeighbors(client="tcp://127.0.0.1:8786").fit(X)
