"""k-nearest-neighbour estimators on a Dask cluster: :class:`DaskNearestNeighbors`,
:class:`DaskKNeighborsClassifier` and :class:`DaskKNeighborsRegressor`.

Each row partition of the training data is indexed by its own :class:`~sapwood.kdtree.KDTree`,
built on the worker that holds the partition and kept there (as a future) while the estimator
is fitted. A query block is searched in every partition (the ``k`` nearest points of that
partition, their indices shifted by the partition's global row offset), and the candidates are
merged by ``(distance, global index)``: ties go to the smaller global index, so the answers
are exactly those of one tree built over all the rows concatenated in partition order, and the
predictions those of :class:`sapwood.neighbors.KNeighborsClassifier` and
:class:`sapwood.neighbors.KNeighborsRegressor` fitted on that data.
"""

from __future__ import annotations

import numbers
import operator
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from sapwood._validation import densify, native_array, to_numeric_array
from sapwood.dask._client import get_client
from sapwood.kdtree import KDTree
from sapwood.neighbors import (
    _STRATEGY,
    KNeighborsClassifier,
    KNeighborsRegressor,
    NearestNeighbors,
    _get_weights,
)

__all__ = ["DaskKNeighborsClassifier", "DaskKNeighborsRegressor", "DaskNearestNeighbors"]


# --------------------------------------------------------------------------- worker side
# Everything below up to the estimators runs in tasks on the workers; it is module-level so
# that tasks name it by reference instead of shipping code.


class _Part:
    """One row partition of the training data, as it lives on a worker: its kd-tree (which
    keeps the points), its first row's index in the whole data, and its encoded targets
    (shape ``(n, n_outputs)``, or ``None`` for :class:`DaskNearestNeighbors`)."""

    __slots__ = ("offset", "tree", "y")

    def __init__(self, tree: KDTree, offset: int, y: NDArray | None) -> None:
        self.tree = tree
        self.offset = offset
        self.y = y

    def __getstate__(self) -> tuple[KDTree, int, NDArray | None]:
        return self.tree, self.offset, self.y

    def __setstate__(self, state: tuple[KDTree, int, NDArray | None]) -> None:
        self.tree, self.offset, self.y = state


def _as_points(block: Any, dtype: Any, what: str = "X") -> NDArray:
    """A block of rows as a finite, C-contiguous 2-D array of ``dtype``."""
    arr = to_numeric_array(densify(block), what)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D, got a block of shape {arr.shape}")
    arr = native_array(arr, dtype=dtype)
    if not np.isfinite(arr).all():
        raise ValueError(f"Input {what} contains NaN or infinity.")
    return arr


def _n_rows(block: Any) -> int:
    return int(block.shape[0])


def _take_rows(start: int, stop: int, starts: list[int], *blocks: Any) -> NDArray:
    """Rows ``start:stop`` of the concatenation of ``blocks`` (block ``b`` starts at
    ``starts[b]``); used to cut the targets along the partitions of ``X``."""
    pieces = []
    for first, block in zip(starts, blocks, strict=True):
        arr = np.asarray(block)
        lo = max(start - first, 0)
        hi = min(stop - first, arr.shape[0])
        if hi > lo:
            pieces.append(arr[lo:hi])
    if not pieces:
        return np.asarray(blocks[0])[:0]
    return np.concatenate(pieces, axis=0)


def _as_2d_targets(y: Any) -> NDArray:
    arr = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
    return arr.reshape((-1, 1)) if arr.ndim == 1 else arr


def _unique_labels(y: Any) -> list[NDArray]:
    """The distinct labels of each output of a block of class labels."""
    y2 = _as_2d_targets(y)
    if y2.dtype.kind == "f" and not np.isfinite(y2).all():
        raise ValueError("Input y contains NaN or infinity.")
    return [np.unique(y2[:, k]) for k in range(y2.shape[1])]


def _encode_labels(y: Any, classes: list[NDArray]) -> NDArray:
    """Class labels as their positions in ``classes`` (one column per output)."""
    y2 = _as_2d_targets(y)
    encoded = np.empty(y2.shape, dtype=np.intp)
    for k, cls in enumerate(classes):
        encoded[:, k] = np.searchsorted(cls, y2[:, k])
    return encoded


def _regression_targets(y: Any) -> NDArray:
    y2 = np.asarray(to_numeric_array(_as_2d_targets(y), "y"), dtype=np.float64)
    if not np.isfinite(y2).all():
        raise ValueError("Input y contains NaN or infinity.")
    return y2


