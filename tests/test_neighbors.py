"""sapwood's k-NN estimators against scikit-learn, and KDTree's own additions and bad input."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.spatial import cKDTree
from sklearn import neighbors as skn
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_regression
from sklearn.utils.estimator_checks import parametrize_with_checks

from sapwood import KDTree, KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors


@parametrize_with_checks(
    [
        NearestNeighbors(),
        KNeighborsClassifier(),
        KNeighborsClassifier(weights="distance", n_neighbors=3),
        KNeighborsRegressor(),
        KNeighborsRegressor(weights="distance", p=1),
    ]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _no_ties(rng: np.random.Generator, n: int, m: int) -> np.ndarray:
    return rng.normal(size=(n, m))


@pytest.mark.parametrize("weights", ["uniform", "distance", lambda d: np.exp(-d)])
@pytest.mark.parametrize("p", [1, 2, np.inf, 3])
def test_classifier_matches_scikit_learn(weights, p):
    X, y = make_blobs(n_samples=600, centers=4, n_features=5, cluster_std=3.0, random_state=0)
    Xq = X[:200] + 0.01
    ours = KNeighborsClassifier(n_neighbors=7, weights=weights, p=p).fit(X[200:], y[200:])
    ref = skn.KNeighborsClassifier(n_neighbors=7, weights=weights, p=p, algorithm="kd_tree")
    ref.fit(X[200:], y[200:])
    assert_array_equal(ours.predict(Xq), ref.predict(Xq))
    assert_allclose(ours.predict_proba(Xq), ref.predict_proba(Xq), rtol=1e-12, atol=1e-12)
    assert ours.score(Xq, y[:200]) == pytest.approx(ref.score(Xq, y[:200]))


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_regressor_matches_scikit_learn(weights):
    X, y = make_regression(n_samples=500, n_features=6, noise=1.0, random_state=1)
    Y = np.column_stack([y, -2 * y])
    for target in (y, Y):
        ours = KNeighborsRegressor(n_neighbors=6, weights=weights).fit(X[100:], target[100:])
        ref = skn.KNeighborsRegressor(n_neighbors=6, weights=weights, algorithm="kd_tree")
        ref.fit(X[100:], target[100:])
        assert_allclose(ours.predict(X[:100]), ref.predict(X[:100]), rtol=1e-12)


def test_nearest_neighbors_matches_scikit_learn():
    rng = np.random.default_rng(2)
    X = _no_ties(rng, 400, 3)
    Xq = _no_ties(rng, 50, 3)
    ours = NearestNeighbors(n_neighbors=4, radius=0.6).fit(X)
    ref = skn.NearestNeighbors(n_neighbors=4, radius=0.6, algorithm="kd_tree").fit(X)
    for query in (Xq, None):
        d, i = ours.kneighbors(query)
        d_ref, i_ref = ref.kneighbors(query)
        assert_array_equal(i, i_ref)
        assert_allclose(d, d_ref, rtol=1e-12)
        g = ours.kneighbors_graph(query, mode="distance")
        g_ref = ref.kneighbors_graph(query, mode="distance")
        assert_allclose(g.toarray(), g_ref.toarray(), rtol=1e-12)
        rd, ri = ours.radius_neighbors(query, sort_results=True)
        rd_ref, ri_ref = ref.radius_neighbors(query, sort_results=True)
        for a, b, c, e in zip(rd, rd_ref, ri, ri_ref, strict=True):
            assert_array_equal(c, e)
            assert_allclose(a, b, rtol=1e-12)
        rg = ours.radius_neighbors_graph(query, mode="connectivity")
        rg_ref = ref.radius_neighbors_graph(query, mode="connectivity")
        assert_array_equal(rg.toarray(), rg_ref.toarray())


def test_float32_stays_float32_and_pickles():
    rng = np.random.default_rng(3)
    X = rng.random((300, 3), dtype=np.float32)
    tree = KDTree(X)
    d, i = tree.query(X[:10], k=3)
    assert d.dtype == np.float32
    assert i.dtype == np.intp
    assert_array_equal(i[:, 0], np.arange(10))
    clone_tree = pickle.loads(pickle.dumps(tree))
    assert_array_equal(clone_tree.query(X[:10], k=3)[1], i)
    nn = NearestNeighbors(n_neighbors=2).fit(X)
    assert nn.kneighbors(X[:4])[0].dtype == np.float32
    restored = pickle.loads(pickle.dumps(nn))
    assert_array_equal(restored.kneighbors(X[:4])[1], nn.kneighbors(X[:4])[1])
    assert clone(nn).get_params() == nn.get_params()


def test_native_tree_pickles_and_reports_its_shape():
    rng = np.random.default_rng(10)
    X = rng.random((1000, 4))
    tree = KDTree(X, leafsize=8, boxsize=2.0)
    native = pickle.loads(pickle.dumps(tree._tree))
    assert (native.n, native.m, native.leafsize, native.dtype) == (1000, 4, 8, "float64")
    assert_array_equal(native.data(), X)
    q = np.ascontiguousarray(X[:20])
    for a, b in zip(native.query(q, 3), tree._tree.query(q, 3), strict=True):
        assert_array_equal(a, b)
    assert tree.size == native.size
    assert sorted(tree.indices.tolist()) == list(range(1000))


def test_huge_k_is_a_memory_error_not_a_crash():
    tree = KDTree(np.zeros((3, 2)))
    with pytest.raises(MemoryError):
        tree.query(np.zeros((4, 2)), k=2**61)


def test_results_do_not_depend_on_threads():
    rng = np.random.default_rng(4)
    X = np.floor(rng.random((3000, 4)) * 5)  # many ties
    tree = KDTree(X, leafsize=4)
    one = tree.query(X, k=8, workers=1)
    many = tree.query(X, k=8, workers=-1)
    assert_array_equal(one[0], many[0])
    assert_array_equal(one[1], many[1])
    a = tree.query_radius(X, 1.0, workers=1)
    b = tree.query_radius(X, 1.0, workers=4)
    for u, v in zip(a, b, strict=True):
        assert_array_equal(u, v)


@pytest.mark.parametrize("balanced", [True, False])
def test_large_query_batches_match_scipy(balanced):
    # Large batches are answered in a cache-friendly order and put back in the caller's.
    rng = np.random.default_rng(9)
    X = rng.random((40_000, 3))
    Q = rng.random((6_000, 3))
    d, i = KDTree(X, balanced_tree=balanced).query(Q, k=4, workers=-1)
    d_ref, i_ref = cKDTree(X).query(Q, k=4)
    assert_array_equal(i, i_ref)
    assert_allclose(d, d_ref, rtol=1e-12)


def test_query_radius_returns_flat_arrays():
    rng = np.random.default_rng(5)
    X = rng.random((500, 2))
    Q = rng.random((40, 2))
    tree = KDTree(X)
    idx, dist, off = tree.query_radius(Q, 0.1, sort_results=True)
    assert off.shape == (41,)
    assert off[0] == 0
    assert off[-1] == len(idx)
    lists = cKDTree(X).query_ball_point(Q, 0.1)
    for j, want in enumerate(lists):
        got = idx[off[j] : off[j + 1]]
        assert sorted(got.tolist()) == sorted(want)
        assert np.all(np.diff(dist[off[j] : off[j + 1]]) >= 0)
        assert_allclose(dist[off[j] : off[j + 1]], np.linalg.norm(X[got] - Q[j], axis=1))
    per_query = rng.random(40) * 0.2
    _idx2, none, off2 = tree.query_radius(Q, per_query, return_distance=False)
    assert none is None
    assert_array_equal(np.diff(off2), tree.query_ball_point(Q, per_query, return_length=True))


def test_high_dimensions_give_identical_answers_whichever_strategy_runs():
    # Which strategy "auto" picks is not visible from Python; what users rely on is that the
    # answers do not depend on it.
    rng = np.random.default_rng(6)
    X = rng.random((4000, 24))
    Q = rng.random((300, 24))
    tree = KDTree(X)
    auto = tree._knn(np.ascontiguousarray(Q), 5)
    forced_tree = tree._knn(np.ascontiguousarray(Q), 5, strategy="tree")
    forced_brute = tree._knn(np.ascontiguousarray(Q), 5, strategy="brute")
    for a, b, c in zip(auto, forced_tree, forced_brute, strict=True):
        assert_array_equal(a, b)
        assert_array_equal(a, c)
    d_ref, i_ref = cKDTree(X).query(Q, k=5)
    assert_array_equal(auto[1], i_ref)
    assert_allclose(auto[0], d_ref, rtol=1e-12)


# ----- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_or_queries_are_value_errors(bad):
    X = np.zeros((5, 2))
    X[2, 1] = bad
    with pytest.raises(ValueError, match="must be finite"):
        KDTree(X)
    tree = KDTree(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="must be finite"):
        tree.query([0.0, bad])
    with pytest.raises(ValueError, match="must be finite"):
        tree.query_radius([[0.0, bad]], 1.0)
    with pytest.raises(ValueError, match=r"NaN|infinity"):
        NearestNeighbors().fit(X)


def test_bad_parameters_are_clear_errors():
    X = np.random.default_rng(7).random((20, 3))
    tree = KDTree(X)
    with pytest.raises(ValueError, match="k must be"):
        tree.query(X, k=0)
    with pytest.raises(ValueError, match="k must be an integer"):
        tree.query(X, k=None)
    with pytest.raises(ValueError, match="p-norms"):
        tree.query(X, p=0.5)
    with pytest.raises(ValueError, match="p-norms"):
        tree.query_ball_point(X, 0.1, p=0)
    with pytest.raises(ValueError, match="vectors of length 3"):
        tree.query(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="eps"):
        tree.query(X, eps=-1)
    with pytest.raises(ValueError, match="leafsize"):
        KDTree(X, leafsize=0)
    with pytest.raises(TypeError, match="leafsize"):
        KDTree(X, leafsize=2.5)
    with pytest.raises(ValueError, match="shape"):
        KDTree(np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        KDTree(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="complex"):
        KDTree(np.zeros((3, 2), dtype=complex))
    with pytest.raises(ValueError, match="periodic box"):
        KDTree(X + 1.0, boxsize=1.0)
    with pytest.raises(ValueError, match="workers"):
        tree.query(X, workers=0)
    with pytest.raises(ValueError, match="different dimensionality"):
        tree.count_neighbors(KDTree(np.zeros((3, 2))), 1.0)
    with pytest.raises(ValueError, match="Invalid output type"):
        tree.query_pairs(0.1, output_type="list")


def test_estimator_bad_input():
    X = np.random.default_rng(8).random((6, 2))
    y = np.array([0, 1, 0, 1, 0, 1])
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        KNeighborsClassifier(n_neighbors=7).fit(X, y).predict(X)
    with pytest.raises(ValueError, match="n_neighbors > 0"):
        NearestNeighbors(n_neighbors=0).fit(X).kneighbors(X)
    with pytest.raises(ValueError, match="p must be >= 1"):
        NearestNeighbors(p=0.5).fit(X)
    with pytest.raises(ValueError, match="metric"):
        NearestNeighbors(metric="cosine").fit(X)
    with pytest.raises(ValueError, match="weights"):
        KNeighborsRegressor(weights="gaussian").fit(X, y)
    with pytest.raises(ValueError, match="features"):
        NearestNeighbors().fit(X).kneighbors(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Unknown label type"):
        KNeighborsClassifier().fit(X, X[:, 0])
