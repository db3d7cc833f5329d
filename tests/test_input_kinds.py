"""Every kind of array-like gives the same answers as a plain C-contiguous copy.

The kinds are what users' tools hand them: NumPy arrays in every layout (C-contiguous but
unaligned, as pickle-5 buffers from Dask workers are; Fortran order; strided views; read-only;
memmaps; big-endian), pandas frames (plain, and nullable ``Float64``/``Int64`` columns with
``pd.NA`` as missing), polars and pyarrow tables, and SciPy sparse matrices. Each entry point
is called on each kind and compared with the same call on the plain copy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp

import sapwood
from sapwood import gpu
from sapwood._validation import as_native_matrix, native_array

pd = pytest.importorskip("pandas")

# Predicting on a plain array after fitting on a frame warns about feature names, by design.
pytestmark = pytest.mark.filterwarnings("ignore:X does not have valid feature names")


def unaligned(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` that starts one byte into its buffer."""
    buf = np.empty(a.nbytes + 1, np.uint8)
    out = np.frombuffer(buf[1:].data, a.dtype).reshape(a.shape)
    out[...] = a
    assert out.flags.c_contiguous
    assert not out.flags.aligned
    return out


def strided(a: np.ndarray) -> np.ndarray:
    out = np.repeat(a, 2, axis=1)[:, ::2]
    assert not out.flags.c_contiguous
    return out


def readonly(a: np.ndarray) -> np.ndarray:
    out = a.copy()
    out.flags.writeable = False
    return out


def bigendian(a: np.ndarray) -> np.ndarray:
    out = a.astype(a.dtype.newbyteorder(">"))
    assert not out.dtype.isnative
    return out


def memmap(a: np.ndarray, tmp_path: Any) -> np.ndarray:
    out = np.memmap(tmp_path / "x.dat", dtype=a.dtype, mode="w+", shape=a.shape)
    out[...] = a
    out.flush()
    return np.memmap(tmp_path / "x.dat", dtype=a.dtype, mode="r", shape=a.shape)


def frame(a: np.ndarray) -> Any:
    return pd.DataFrame(a, columns=[f"f{i}" for i in range(a.shape[1])])


def nullable(a: np.ndarray) -> Any:
    out = frame(a).astype("Float64")  # NaN becomes pd.NA
    assert out.isna().to_numpy().sum() == np.isnan(a).sum()
    return out


def polars(a: np.ndarray) -> Any:
    pl = pytest.importorskip("polars")
    # Missing values as polars nulls, not NaN.
    return pl.DataFrame(
        {f"f{i}": [None if np.isnan(v) else float(v) for v in a[:, i]] for i in range(a.shape[1])}
    )


def arrow(a: np.ndarray) -> Any:
    pa = pytest.importorskip("pyarrow")
    return pa.table({f"f{i}": pa.array(a[:, i], mask=np.isnan(a[:, i])) for i in range(a.shape[1])})


NUMPY_KINDS: dict[str, Callable[..., Any]] = {
    "unaligned": unaligned,
    "fortran": np.asfortranarray,
    "strided": strided,
    "readonly": readonly,
    "bigendian": bigendian,
    "memmap": memmap,
}
TABLE_KINDS: dict[str, Callable[..., Any]] = {
    "pandas": frame,
    "pandas-nullable": nullable,
    "polars": polars,
    "pyarrow": arrow,
}
DENSE_KINDS = {**NUMPY_KINDS, **TABLE_KINDS}


def build(kind: str, a: np.ndarray, tmp_path: Any) -> Any:
    make = DENSE_KINDS[kind]
    return make(a, tmp_path) if kind == "memmap" else make(a)


def data(dtype: Any = np.float64, missing: bool = True) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((150, 5)).astype(dtype)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    if missing:
        X[::7, 1] = np.nan
        X[3::11, 4] = np.nan
    return X, y


def assert_same(a: Any, b: Any) -> None:
    if isinstance(a, tuple):
        for u, v in zip(a, b, strict=True):
            assert_same(u, v)
        return
    a = a.toarray() if sp.issparse(a) else a
    b = b.toarray() if sp.issparse(b) else b
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


# ------------------------------------------------------------------------- boosting


BOOSTERS = {
    "GBTRegressor": lambda: sapwood.GBTRegressor(n_estimators=4, max_depth=3),
    "GBTClassifier": lambda: sapwood.GBTClassifier(n_estimators=4, max_depth=3),
    "GBTClassifier-exact": lambda: sapwood.GBTClassifier(
        n_estimators=4, max_depth=3, tree_method="exact"
    ),
    "GBTRegressor-approx": lambda: sapwood.GBTRegressor(
        n_estimators=3, max_depth=3, tree_method="approx"
    ),
    "RFRegressor": lambda: sapwood.RFRegressor(n_estimators=4, max_depth=3),
    "RFClassifier": lambda: sapwood.RFClassifier(n_estimators=4, max_depth=3),
}