def _build_part(
    block: Any, y: NDArray | None, offset: int, leaf_size: int, dtype: Any, n_features: int
) -> _Part:
    """Index one partition: a kd-tree built as the single-machine estimators build theirs."""
    points = _as_points(block, dtype)
    if points.shape[1] != n_features:
        raise ValueError(f"a partition of X has {points.shape[1]} columns, the others {n_features}")
    if y is not None and y.shape[0] != points.shape[0]:
        raise ValueError(
            f"a partition of X has {points.shape[0]} rows but its targets {y.shape[0]}"
        )
    tree = KDTree(points, leafsize=leaf_size, balanced_tree=False)
    return _Part(tree, int(offset), y)


def _part_size(part: _Part) -> int:
    return int(part.tree.n)


def _part_payload(part: _Part) -> tuple[NDArray, NDArray | None]:
    return np.asarray(part.tree.data), part.y


def _search(
    part: _Part,
    query: Any,
    k: int,
    p: float,
    strategy: str,
    n_jobs: int | None,
    with_labels: bool,
) -> tuple[NDArray, NDArray, NDArray | None]:
    """The ``k`` nearest points of one partition (all of them if it has fewer) for a block of
    queries, with global indices (and their encoded targets)."""
    dtype = np.dtype(part.tree.data.dtype)
    if isinstance(query, _Part):
        q = native_array(query.tree.data, dtype=dtype)
    else:
        q = _as_points(query, dtype)
    kk = min(int(k), part.tree.n)
    if kk == 0:
        dist = np.empty((q.shape[0], 0), dtype=dtype)
        ind = np.empty((q.shape[0], 0), dtype=np.intp)
    else:
        dist, ind = part.tree._knn(q, kk, p=p, n_jobs=n_jobs, strategy=strategy)
    labels = None
    if with_labels:
        assert part.y is not None
        labels = part.y[ind]
    return dist, ind.astype(np.intp, copy=False) + part.offset, labels


def _merge(
    candidates: list[tuple[NDArray, NDArray, NDArray | None]],
    k: int,
    exclude_from: int | None,
    task: str,
    extra: Any,
) -> tuple[Any, ...]:
    """Merge the candidates of every partition for one query block: the ``k`` smallest by
    (distance, global index); then answer ``task`` from them.

    ``exclude_from`` is the global index of the block's first row when the queries are the
    training rows themselves: each row is then left out of its own list (or, for duplicates,
    where it is not among its ``k + 1`` nearest, the last of them), as the single-machine
    estimators do.
    """
    dist = np.concatenate([c[0] for c in candidates], axis=1)
    ind = np.concatenate([c[1] for c in candidates], axis=1)
    labels = None
    if candidates[0][2] is not None:
        labels = np.concatenate([c[2] for c in candidates], axis=1)  # type: ignore[misc]
    width = k + 1 if exclude_from is not None else k
    order = np.lexsort((ind, dist), axis=1)[:, :width]
    dist = np.take_along_axis(dist, order, axis=1)
    ind = np.take_along_axis(ind, order, axis=1)
    if labels is not None:
        labels = np.take_along_axis(labels, order[:, :, None], axis=1)
    if exclude_from is not None:
        n = dist.shape[0]
        mask = ind != (exclude_from + np.arange(n))[:, None]
        dup = np.all(mask, axis=1)
        mask[:, -1][dup] = False
        dist = dist[mask].reshape(n, k)
        ind = ind[mask].reshape(n, k)
        if labels is not None:
            labels = labels[mask].reshape(n, k, labels.shape[2])
    if task == "kneighbors":
        return dist, ind
    assert labels is not None
    labels = np.ascontiguousarray(labels)
    if task in ("proba", "classes"):
        n_classes, weights = extra[0], extra[1]
        probas = _proba(dist, labels, n_classes, weights)
        if task == "proba":
            return tuple(probas)
        classes = extra[2]
        cols = [cls.take(np.argmax(pr, axis=1)) for cls, pr in zip(classes, probas, strict=True)]
        return (cols[0],) if len(cols) == 1 else (np.column_stack(cols),)
    weights, one_d = extra
    return (_regress(dist, labels, weights, one_d),)


def _proba(dist: NDArray, labels: NDArray, n_classes: list[int], weights: Any) -> list[NDArray]:
    """Per output, the (weighted) share of each class among the neighbours (the same sums,
    in the same order, as :meth:`sapwood.neighbors.KNeighborsClassifier.predict_proba`)."""
    w = _get_weights(dist, weights)
    if w is None:
        w = np.ones(labels.shape[:2], dtype=np.float64)
    rows = np.arange(labels.shape[0])
    out = []
    for k, n_cls in enumerate(n_classes):
        lab = labels[:, :, k]
        proba = np.zeros((labels.shape[0], n_cls))
        for j in range(lab.shape[1]):
            np.add.at(proba, (rows, lab[:, j]), w[:, j])
        norm = proba.sum(axis=1)[:, None]
        norm[norm == 0.0] = 1.0
        out.append(proba / norm)
    return out


