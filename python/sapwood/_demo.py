"""The sections of ``sapwood demo``: each capability shows itself on built-in or generated data.

A section is a name, a title and a function that prints its results. Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sapwood import _native


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    run: Callable[[], None]


def _threads() -> None:
    """The thread policy every engine follows."""
    for n_jobs in (None, -1, 1, 2):
        print(f"  n_jobs={n_jobs!s:<5} -> {_native.effective_n_jobs(n_jobs)} thread(s)")
    print(f"  numpy {np.__version__}; GIL released during every long Rust call")


def _timed(label: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<48} {time.perf_counter() - start:8.3f} s")
    return out


def _feature_selection() -> None:
    """Boruta on generated data whose relevant columns are known."""
    from sklearn.datasets import make_classification

    from sapwood import BorutaSelector

    X, y = make_classification(
        n_samples=1000,
        n_features=40,
        n_informative=5,
        n_redundant=5,
        shuffle=False,
        random_state=0,
    )
    print(f"  data: {X.shape[0]} rows x {X.shape[1]} features; columns 0-9 relevant, 10-39 noise")
    selector = _timed("BorutaSelector.fit", lambda: BorutaSelector(random_state=0).fit(X, y))
    confirmed = np.flatnonzero(selector.support_)
    decided = {
        d: int((selector.decision_ == d).sum()) for d in ("confirmed", "tentative", "rejected")
    }
    print(f"  after {selector.n_iter_} fits: {decided}")
    print(f"  confirmed columns: {confirmed.tolist()}")
    recall = np.isin(np.arange(10), confirmed).mean()
    print(
        f"  recall of relevant columns {recall:.0%}, false positives {int((confirmed >= 10).sum())}"
    )


def _neighbors() -> None:
    """KDTree against scipy's cKDTree, and a k-NN classifier on the digits data."""
    from scipy.spatial import cKDTree
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from sapwood.neighbors import KDTree, KNeighborsClassifier

    rng = np.random.default_rng(0)
    points = rng.random((200_000, 3))
    queries = rng.random((50_000, 3))
    tree = _timed("KDTree build, 200,000 x 3", lambda: KDTree(points))
    ours = _timed(
        "KDTree.query k=10 (50,000 queries)", lambda: tree.query(queries, k=10, workers=-1)
    )
    ref_tree = _timed("scipy cKDTree build", lambda: cKDTree(points))
    ref = _timed("cKDTree.query k=10", lambda: ref_tree.query(queries, k=10, workers=-1))
    same = np.array_equal(ours[1], ref[1]) and np.allclose(ours[0], ref[0])
    print(f"  identical neighbours and distances: {same}")
    print(f"  tree memory: {tree.nbytes / points.nbytes:.2f} x the data")
    idx, _, _ = tree.query_radius(queries[:1000], 0.02)
    print(f"  query_radius r=0.02: {len(idx)} neighbours of 1,000 points as flat arrays")

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    clf = KNeighborsClassifier(n_neighbors=3).fit(X_train, y_train)
    print(
        f"  KNeighborsClassifier on digits (64 features): accuracy {clf.score(X_test, y_test):.3f}"
    )


def _gpu() -> None:
    """The GPU kernels: on CuPy arrays when a GPU is present, else the NumPy path."""
    from sapwood import gpu

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4096)).astype(np.float16) * 4
    x[0] = -np.inf  # a fully masked row
    w = (rng.standard_normal((1024, 4096)) / 64).astype(np.float32)
    v = rng.standard_normal(4096).astype(np.float32)
    on_gpu = gpu.is_available()
    if on_gpu:
        import cupy

        xp, where = cupy, "GPU (CuPy, kernels from cuda/)"
        to_host = cupy.asnumpy
    else:
        xp, where = np, "host (NumPy path; no CUDA GPU found)"

        def to_host(a):
            return a

    print(f"  running on: {where}")
    xd, wd, vd = xp.asarray(x), xp.asarray(w), xp.asarray(v)
    p = to_host(gpu.softmax(xd)).astype(np.float64)
    print(
        f"  softmax fp16 64x4096: row sums in [{p[1:].sum(1).min():.4f}, "
        f"{p[1:].sum(1).max():.4f}], masked row -> {p[0].max():g} (zeros, not NaN)"
    )
    y = to_host(gpu.layer_norm(xd[1:])).astype(np.float64)
    print(
        f"  layer_norm: row means |.| <= {np.abs(y.mean(1)).max():.1e}, stds {y.std(1).mean():.4f}"
    )
    exact = w.astype(np.float64) @ v
    dense = to_host(gpu.gemv(wd, vd))
    print(f"  gemv fp32 1024x4096: max |error| {np.abs(dense - exact).max():.1e}")
    for bits, group in ((8, None), (4, 128)):
        q = gpu.quantize(wd, bits=bits, group_size=group)
        approx = to_host(gpu.gemv_quantized(q, vd))
        rel = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
        print(
            f"  int{bits} (group {group or 'row'}): {w.nbytes / q.nbytes:4.1f}x smaller, "
            f"relative error of W @ x {rel:.1e}"
        )