def booster_answers(est: Any, X: Any) -> tuple[Any, ...]:
    out = [est.predict(X), est.apply(X)]
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
    return tuple(out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(DENSE_KINDS))
@pytest.mark.parametrize("name", list(BOOSTERS))
def test_boosting_every_dense_kind(name: str, kind: str, dtype: Any, tmp_path: Any) -> None:
    X, y = data(dtype)
    want = booster_answers(BOOSTERS[name]().fit(X, y), X)
    Xk = build(kind, X, tmp_path)
    est = BOOSTERS[name]().fit(Xk, y)
    assert_same(booster_answers(est, Xk), want)
    # Predicting on another kind than the fit's is the same, too.
    assert_same(booster_answers(est, X), want)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "csr_array"])
@pytest.mark.parametrize("name", list(BOOSTERS))
def test_boosting_sparse(name: str, fmt: str) -> None:
    """Absent sparse entries are missing values, like NaN in a dense copy."""
    X, y = data(missing=False)
    X[np.abs(X) < 0.4] = 0.0
    S = sp.csr_array(X) if fmt == "csr_array" else getattr(sp, f"{fmt}_matrix")(X)
    dense = np.where(X == 0.0, np.nan, X)
    want = booster_answers(BOOSTERS[name]().fit(dense, y), dense)
    assert_same(booster_answers(BOOSTERS[name]().fit(S, y), S), want)


def test_boosting_nullable_integers() -> None:
    X, y = data(missing=False)
    ints = np.round(X * 4)
    df = pd.DataFrame(ints.astype(np.int64), columns=list("abcde")).astype("Int64")
    df.iloc[::6, 2] = pd.NA
    dense = ints.copy()
    dense[::6, 2] = np.nan
    for make in BOOSTERS.values():
        assert_same(
            booster_answers(make().fit(df, y), df), booster_answers(make().fit(dense, y), dense)
        )


# ------------------------------------------------------------------------- neighbours


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", [*DENSE_KINDS, "csr", "coo", "list"])
def test_kdtree_every_kind(kind: str, dtype: Any, tmp_path: Any) -> None:
    X, _ = data(dtype, missing=False)
    if kind in ("csr", "coo"):
        Xk = getattr(sp, f"{kind}_matrix")(X)
    elif kind == "list":
        Xk = X.tolist()
        dtype = np.float64  # a list has no dtype: float64, as scipy
        X = X.astype(np.float64)
    else:
        Xk = build(kind, X, tmp_path)
    tree = sapwood.KDTree(Xk)
    if kind in ("pandas-nullable", "polars"):
        dtype = np.float64  # these tables were built from Python floats: float64 columns
    assert tree.data.dtype == np.dtype(dtype)
    X = X.astype(dtype)
    plain = sapwood.KDTree(X)
    assert_same(tree.query(Xk, k=3), plain.query(X, k=3))
    assert_same(tree.query_radius(Xk, r=0.8), plain.query_radius(X, r=0.8))
    got = tree.query_ball_point(Xk, r=0.8)
    want = plain.query_ball_point(X, r=0.8)
    assert [sorted(g) for g in got] == [sorted(w) for w in want]


NEIGHBOURS = {
    "NearestNeighbors": lambda: sapwood.NearestNeighbors(n_neighbors=4),
    "KNeighborsClassifier": lambda: sapwood.KNeighborsClassifier(n_neighbors=4),
    "KNeighborsRegressor": lambda: sapwood.KNeighborsRegressor(n_neighbors=4),
}


def neighbour_answers(est: Any, X: Any) -> tuple[Any, ...]:
    out = [est.kneighbors(X), est.radius_neighbors(X, radius=0.7, sort_results=True)[1]]
    out[1] = tuple(np.asarray(i) for i in out[1])
    if hasattr(est, "predict"):
        out.append(est.predict(X))
    if hasattr(est, "predict_proba"):
        out.append(est.predict_proba(X))
    return tuple(out)


@pytest.mark.parametrize("kind", [*DENSE_KINDS, "csr", "csc"])
@pytest.mark.parametrize("name", list(NEIGHBOURS))
def test_neighbour_estimators_every_kind(name: str, kind: str, tmp_path: Any) -> None:
    X, y = data(missing=False)
    if kind in ("csr", "csc"):
        X[np.abs(X) < 0.3] = 0.0
        Xk = getattr(sp, f"{kind}_matrix")(X)
    else:
        Xk = build(kind, X, tmp_path)
    want = neighbour_answers(NEIGHBOURS[name]().fit(X, y), X)
    assert_same(neighbour_answers(NEIGHBOURS[name]().fit(Xk, y), Xk), want)