def _regress(dist: NDArray, targets: NDArray, weights: Any, one_d: bool) -> NDArray:
    """The (weighted) mean target of the neighbours, as
    :meth:`sapwood.neighbors.KNeighborsRegressor.predict` computes it."""
    w = _get_weights(dist, weights)
    if w is None:
        pred = np.mean(targets, axis=1)
    else:
        num = np.sum(targets * w[:, :, None], axis=1)
        pred = num / np.sum(w, axis=1)[:, None]
    return pred.ravel() if one_d else pred


# --------------------------------------------------------------------------- client side


def _is_dask(obj: Any) -> bool:
    import dask

    return bool(dask.is_dask_collection(obj))


def _dask_rows(obj: Any, what: str) -> Any:
    """A Dask array, DataFrame or Series as a Dask array with one chunk across its columns."""
    import dask.array as da

    arr = obj if isinstance(obj, da.Array) else obj.to_dask_array()
    if not isinstance(arr, da.Array):
        raise TypeError(f"{what} must be a Dask array, DataFrame or Series")
    if arr.ndim == 2 and len(arr.chunks[1]) > 1:
        arr = arr.rechunk({1: -1})
    return arr


def _feature_names(X: Any) -> NDArray | None:
    columns = getattr(X, "columns", None)
    if columns is None or getattr(X, "ndim", 2) != 2:
        return None
    names = np.asarray(list(columns), dtype=object)
    if len(names) == 0 or not all(isinstance(c, str) for c in names):
        return None
    return names


def _local_rows(X: Any) -> NDArray:
    """In-memory training or query rows: float32 stays float32, all else becomes float64."""
    arr = to_numeric_array(densify(X), "X")
    if arr.ndim != 2:
        raise ValueError(
            f"Expected a 2-D array, got an array of shape {arr.shape}; reshape a single "
            "feature with X.reshape(-1, 1) or a single sample with X.reshape(1, -1)"
        )
    return arr if arr.dtype == np.float32 else arr.astype(np.float64, copy=False)


def _block_futures(persisted: Any) -> list[Any]:
    """The futures of a persisted Dask array's row blocks, in order."""
    from distributed import futures_of

    by_key = {f.key: f for f in futures_of(persisted)}
    keys = persisted.__dask_keys__()
    if persisted.ndim == 2:
        keys = [row[0] for row in keys]
    return [by_key[key] for key in keys]


def _row_blocks(client: Any, arr: Any, futures: list[Any]) -> list[int]:
    """The number of rows of each block, computed on the workers where Dask does not know."""
    sizes = arr.chunks[0]
    if any(np.isnan(s) for s in sizes):
        return [int(s) for s in client.gather(client.map(_n_rows, futures, pure=False))]
    return [int(s) for s in sizes]