def _boosting() -> None:
    """Gradient boosting: the exact finder on scikit-learn's breast-cancer and diabetes data,
    the histogram finder and the random forest on generated data."""
    from sklearn.datasets import load_breast_cancer, load_diabetes
    from sklearn.metrics import mean_squared_error, roc_auc_score
    from sklearn.model_selection import train_test_split

    from sapwood import GBTClassifier, GBTRegressor

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    clf = GBTClassifier(
        n_estimators=200,
        learning_rate=0.1,
        max_depth=4,
        tree_method="exact",
        early_stopping_rounds=10,
        eval_metric="logloss",
    )
    _timed(
        "GBTClassifier.fit (breast cancer, exact)", lambda: clf.fit(Xtr, ytr, eval_set=[(Xte, yte)])
    )
    auc = roc_auc_score(yte, clf.predict_proba(Xte)[:, 1])
    print(f"  best iteration {clf.best_iteration_}, test AUC {auc:.4f}")
    top = np.argsort(clf.feature_importances_)[::-1][:3]
    print(f"  top features by gain: {', '.join(f'f{i}' for i in top)}")

    X, y = load_diabetes(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    reg = GBTRegressor(n_estimators=100, learning_rate=0.05, max_depth=3, tree_method="exact")
    _timed("GBTRegressor.fit (diabetes, exact)", lambda: reg.fit(Xtr, ytr))
    rmse = mean_squared_error(yte, reg.predict(Xte)) ** 0.5
    print(f"  test RMSE {rmse:.2f} (target std {yte.std():.2f})")

    from sklearn.datasets import make_classification

    from sapwood import RFClassifier

    X, y = make_classification(n_samples=50_000, n_features=28, n_informative=12, random_state=0)
    X = X.astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    for policy, extra in (("depthwise", {"max_depth": 8}), ("lossguide", {"max_leaves": 63})):
        hist = GBTClassifier(n_estimators=100, learning_rate=0.1, grow_policy=policy, **extra)
        _timed(f"GBTClassifier.fit (50,000 x 28, hist {policy})", lambda m=hist: m.fit(Xtr, ytr))
        print(f"  test AUC {roc_auc_score(yte, hist.predict_proba(Xte)[:, 1]):.4f}")
    forest = RFClassifier(n_estimators=100, max_depth=10, random_state=0)
    _timed("RFClassifier.fit (100 trees, one round)", lambda: forest.fit(Xtr, ytr))
    print(f"  test accuracy {forest.score(Xte, yte):.4f}")


def _dask() -> None:
    """Scale-out on Dask: boosting and k-NN on a two-worker local cluster, against the
    single-machine estimators on the same data (with the ``dask`` extra installed)."""
    try:
        import dask.array as da
        from distributed import Client, LocalCluster
    except ImportError:
        print("  skipped: the dask extra is not installed (pip install 'sapwood[dask]')")
        return
    from sklearn.datasets import make_classification

    from sapwood import GBTClassifier, KDTree
    from sapwood.dask import DaskGBTClassifier, DaskNearestNeighbors

    X, y = make_classification(n_samples=40_000, n_features=12, n_informative=6, random_state=0)
    # One decimal: fewer distinct values per feature than max_bin, so the cuts are exact and
    # the distributed model is the single-machine one.
    X = np.round(X, 1).astype(np.float32)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        dX = da.from_array(X, chunks=(10_000, 12))
        dy = da.from_array(y, chunks=10_000)
        print(f"  cluster: 2 worker processes; data: {X.shape[0]} rows in 4 partitions")
        params = {"n_estimators": 30, "max_depth": 5}
        clf = _timed(
            "DaskGBTClassifier fit (30 trees, depth 5)",
            lambda: DaskGBTClassifier(client=client, **params).fit(dX, dy),
        )
        local = GBTClassifier(**params).fit(X, y)
        same = clf.to_local()._model.to_json() == local._model.to_json()
        print(f"  same trees as GBTClassifier on the concatenated data: {same}")
        proba = clf.predict_proba(dX)
        print(f"  predict_proba: a lazy {type(proba).__name__} of {proba.numblocks[0]} blocks")
        # k-NN on the unrounded points (rounded ones tie at many distances).
        points = np.random.default_rng(1).random((40_000, 3), dtype=np.float32)
        nn = DaskNearestNeighbors(n_neighbors=5, client=client).fit(
            da.from_array(points, chunks=(10_000, 3))
        )
        _, idx = nn.kneighbors(points[:500])
        _, ref_idx = KDTree(points).query(points[:500], k=5)
        print(
            "  DaskNearestNeighbors (a kd-tree per partition): same neighbours as one KDTree: "
            f"{bool(np.array_equal(np.asarray(idx), ref_idx))}"
        )


SECTIONS: list[Section] = [
    Section("threads", "Thread policy", _threads),
    Section("boosting", "Gradient-boosted trees and random forests", _boosting),
    Section("neighbors", "k-nearest neighbours (KDTree)", _neighbors),
    Section("selection", "Boruta all-relevant feature selection", _feature_selection),
    Section("gpu", "GPU kernels: softmax, norms, (quantised) GEMV", _gpu),
    Section("dask", "Scale-out on Dask: distributed boosting and k-NN", _dask),
]
