"""Property tests: KDTree against brute force on random, duplicated, gridded and periodic data.

Distances are compared with a relative tolerance of 1e-9 for float64 and 1e-5 for float32
(the tree sums the same terms in a different precision or order than numpy). Where points are
equally distant, any of them may fill the last places; the checks allow that.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sapwood import KDTree

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
P_VALUES = [1.0, 2.0, np.inf, 1.5, 3.0]


def brute_distances(X, Q, p, boxsize=None):
    diff = np.abs(Q[:, None, :].astype(np.float64) - X[None, :, :].astype(np.float64))
    if boxsize is not None:
        box = np.broadcast_to(np.asarray(boxsize, dtype=np.float64), (X.shape[1],))
        periodic = box > 0
        wrapped = np.minimum(diff, box - diff)
        diff = np.where(periodic, wrapped, diff)
    if np.isinf(p):
        return diff.max(axis=2)
    return (diff**p).sum(axis=2) ** (1.0 / p)


@st.composite
def point_sets(draw, max_n=2000, max_m=20):
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, max_m))
    kind = draw(st.sampled_from(["uniform", "grid", "duplicates", "clusters"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        X = rng.random((n, m))
    elif kind == "grid":
        X = np.floor(rng.random((n, m)) * 4)
    elif kind == "duplicates":
        base = rng.random((max(1, n // 10), m))
        X = base[rng.integers(0, len(base), n)]
    else:
        centres = rng.random((3, m)) * 10
        X = centres[rng.integers(0, 3, n)] + rng.normal(scale=0.01, size=(n, m))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    Q = np.vstack([X[rng.integers(0, n, 5)], rng.random((5, m)) * X.max() * 1.2])
    return X.astype(dtype), Q.astype(dtype), seed


def _tol(dtype):
    return 1e-5 if dtype == np.float32 else 1e-9


@SETTINGS
@given(
    data=point_sets(),
    k=st.integers(1, 40),
    p=st.sampled_from(P_VALUES),
    leafsize=st.integers(1, 32),
    balanced=st.booleans(),
)
def test_knn_equals_brute_force(data, k, p, leafsize, balanced):
    X, Q, _ = data
    tree = KDTree(X, leafsize=leafsize, balanced_tree=balanced)
    d, i = tree.query(Q, k=k, p=p)
    d = d.reshape(len(Q), -1)
    i = i.reshape(len(Q), -1)
    ref = np.sort(brute_distances(X, Q, p), axis=1)
    n = len(X)
    tol = _tol(X.dtype)
    found = min(k, n)
    np.testing.assert_allclose(d[:, :found], ref[:, :found], rtol=tol, atol=tol)
    assert np.all(np.isinf(d[:, found:]))
    assert np.all(i[:, found:] == n)
    # The indices returned are at the distances returned, and all distinct.
    real = brute_distances(X, Q, p)[np.arange(len(Q))[:, None], i[:, :found]]
    np.testing.assert_allclose(real, d[:, :found], rtol=tol, atol=tol)
    assert all(len(set(row)) == found for row in i[:, :found].tolist())


@SETTINGS
@given(data=point_sets(max_n=600, max_m=6), p=st.sampled_from([1.0, 2.0, np.inf]))
def test_radius_on_grid_includes_the_edge(data, p):
    X, _, seed = data
    X = np.floor(X.astype(np.float64) * 3)  # integer grid: distances are exact
    Q = X[np.random.default_rng(seed).integers(0, len(X), 6)]
    tree = KDTree(X, leafsize=3)
    for r in (0.0, 1.0, 2.0):
        got = tree.query_ball_point(Q, r, p=p)
        want = brute_distances(X, Q, p) <= r
        for row, mask in zip(got, want, strict=True):
            assert sorted(row) == np.flatnonzero(mask).tolist()
        counts = tree.count_neighbors(KDTree(Q), r, p=p)
        assert counts == int(want.sum())


@SETTINGS
@given(
    data=point_sets(max_n=800, max_m=4),
    k=st.integers(1, 10),
    p=st.sampled_from([1.0, 2.0, np.inf]),
    partial=st.booleans(),
)
def test_periodic_box_equals_minimum_image_brute_force(data, k, p, partial):
    X, _, seed = data
    X = X.astype(np.float64)
    m = X.shape[1]
    X = (X - X.min()) / (np.ptp(X) + 1.0)  # inside [0, 1)
    boxsize = np.ones(m)
    if partial:
        boxsize[0] = 0.0  # one open axis
    rng = np.random.default_rng(seed)
    Q = rng.random((8, m)) * 3 - 1
    tree = KDTree(X, boxsize=boxsize)
    d, _i = tree.query(Q, k=k, p=p)
    d = d.reshape(len(Q), -1)
    wrapped = np.where(boxsize > 0, np.mod(Q, np.where(boxsize > 0, boxsize, 1.0)), Q)
    ref = np.sort(brute_distances(X, wrapped, p, boxsize), axis=1)
    found = min(k, len(X))
    np.testing.assert_allclose(d[:, :found], ref[:, :found], rtol=1e-9, atol=1e-12)
    r = 0.3
    lists = tree.query_ball_point(Q, r, p=p)
    within = brute_distances(X, wrapped, p, boxsize) <= r
    for row, mask in zip(lists, within, strict=True):
        assert sorted(row) == np.flatnonzero(mask).tolist()


@SETTINGS
@given(data=point_sets(max_n=500, max_m=5), eps=st.floats(0.0, 2.0))
def test_approximate_search_keeps_its_guarantee(data, eps):
    X, Q, _ = data
    X = X.astype(np.float64)
    Q = Q.astype(np.float64)
    tree = KDTree(X)
    k = min(3, len(X))
    d, i = tree.query(Q, k=k, eps=eps)
    d = d.reshape(len(Q), -1)
    i = i.reshape(len(Q), -1)
    every = brute_distances(X, Q, 2.0)
    ref = np.sort(every, axis=1)[:, :k]
    assert np.all(d <= ref * (1 + eps) * (1 + 1e-12) + 1e-12)
    # The bound alone would hold for any too-small answer (zeros, say): the answer must be k
    # distinct real points at their real distances, so no closer than the exact neighbours.
    np.testing.assert_allclose(d, every[np.arange(len(Q))[:, None], i], rtol=1e-9, atol=1e-12)
    assert all(len(set(row)) == k for row in i.tolist())
    assert np.all(d >= ref * (1 - 1e-12) - 1e-12)


@SETTINGS
@given(data=point_sets(max_n=300, max_m=4), dub=st.floats(0.0, 1.0))
def test_distance_upper_bound_pads_with_inf_and_n(data, dub):
    X, Q, _ = data
    X = X.astype(np.float64)
    Q = Q.astype(np.float64)
    tree = KDTree(X)
    k = 5
    d, i = tree.query(Q, k=k, distance_upper_bound=dub)
    ref = np.sort(brute_distances(X, Q, 2.0), axis=1)
    n = len(X)
    for row_d, row_i, row_ref in zip(d, i, ref, strict=True):
        inside = row_ref[row_ref < dub][:k]
        # Points right at the bound may fall either side of it after rounding.
        near_edge = np.isclose(row_ref, dub, rtol=1e-12).sum()
        assert abs(np.isfinite(row_d).sum() - len(inside)) <= near_edge
        assert np.all(row_i[~np.isfinite(row_d)] == n)