class _DaskNeighborsBase(BaseEstimator):
    """Fitting, querying, pickling and gathering shared by the Dask k-NN estimators."""

    _local_class: ClassVar[type[Any]] = NearestNeighbors
    _supervised: ClassVar[bool] = False

    # ----- parameters -----------------------------------------------------------------------

    def _local_params(self) -> dict[str, Any]:
        params = self.get_params(deep=False)
        params.pop("client")
        return params

    def _local_estimator(self) -> Any:
        """An unfitted single-machine counterpart with the same parameters."""
        return self._local_class(**self._local_params())

    def __sklearn_clone__(self) -> Any:
        # The client is shared, not copied (a client cannot be copied).
        params = {
            name: value if name == "client" else clone(value, safe=False)
            for name, value in self.get_params(deep=False).items()
        }
        return type(self)(**params)

    # ----- fitting --------------------------------------------------------------------------

    def _fit(self, X: Any, y: Any = None) -> None:
        # The single-machine class checks the parameters, with the same messages.
        p = self._local_estimator()._check_params()
        client = get_client(self.client)
        if self._supervised and y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but y is None")

        x_dask = _is_dask(X)
        y_dask = y is not None and _is_dask(y)
        names = _feature_names(X)
        if x_dask:
            xa = _dask_rows(X, "X")
            if xa.ndim != 2:
                raise ValueError(f"Expected a 2-D Dask array for X, got {xa.ndim} dimension(s)")
            n_features = xa.shape[1]
            dtype = np.dtype(np.float32 if xa.dtype == np.float32 else np.float64)
        else:
            x_local = _local_rows(X)
            n_features = x_local.shape[1]
            dtype = x_local.dtype
        if isinstance(n_features, float) and np.isnan(n_features):
            raise ValueError("the number of columns of X is unknown; compute the chunk sizes")
        n_features = int(n_features)
        if n_features < 1:
            raise ValueError("Found array with 0 feature(s) while a minimum of 1 is required.")

        ya = None
        y_local = None
        if y_dask:
            ya = _dask_rows(y, "y")
            if ya.ndim not in (1, 2):
                raise ValueError(f"y must be 1-D or 2-D, got {ya.ndim} dimension(s)")
        elif y is not None:
            y_local = y.to_numpy() if hasattr(y, "to_numpy") else np.asarray(y)
            if y_local.ndim not in (1, 2):
                raise ValueError(f"y must be 1-D or 2-D, got shape {y_local.shape}")

        # Persist the Dask inputs together (a frame and its target column are read once).
        collections = [c for c in (xa if x_dask else None, ya) if c is not None]
        persisted = client.persist(collections) if collections else []
        persisted_iter = iter(persisted)
        if x_dask:
            xp = next(persisted_iter)
            x_futs = _block_futures(xp)
            x_sizes = _row_blocks(client, xp, x_futs)
        else:
            x_futs = [client.scatter(x_local, hash=False)]
            x_sizes = [x_local.shape[0]]
        offsets = np.concatenate(([0], np.cumsum(x_sizes))).astype(np.int64)
        n_samples = int(offsets[-1])
        if n_samples == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")

        y_futs: list[Any] | None = None
        y_shape: tuple[int, ...] = ()
        if ya is not None:
            yp = next(persisted_iter)
            y_futs = _block_futures(yp)
            y_sizes = _row_blocks(client, yp, y_futs)
            y_shape = tuple(int(s) for s in ya.shape[1:])
        elif y_local is not None:
            y_futs = [client.scatter(y_local, hash=False)]
            y_sizes = [y_local.shape[0]]
            y_shape = y_local.shape[1:]
        if y_futs is not None:
            if sum(y_sizes) != n_samples:
                raise ValueError(
                    f"X and y have different numbers of rows: X has {n_samples}, "
                    f"y has {sum(y_sizes)}"
                )
            if list(y_sizes) != list(x_sizes):
                y_futs = self._align(client, y_futs, y_sizes, offsets)

        if self._supervised:
            assert y_futs is not None
            y_futs = self._fit_targets(client, y_futs, y_shape)
        else:
            y_futs = [None] * len(x_futs)

        parts = [
            client.submit(
                _build_part, xf, yf, int(offsets[b]), self.leaf_size, dtype, n_features, pure=False
            )
            for b, (xf, yf) in enumerate(zip(x_futs, y_futs, strict=True))
        ]
        # Waiting here surfaces a bad partition (NaN, a ragged block) as fit's error.
        built = client.gather(client.map(_part_size, parts, pure=False))
        if list(built) != list(x_sizes):  # pragma: no cover - a partition changed size
            raise ValueError("the partitions of X changed size while the trees were built")

        self._parts: list[Any] | None = parts
        self._local_parts: list[tuple[NDArray, NDArray | None]] | None = None
        self._offsets = offsets
        self._p = p
        self._fit_dtype = dtype
        self._dask_input = x_dask
        self.n_partitions_ = len(parts)
        self.n_samples_fit_ = n_samples
        self.n_features_in_ = n_features
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.effective_metric_ = "euclidean" if p == 2 else "minkowski"
        self.effective_metric_params_ = {} if p == 2 else {"p": p}

    @staticmethod
    def _align(client: Any, futs: list[Any], sizes: list[int], offsets: NDArray) -> list[Any]:
        """Cut blocks of ``sizes`` rows into blocks that start at ``offsets`` (those of X)."""
        starts = np.concatenate(([0], np.cumsum(sizes)))
        out = []
        for b in range(len(offsets) - 1):
            start, stop = int(offsets[b]), int(offsets[b + 1])
            used = [i for i in range(len(futs)) if starts[i] < stop and starts[i + 1] > start]
            if not used:  # an empty partition of X: an empty block of targets
                used = [0]
            out.append(
                client.submit(
                    _take_rows,
                    start,
                    stop,
                    [int(starts[i]) for i in used],
                    *[futs[i] for i in used],
                    pure=False,
                )
            )
        return out

    def _fit_targets(self, client: Any, y_futs: list[Any], y_shape: tuple[int, ...]) -> list[Any]:
        """Check and encode the targets of each partition; the supervised estimators define
        how, and an unsupervised one never has targets."""
        raise TypeError(f"{type(self).__name__} is unsupervised and takes no targets")

    # ----- the fitted partitions ------------------------------------------------------------

    def _live_parts(self) -> list[Any]:
        """The futures of the fitted partitions; an estimator restored from a pickle sends its
        partitions to the client's workers (and builds their trees) on first use."""
        check_is_fitted(self, "_offsets")
        if self._parts is None:
            assert self._local_parts is not None
            client = get_client(self.client)
            parts = []
            for b, (points, y) in enumerate(self._local_parts):
                xf = client.scatter(points, hash=False)
                yf = None if y is None else client.scatter(y, hash=False)
                parts.append(
                    client.submit(
                        _build_part,
                        xf,
                        yf,
                        int(self._offsets[b]),
                        self.leaf_size,
                        points.dtype,
                        self.n_features_in_,
                        pure=False,
                    )
                )
            self._parts = parts
            self._local_parts = None
            return parts
        client = self._parts[0].client
        if client.status in ("closing", "closed"):
            raise ValueError(
                "the Dask client this estimator was fitted with is closed, and its index "
                "partitions with it: fit again, or call to_local() (or pickle the estimator) "
                "before closing the client"
            )
        return self._parts

    def _gather_parts(self) -> list[tuple[NDArray, NDArray | None]]:
        """Every partition's points and encoded targets, in order, on this machine."""
        check_is_fitted(self, "_offsets")
        if self._parts is None:
            assert self._local_parts is not None
            return self._local_parts
        parts = self._live_parts()
        client = parts[0].client
        return list(client.gather(client.map(_part_payload, parts, pure=False)))

    def __getstate__(self) -> dict[str, Any]:
        """Pickle state: the partitions are gathered from the cluster into the pickle (so the
        client must still be open), and the ``client`` parameter is left out (``None``)."""
        state = dict(super().__getstate__())
        if state.get("_parts") is not None:
            state["_local_parts"] = self._gather_parts()
            state["_parts"] = None
        state["client"] = None
        return state

    # ----- queries --------------------------------------------------------------------------

    def _check_k(self, n_neighbors: Any, query_is_train: bool) -> int:
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value"
            )
        n_neighbors = int(n_neighbors)
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        n_fit = self.n_samples_fit_
        if n_neighbors + int(query_is_train) > n_fit:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {n_neighbors}, "
                f"n_samples_fit = {n_fit}"
                + (" (the training rows are queried without themselves)" if query_is_train else "")
            )
        return n_neighbors

    def _check_features(self, n_features: Any, names: NDArray | None) -> None:
        if isinstance(n_features, float) and np.isnan(n_features):
            raise ValueError("the number of columns of X is unknown")
        if int(n_features) != self.n_features_in_:
            raise ValueError(
                f"X has {int(n_features)} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        if fitted is not None and names is not None and list(names) != list(fitted):
            raise ValueError(
                "The feature names should match those that were passed during fit: "
                f"fitted with {list(fitted)}, got {list(names)}"
            )

    def _run(
        self,
        X: Any,
        n_neighbors: int | None,
        task: str,
        extra: Any,
        outputs: Sequence[tuple[tuple[int, ...], Any]],
    ) -> list[Any]:
        """Search every partition for each query block, merge, and answer ``task``.

        ``outputs`` gives each result's trailing shape and dtype. Dask queries (and the
        training rows of an estimator fitted on Dask data) give lazy Dask arrays, one block
        per query block; in-memory queries give NumPy arrays.
        """
        import dask
        import dask.array as da
        from dask.base import tokenize
        from dask.highlevelgraph import HighLevelGraph

        check_is_fitted(self, "_offsets")
        query_is_train = X is None
        k = self._check_k(n_neighbors, query_is_train)
        parts = self._live_parts()
        client = parts[0].client
        sizes = np.diff(self._offsets)
        if query_is_train:
            blocks: list[Any] = list(parts)
            block_rows: list[float] = [int(s) for s in sizes]
            excludes: list[int | None] = [int(o) for o in self._offsets[:-1]]
            lazy = self._dask_input
        elif _is_dask(X):
            names = _feature_names(X)
            xa = _dask_rows(X, "X")
            if xa.ndim != 2:
                raise ValueError(f"Expected a 2-D Dask array for X, got {xa.ndim} dimension(s)")
            self._check_features(xa.shape[1], names)
            blocks = list(xa.to_delayed().ravel())
            block_rows = [s if np.isnan(s) else int(s) for s in xa.chunks[0]]
            excludes = [None] * len(blocks)
            lazy = True
        else:
            names = _feature_names(X)
            xq = _local_rows(X)
            self._check_features(xq.shape[1], names)
            xq = native_array(xq, dtype=np.dtype(self._dtype()))
            if not np.isfinite(xq).all():
                raise ValueError("Input X contains NaN or infinity.")
            blocks = [client.scatter(xq, hash=False)]
            block_rows = [int(xq.shape[0])]
            excludes = [None]
            lazy = False

        search = dask.delayed(_search)
        merge = dask.delayed(_merge)
        k_search = k + 1 if query_is_train else k
        with_labels = task != "kneighbors"
        strategy = _STRATEGY[self.algorithm]
        merged = []
        for block, exclude in zip(blocks, excludes, strict=True):
            candidates = [
                search(part, block, k_search, self._p, strategy, self.n_jobs, with_labels)
                for part, size in zip(parts, sizes, strict=True)
                if size > 0
            ]
            merged.append(merge(candidates, k, exclude, task, extra))

        if not lazy:
            results = client.gather(client.compute(merged))
            return [np.concatenate([r[j] for r in results], axis=0) for j in range(len(outputs))]
        # One block per query block (empty ones included), so that the results line up
        # block for block with the queries.
        out = []
        for j, (tail, dtype) in enumerate(outputs):
            name = f"{task}-{j}-{tokenize(*merged)}"
            inner = (0,) * len(tail)
            layer: dict[Any, Any] = {
                (name, b, *inner): (operator.getitem, m.key, j) for b, m in enumerate(merged)
            }
            graph = HighLevelGraph.from_collections(name, layer, dependencies=merged)
            chunks = (tuple(block_rows), *((t,) for t in tail))
            out.append(da.Array(graph, name, chunks, dtype=dtype))
        return out

    def _dtype(self) -> Any:
        """The dtype of the indexed points (float32 data stays float32)."""
        return self._fit_dtype

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> Any:
        """The ``n_neighbors`` nearest training points of each row of ``X``.

        Every partition's tree is searched for each block of queries, and the candidates are
        merged by (distance, global index), so the answer is that of one tree over all the
        training rows (concatenated in partition order).

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_queries, n_features), optional
            Query rows. ``None`` queries the training rows, each excluded from its own list.
        n_neighbors : int, optional
            Defaults to the constructor's value.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        neigh_dist : Dask array or ndarray of shape (n_queries, n_neighbors)
            Distances, ascending (only when ``return_distance``); in the training data's
            dtype. Lazy Dask arrays (one block per query block) for Dask queries and for
            ``X=None`` after a fit on Dask data; NumPy arrays otherwise.
        neigh_ind : Dask array or ndarray of shape (n_queries, n_neighbors)
            Global row indices of the neighbours in the training data.
        """
        check_is_fitted(self, "_offsets")
        k = self._check_k(n_neighbors, X is None)
        outputs = [((k,), np.dtype(self._dtype())), ((k,), np.dtype(np.intp))]
        dist, ind = self._run(X, k, "kneighbors", None, outputs)
        if return_distance:
            return dist, ind
        return ind

    def to_local(self) -> Any:
        """The fitted single-machine counterpart (:mod:`sapwood.neighbors`).

        The training rows (and targets) are gathered from the workers, concatenated in
        partition order, and the single-machine estimator with the same parameters is fitted
        on them; its answers are those of this estimator.

        Returns
        -------
        NearestNeighbors, KNeighborsClassifier or KNeighborsRegressor
        """
        payload = self._gather_parts()
        X = np.concatenate([points for points, _ in payload], axis=0)
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            import pandas as pd

            X = pd.DataFrame(X, columns=list(names))
        y = self._decode_targets([t for _, t in payload]) if self._supervised else None
        return self._local_estimator().fit(X, y)

    def _decode_targets(self, encoded: list[Any]) -> Any:
        """The targets back from their encoded partitions; only supervised estimators have
        them."""
        raise TypeError(f"{type(self).__name__} is unsupervised and has no targets")


class DaskNearestNeighbors(_DaskNeighborsBase):
    """Unsupervised nearest neighbours over a Dask cluster: one kd-tree per row partition.

    Answers equal those of :class:`sapwood.neighbors.NearestNeighbors` fitted on all the rows
    concatenated in partition order (ties between equally distant points go to the smaller
    global row index).

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours returned by :meth:`kneighbors` by default.
    radius : float, default=1.0
        Kept for the signature of :class:`sapwood.neighbors.NearestNeighbors` (radius
        queries are not distributed).
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        How each partition is searched, as in :class:`sapwood.neighbors.NearestNeighbors`.
    leaf_size : int, default=30
        Leaf size of each partition's tree.
    metric : str, default='minkowski'
        'minkowski' (with ``p``), 'euclidean', 'manhattan' or 'chebyshev'.
    p : float, default=2
        Minkowski order, ``1 <= p <= inf``.
    metric_params : None
        Accepted for compatibility; must be empty.
    n_jobs : int, optional
        Threads per partition search on a worker (``None`` or -1: every core).
    client : distributed.Client, optional
        The client to run on; the default client when ``None``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    n_samples_fit_ : int
        Number of training rows.
    n_partitions_ : int
        Number of row partitions (and trees); empty partitions count.
    effective_metric_ : str
        'euclidean' for p = 2, else 'minkowski'.

    Notes
    -----
    While fitted, the trees live on the workers as futures of the client used in ``fit``;
    closing that client loses them. Pickling the estimator gathers the partitions into the
    pickle (the client must be open then); an unpickled estimator answers with
    :meth:`to_local` without any client, and sends its partitions back to the current
    client's workers on its first distributed query. The ``client`` parameter itself is not
    pickled.

    Examples
    --------
    >>> import dask.array as da  # doctest: +SKIP
    >>> from sapwood.dask import DaskNearestNeighbors  # doctest: +SKIP
    >>> X = da.random.random((10_000, 3), chunks=(2_500, 3))  # doctest: +SKIP
    >>> nn = DaskNearestNeighbors(n_neighbors=4).fit(X)  # doctest: +SKIP
    >>> dist, ind = nn.kneighbors(X[:100])  # lazy Dask arrays  # doctest: +SKIP
    """

    _local_class: ClassVar[type[Any]] = NearestNeighbors

    def __init__(
        self,
        n_neighbors: int = 5,
        radius: float = 1.0,
        *,
        algorithm: str = "auto",
        leaf_size: int = 30,
        metric: str = "minkowski",
        p: float = 2,
        metric_params: dict[str, Any] | None = None,
        n_jobs: int | None = None,
        client: Any = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.client = client

    def fit(self, X: Any, y: Any = None) -> DaskNearestNeighbors:
        """Index each row partition of ``X`` with a kd-tree on the worker that holds it.

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            Training rows. A Dask array is split by rows only (its columns are rechunked
            into one chunk); unknown partition sizes are computed. In-memory data is one
            partition.
        y : ignored

        Returns
        -------
        self : DaskNearestNeighbors
        """
        self._fit(X)
        return self


class _DaskSupervisedNeighbors(_DaskNeighborsBase):
    """The parameters and tags the Dask k-NN classifier and regressor share."""

    _supervised: ClassVar[bool] = True

    def __init__(
        self,
        n_neighbors: int = 5,
        *,
        weights: Any = "uniform",
        algorithm: str = "auto",
        leaf_size: int = 30,
        p: float = 2,
        metric: str = "minkowski",
        metric_params: dict[str, Any] | None = None,
        n_jobs: int | None = None,
        client: Any = None,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs
        self.client = client

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class DaskKNeighborsClassifier(ClassifierMixin, _DaskSupervisedNeighbors):
    """k-nearest-neighbours vote over a Dask cluster: one kd-tree per row partition.

    Predictions equal those of :class:`sapwood.neighbors.KNeighborsClassifier` fitted on
    all the rows concatenated in partition order.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {'uniform', 'distance'} or callable, default='uniform'
        Equal votes; votes weighted by inverse distance (an exact match takes every vote);
        or a function from the distance array to a weight array of the same shape (it runs
        on the workers, so it must be picklable by cloudpickle).
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        How each partition is searched.
    leaf_size : int, default=30
        Leaf size of each partition's tree.
    p : float, default=2
        Minkowski order.
    metric : str, default='minkowski'
        'minkowski', 'euclidean', 'manhattan' or 'chebyshev'.
    metric_params : None
        Must be empty.
    n_jobs : int, optional
        Threads per partition search on a worker.
    client : distributed.Client, optional
        The client to run on; the default client when ``None``.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels, from all partitions (one array per output for multi-output targets).
    outputs_2d_ : bool
        Whether ``y`` had several outputs.
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_samples_fit_ : int
        Number of training rows.
    n_partitions_ : int
        Number of row partitions.

    Notes
    -----
    Pickling and clients work as for :class:`DaskNearestNeighbors`.
    """

    _local_class: ClassVar[type[Any]] = KNeighborsClassifier

    def fit(self, X: Any, y: Any) -> DaskKNeighborsClassifier:
        """Index each row partition of ``X`` and keep its labels beside its tree.

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            Training rows, as in :meth:`DaskNearestNeighbors.fit`.
        y : Dask array or Series/DataFrame, or array-like, of shape (n_samples,) or
            (n_samples, n_outputs)
            Class labels. Partitions that do not line up with those of ``X`` are re-cut to
            match; the total number of rows must agree.

        Returns
        -------
        self : DaskKNeighborsClassifier
        """
        self._fit(X, y)
        return self

    def _fit_targets(self, client: Any, y_futs: list[Any], y_shape: tuple[int, ...]) -> list[Any]:
        uniques = client.gather(client.map(_unique_labels, y_futs, pure=False))
        n_outputs = len(uniques[0])
        if len(y_shape) == 1 and n_outputs == 1:
            from sklearn.exceptions import DataConversionWarning

            warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
                stacklevel=4,
            )
        classes = []
        for k in range(n_outputs):
            cls = np.unique(np.concatenate([u[k] for u in uniques]))
            check_classification_targets(cls)
            classes.append(cls)
        self.outputs_2d_ = n_outputs > 1
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        return list(client.map(_encode_labels, y_futs, classes=classes, pure=False))

    def _classes_list(self) -> list[NDArray]:
        classes: Any = self.classes_
        return list(classes) if self.outputs_2d_ else [classes]

    def _decode_targets(self, encoded: list[Any]) -> Any:
        enc = np.concatenate(encoded, axis=0)
        cols = [cls[enc[:, k]] for k, cls in enumerate(self._classes_list())]
        if not self.outputs_2d_:
            return cols[0]
        if len({c.dtype for c in cols}) == 1:
            return np.column_stack(cols)
        out = np.empty(enc.shape, dtype=object)
        for k, col in enumerate(cols):
            out[:, k] = col
        return out

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities: the (weighted) share of each class among the neighbours.

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_queries, n_features)
            Query rows; ``None`` predicts for the training rows without themselves.

        Returns
        -------
        Dask array or ndarray of shape (n_queries, n_classes), or a list of them per output
            Lazy Dask arrays for Dask queries, NumPy arrays for in-memory ones.
        """
        check_is_fitted(self, "classes_")
        classes = self._classes_list()
        extra = ([len(c) for c in classes], self.weights)
        outputs = [((len(c),), np.dtype(np.float64)) for c in classes]
        probas = self._run(X, None, "proba", extra, outputs)
        return probas if self.outputs_2d_ else probas[0]

    def predict(self, X: Any) -> Any:
        """The most voted class of each row (ties go to the smallest label).

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_queries, n_features)
            Query rows; ``None`` predicts for the training rows without themselves.

        Returns
        -------
        Dask array or ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        check_is_fitted(self, "classes_")
        classes = self._classes_list()
        extra = ([len(c) for c in classes], self.weights, classes)
        if self.outputs_2d_:
            dtype = np.column_stack([c[:0] for c in classes]).dtype
            tail: tuple[int, ...] = (len(classes),)
        else:
            dtype = classes[0].dtype
            tail = ()
        (pred,) = self._run(X, None, "classes", extra, [(tail, dtype)])
        return pred