# ------------------------------------------------------------------------- Boruta


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", [*DENSE_KINDS, "csr"])
def test_boruta_every_kind(kind: str, dtype: Any, tmp_path: Any) -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 8)).astype(dtype)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    if kind == "csr":
        X[np.abs(X) < 0.2] = 0.0
        Xk = sp.csr_matrix(X)
    else:
        X[::9, 5] = np.nan
        Xk = build(kind, X, tmp_path)

    def run(Z: Any) -> tuple[Any, ...]:
        sel = sapwood.BorutaSelector(max_iter=8, random_state=0).fit(Z, y)
        return sel.decision_, sel.ranking_, sel.transform(Z)

    assert_same(run(Xk), run(X))


# ------------------------------------------------------------------------- GPU host path


@pytest.mark.parametrize("kind", list(NUMPY_KINDS))
def test_gpu_host_functions_every_numpy_kind(kind: str, tmp_path: Any) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 64)).astype(np.float32)
    w = rng.standard_normal((64,)).astype(np.float32)
    W = rng.standard_normal((16, 64)).astype(np.float32)
    v = rng.standard_normal(64).astype(np.float32)
    xk = build(kind, x, tmp_path)
    (tmp_path / "w").mkdir()
    Wk = build(kind, W, tmp_path / "w")
    q_plain = gpu.quantize(W, bits=8, group_size=32)
    q_kind = gpu.quantize(Wk, bits=8, group_size=32)
    assert_same(gpu.softmax(xk), gpu.softmax(x))
    assert_same(gpu.log_softmax(xk), gpu.log_softmax(x))
    assert_same(gpu.rms_norm(xk, weight=w), gpu.rms_norm(x, weight=w))
    assert_same(gpu.layer_norm(xk, weight=w, bias=w), gpu.layer_norm(x, weight=w, bias=w))
    assert_same(gpu.gemv(Wk, v), gpu.gemv(W, v))
    assert_same(gpu.gemv(W, xk), gpu.gemv(W, x))
    assert_same(gpu.gemv_quantized(q_kind, v), gpu.gemv_quantized(q_plain, v))


# ------------------------------------------------------------------------- no needless copies


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_aligned_c_arrays_are_not_copied(dtype: Any) -> None:
    X, _ = data(dtype)
    assert native_array(X) is X
    assert native_array(X, dtype=dtype) is X
    assert as_native_matrix(X) is X
    ro = readonly(X)
    assert native_array(ro) is ro


@pytest.mark.parametrize("kind", ["unaligned", "fortran", "strided", "bigendian"])
def test_other_layouts_are_copied_once_into_native_layout(kind: str, tmp_path: Any) -> None:
    X, _ = data()
    out = native_array(build(kind, X, tmp_path))
    assert out.flags.c_contiguous
    assert out.flags.aligned
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, X)


def test_kdtree_keeps_an_aligned_array_without_copying() -> None:
    X, _ = data(missing=False)
    tree = sapwood.KDTree(X)
    assert np.shares_memory(tree.data, X)


def test_native_layer_names_the_layout_it_needs() -> None:
    """The private native module refuses what it cannot read, with a message saying why."""
    from sapwood import _native

    X, _ = data(missing=False)
    with pytest.raises(TypeError, match="C-contiguous, aligned"):
        _native.KdTree(unaligned(X), 16, False, True, None, None)


@pytest.mark.parametrize("kind", ["unaligned", "strided", "bigendian", "pandas", "polars", "list"])
def test_targets_and_weights_every_kind(kind: str) -> None:
    """``y`` and ``sample_weight`` come in the same kinds as ``X``."""
    X, y = data()
    w = np.linspace(0.5, 2.0, y.shape[0])

    def as_kind(v: np.ndarray) -> Any:
        if kind == "unaligned":
            return unaligned(v)
        if kind == "strided":
            return np.repeat(v, 2)[::2]
        if kind == "bigendian":
            return bigendian(v)
        if kind == "pandas":
            return pd.Series(v)
        if kind == "polars":
            return pytest.importorskip("polars").Series(v)
        return v.tolist()

    for make in (BOOSTERS["GBTRegressor"], BOOSTERS["GBTClassifier"], BOOSTERS["RFClassifier"]):
        want = make().fit(X, y, sample_weight=w).predict(X)
        got = make().fit(X, as_kind(y.astype(np.float64)), sample_weight=as_kind(w)).predict(X)
        np.testing.assert_array_equal(got, want)
    for make in NEIGHBOURS.values():
        if make is NEIGHBOURS["NearestNeighbors"]:
            continue
        assert_same(
            make().fit(X[:, [0, 2]], as_kind(y)).predict(X[:, [0, 2]]),
            make().fit(X[:, [0, 2]], y).predict(X[:, [0, 2]]),
        )