class DaskKNeighborsRegressor(RegressorMixin, _DaskSupervisedNeighbors):
    """k-nearest-neighbours regression over a Dask cluster: one kd-tree per row partition.

    Predictions equal those of :class:`sapwood.neighbors.KNeighborsRegressor` fitted on all
    the rows concatenated in partition order.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours averaged.
    weights : {'uniform', 'distance'} or callable, default='uniform'
        Plain mean, inverse-distance weighted mean, or a custom (picklable) weight function.
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        How each partition is searched.
    leaf_size : int, default=30
        Leaf size of each partition's tree.
    p : float, default=2
        Minkowski order.
    metric : str, default='minkowski'
        'minkowski', 'euclidean', 'manhattan' or 'chebyshev'.
    metric_params : None
        Must be empty.
    n_jobs : int, optional
        Threads per partition search on a worker.
    client : distributed.Client, optional
        The client to run on; the default client when ``None``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_samples_fit_ : int
        Number of training rows.
    n_partitions_ : int
        Number of row partitions.

    Notes
    -----
    Pickling and clients work as for :class:`DaskNearestNeighbors`.
    """

    _local_class: ClassVar[type[Any]] = KNeighborsRegressor

    def fit(self, X: Any, y: Any) -> DaskKNeighborsRegressor:
        """Index each row partition of ``X`` and keep its targets beside its tree.

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_samples, n_features)
            Training rows, as in :meth:`DaskNearestNeighbors.fit`.
        y : Dask array or Series/DataFrame, or array-like, of shape (n_samples,) or
            (n_samples, n_outputs)
            Targets. Partitions that do not line up with those of ``X`` are re-cut to
            match; the total number of rows must agree.

        Returns
        -------
        self : DaskKNeighborsRegressor
        """
        self._fit(X, y)
        return self

    def _fit_targets(self, client: Any, y_futs: list[Any], y_shape: tuple[int, ...]) -> list[Any]:
        self._y_ndim = 1 + len(y_shape)
        self._n_outputs = y_shape[0] if y_shape else 1
        return list(client.map(_regression_targets, y_futs, pure=False))

    def _decode_targets(self, encoded: list[Any]) -> Any:
        y = np.concatenate(encoded, axis=0)
        return y.ravel() if self._y_ndim == 1 else y

    def predict(self, X: Any) -> Any:
        """The (weighted) mean target of the neighbours of each row.

        Parameters
        ----------
        X : Dask array or DataFrame, or array-like, of shape (n_queries, n_features)
            Query rows; ``None`` predicts for the training rows without themselves.

        Returns
        -------
        Dask array or ndarray of shape (n_queries,) or (n_queries, n_outputs)
            Lazy Dask arrays for Dask queries, NumPy arrays for in-memory ones.
        """
        check_is_fitted(self, "_y_ndim")
        one_d = self._y_ndim == 1
        n_outputs = self._n_outputs
        tail: tuple[int, ...] = () if one_d else (n_outputs,)
        (pred,) = self._run(X, None, "regress", (self.weights, one_d), [(tail, np.float64)])
        return pred
