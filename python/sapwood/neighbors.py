"""k-nearest-neighbour estimators with scikit-learn's interface on sapwood's kd-tree:
:class:`NearestNeighbors`, :class:`KNeighborsClassifier` and :class:`KNeighborsRegressor`.

They answer from :class:`sapwood.kdtree.KDTree` (also importable from here, its public path);
in high dimensions, where a tree would visit most points, queries switch on their own to an
exact blocked scan of all points with identical answers.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from sapwood._validation import (
    Checked,
    Integer,
    Options,
    Unset,
    check_n_jobs,
    check_params,
    densify,
    native_array,
)
from sapwood.kdtree import KDTree

__all__ = ["KDTree", "KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]


_METRIC_P = {
    "euclidean": 2.0,
    "l2": 2.0,
    "manhattan": 1.0,
    "cityblock": 1.0,
    "l1": 1.0,
    "chebyshev": np.inf,
    "infinity": np.inf,
}
_STRATEGY = {"auto": "auto", "kd_tree": "tree", "brute": "brute"}

# What the k-NN estimators' parameters accept, checked in this order at fit. ``p`` is checked
# with the metric, which decides whether it is used; ``n_neighbors`` and ``radius`` where they
# are used, since kneighbors and radius_neighbors also take them per call.
_NEIGHBORS_CONSTRAINTS: dict[str, Any] = {
    "leaf_size": Integer(1),
    "algorithm": Options(
        tuple(_STRATEGY), message="{name} must be 'auto', 'kd_tree' or 'brute', got {value!r}"
    ),
    "n_jobs": Checked(check_n_jobs),
    "metric": Options(
        ("minkowski", *_METRIC_P),
        message="{name} {value!r} is not supported; use 'minkowski' (with p), "
        f"or one of {sorted(_METRIC_P)}",
    ),
    "metric_params": Unset("metric_params are not supported (Minkowski metrics only)"),
    "p": None,
    "n_neighbors": None,
}
# The supervised estimators weigh the neighbours too (checked first, as before the tree).
_WEIGHTED_CONSTRAINTS: dict[str, Any] = {
    "weights": Options(
        (None, "uniform", "distance"),
        callables=True,
        message="{name} must be 'uniform', 'distance' or a callable, got {value!r}",
    ),
    **_NEIGHBORS_CONSTRAINTS,
}


def _get_weights(dist: NDArray, weights: Any) -> NDArray | None:
    """Per-neighbour weights: None for uniform; 1/d (exact matches take all) for distance."""
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        inf_mask = np.isinf(w)
        inf_row = np.any(inf_mask, axis=1)
        w[inf_row] = inf_mask[inf_row]
        return w
    return np.asarray(weights(dist))


class _NeighborsBase(BaseEstimator):
    """Shared fitting and queries of the k-NN estimators.

    Sparse input is densified: a kd-tree indexes dense coordinates, and absent entries are
    zeros, so the neighbours are those of ``X.toarray()``.
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    _constraints: ClassVar[dict[str, Any]] = _NEIGHBORS_CONSTRAINTS

    def _check_params(self) -> float:
        """Check the parameters (the class's ``_constraints``, then ``p`` with the metric);
        return the Minkowski order of the metric."""
        checked = check_params(self)
        metric = checked["metric"]
        if metric != "minkowski":
            return _METRIC_P[metric]
        p = 2.0 if self.p is None else float(self.p)
        if not p >= 1:
            raise ValueError(f"p must be >= 1 for the Minkowski metric, got {self.p}")
        return p

    def _fit_tree(self, X: Any, y: Any = None, supervised: bool = False) -> Any:
        p = self._check_params()
        dtypes = [np.float64, np.float32]
        sparse = ["csr", "csc", "coo"]
        if not supervised:
            X = validate_data(self, X, dtype=dtypes, accept_sparse=sparse)
        else:
            X, y = validate_data(self, X, y, dtype=dtypes, accept_sparse=sparse, multi_output=True)
        X = native_array(densify(X))
        self._p = p
        # Sliding-midpoint splits: faster to build and to query than median splits.
        self._tree = KDTree(X, leafsize=self.leaf_size, balanced_tree=False)
        self._fit_X = self._tree.data
        self.n_samples_fit_ = X.shape[0]
        self.effective_metric_ = "euclidean" if p == 2 else "minkowski"
        self.effective_metric_params_ = {} if p == 2 else {"p": p}
        return y

    def _query_rows(self, X: Any) -> NDArray:
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            accept_sparse=["csr", "csc", "coo"],
            reset=False,
        )
        return native_array(densify(X))

    def kneighbors(
        self, X: Any = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> Any:
        """The ``n_neighbors`` nearest training points of each row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), optional
            Query rows; ``None`` queries the training rows, each excluded from its own list.
        n_neighbors : int, optional
            Defaults to the constructor's value.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Distances, ascending (only when ``return_distance``).
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours in the training data.
        """
        check_is_fitted(self, "_tree")
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Integral):
            raise TypeError(
                f"n_neighbors does not take {type(n_neighbors)} value, enter integer value"
            )
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        query_is_train = X is None
        if query_is_train:
            X = native_array(self._fit_X)
            n_neighbors += 1
        else:
            X = self._query_rows(X)
        n_fit = self.n_samples_fit_
        if n_neighbors > n_fit:
            if query_is_train:
                n_neighbors -= 1
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {n_neighbors}, "
                f"n_samples_fit = {n_fit}, n_samples = {X.shape[0]}"
            )
        X = native_array(X, dtype=np.dtype(self._tree._tree.dtype))
        dist, ind = self._tree._knn(
            X,
            int(n_neighbors),
            p=self._p,
            n_jobs=self.n_jobs,
            strategy=_STRATEGY[self.algorithm],
        )
        if query_is_train:
            n = X.shape[0]
            mask = ind != np.arange(n)[:, None]
            # A row whose own index is not among its neighbours (duplicates) drops the last.
            dup = np.all(mask, axis=1)
            mask[:, -1][dup] = False
            ind = ind[mask].reshape(n, n_neighbors - 1)
            dist = dist[mask].reshape(n, n_neighbors - 1)
        if return_distance:
            return dist, ind
        return ind

    def kneighbors_graph(
        self, X: Any = None, n_neighbors: int | None = None, mode: str = "connectivity"
    ) -> Any:
        """Sparse (CSR) graph of k-neighbours: ones (``connectivity``) or distances."""
        import scipy.sparse as sp

        if mode not in ("connectivity", "distance"):
            raise ValueError(
                f'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead'
            )
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        n_queries, k = ind.shape
        data = np.ones(n_queries * k) if mode == "connectivity" else dist.ravel()
        indptr = np.arange(0, n_queries * k + 1, k)
        return sp.csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))

    def _radius_flat(
        self, X: Any, radius: float | None, sort_results: bool
    ) -> tuple[NDArray, NDArray, NDArray, int]:
        check_is_fitted(self, "_tree")
        if radius is None:
            radius = self.radius
        query_is_train = X is None
        X = native_array(self._fit_X) if query_is_train else self._query_rows(X)
        X = native_array(X, dtype=np.dtype(self._tree._tree.dtype))
        idx, dist, off = self._tree._tree.query_radius(
            X,
            [float(radius)],
            self._p,
            0.0,
            True,
            "distance" if sort_results else "index",
            self.n_jobs,
        )
        if query_is_train:
            rows = np.repeat(np.arange(X.shape[0]), np.diff(off))
            keep = idx != rows
            idx, dist = idx[keep], dist[keep]
            off = np.concatenate(([0], np.cumsum(np.bincount(rows[keep], minlength=X.shape[0]))))
        return idx, dist, off.astype(np.intp), X.shape[0]

    def radius_neighbors(
        self,
        X: Any = None,
        radius: float | None = None,
        return_distance: bool = True,
        sort_results: bool = False,
    ) -> Any:
        """Training points within ``radius`` of each row of ``X`` (object arrays of arrays).

        ``X=None`` queries the training rows, each excluded from its own list.
        """
        idx, dist, off, n = self._radius_flat(X, radius, sort_results)
        neigh_ind = np.empty(n, dtype=object)
        neigh_dist = np.empty(n, dtype=object)
        for j in range(n):
            neigh_ind[j] = idx[off[j] : off[j + 1]]
            neigh_dist[j] = dist[off[j] : off[j + 1]]
        if return_distance:
            return neigh_dist, neigh_ind
        return neigh_ind

    def radius_neighbors_graph(
        self,
        X: Any = None,
        radius: float | None = None,
        mode: str = "connectivity",
        sort_results: bool = False,
    ) -> Any:
        """Sparse (CSR) graph of the neighbours within ``radius``."""
        import scipy.sparse as sp

        if mode not in ("connectivity", "distance"):
            raise ValueError(
                f'Unsupported mode, must be one of "connectivity", or "distance" but got '
                f'"{mode}" instead'
            )
        idx, dist, off, n = self._radius_flat(X, radius, sort_results)
        data = np.ones(len(idx)) if mode == "connectivity" else np.asarray(dist)
        return sp.csr_matrix((data, idx, off), shape=(n, self.n_samples_fit_))


class NearestNeighbors(_NeighborsBase):
    """Unsupervised nearest neighbours on a sapwood kd-tree.

    Parameters
    ----------
    n_neighbors : int, default=5
        Neighbours returned by :meth:`kneighbors` by default.
    radius : float, default=1.0
        Radius used by :meth:`radius_neighbors` by default.
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        'auto' descends the tree unless a few probe queries show that scanning every point
        is cheaper (high dimensions; the answers are identical); 'kd_tree' and 'brute' force
        one path.
    leaf_size : int, default=30
        Leaf size of the tree.
    metric : str, default='minkowski'
        'minkowski' (with ``p``), 'euclidean', 'manhattan' or 'chebyshev'.
    p : float, default=2
        Minkowski order, ``1 <= p <= inf``.
    metric_params : None
        Accepted for compatibility; must be empty.
    n_jobs : int, optional
        Threads for queries (``None`` or -1: every core).

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_samples_fit_ : int
        Number of training rows.
    effective_metric_ : str
        'euclidean' for p = 2, else 'minkowski'.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import NearestNeighbors
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 3.0]])
    >>> nn = NearestNeighbors(n_neighbors=2).fit(X)
    >>> nn.kneighbors([[0.0, 0.2]], return_distance=False)
    array([[0, 1]])
    """

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
    ) -> None:
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    _constraints: ClassVar[dict[str, Any]] = {**_NEIGHBORS_CONSTRAINTS, "radius": None}

    def fit(self, X: Any, y: Any = None) -> NearestNeighbors:
        """Build the tree over ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (float32 stays float32).
        y : ignored

        Returns
        -------
        self : NearestNeighbors
        """
        self._fit_tree(X)
        return self


class KNeighborsClassifier(ClassifierMixin, _NeighborsBase):
    """k-nearest-neighbours vote on a sapwood kd-tree (scikit-learn's interface).

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {'uniform', 'distance'} or callable, default='uniform'
        Equal votes; votes weighted by inverse distance (an exact match takes every vote);
        or a function from the distance array to a weight array of the same shape.
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        As in :class:`NearestNeighbors`.
    leaf_size : int, default=30
        Leaf size of the tree.
    p : float, default=2
        Minkowski order.
    metric : str, default='minkowski'
        'minkowski', 'euclidean', 'manhattan' or 'chebyshev'.
    metric_params : None
        Must be empty.
    n_jobs : int, optional
        Threads for queries.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels (one array per output for multi-output targets).
    n_features_in_ : int
        Number of features seen in ``fit``.
    outputs_2d_ : bool
        Whether ``y`` had several outputs.

    Examples
    --------
    >>> from sapwood import KNeighborsClassifier
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> clf = KNeighborsClassifier(n_neighbors=3).fit(X, [0, 0, 1, 1])
    >>> clf.predict([[1.1]])
    array([0])
    """

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
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    _constraints: ClassVar[dict[str, Any]] = _WEIGHTED_CONSTRAINTS

    def fit(self, X: Any, y: Any) -> KNeighborsClassifier:
        """Build the tree over ``X`` and remember the labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels.

        Returns
        -------
        self : KNeighborsClassifier
        """
        y = self._fit_tree(X, y, supervised=True)
        y = np.asarray(y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            if y.ndim != 1:
                import warnings

                from sklearn.exceptions import DataConversionWarning

                warnings.warn(
                    "A column-vector y was passed when a 1d array was expected. Please "
                    "change the shape of y to (n_samples,), for example using ravel().",
                    DataConversionWarning,
                    stacklevel=2,
                )
            self.outputs_2d_ = False
            y = y.reshape((-1, 1))
        else:
            self.outputs_2d_ = True
        check_classification_targets(y)
        classes = []
        encoded = np.empty(y.shape, dtype=np.intp)
        for k in range(y.shape[1]):
            cls, encoded[:, k] = np.unique(y[:, k], return_inverse=True)
            classes.append(cls)
        self.classes_ = classes if self.outputs_2d_ else classes[0]
        self._y = encoded if self.outputs_2d_ else encoded.ravel()
        return self

    def predict_proba(self, X: Any) -> Any:
        """Class probabilities: the (weighted) share of each class among the neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        ndarray of shape (n_queries, n_classes), or a list of them per output
        """
        check_is_fitted(self, "_tree")
        dist, ind = self.kneighbors(X)
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        y = self._y if self.outputs_2d_ else self._y.reshape((-1, 1))
        w = _get_weights(dist, self.weights)
        if w is None:
            w = np.ones_like(ind, dtype=np.float64)
        rows = np.arange(ind.shape[0])
        out = []
        for k, cls in enumerate(classes):
            labels = y[:, k][ind]
            proba = np.zeros((ind.shape[0], len(cls)))
            for j in range(ind.shape[1]):
                np.add.at(proba, (rows, labels[:, j]), w[:, j])
            norm = proba.sum(axis=1)[:, None]
            norm[norm == 0.0] = 1.0
            out.append(proba / norm)
        return out if self.outputs_2d_ else out[0]

    def predict(self, X: Any) -> NDArray:
        """The most voted class of each row (ties go to the smallest label).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        proba = self.predict_proba(X)
        if not self.outputs_2d_:
            return self.classes_.take(np.argmax(proba, axis=1))
        pairs = zip(self.classes_, proba, strict=True)
        cols = [cls.take(np.argmax(pr, axis=1)) for cls, pr in pairs]
        return np.column_stack(cols)


class KNeighborsRegressor(RegressorMixin, _NeighborsBase):
    """k-nearest-neighbours regression on a sapwood kd-tree (scikit-learn's interface).

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours averaged.
    weights : {'uniform', 'distance'} or callable, default='uniform'
        Plain mean, inverse-distance weighted mean, or a custom weight function.
    algorithm : {'auto', 'kd_tree', 'brute'}, default='auto'
        As in :class:`NearestNeighbors`.
    leaf_size : int, default=30
        Leaf size of the tree.
    p : float, default=2
        Minkowski order.
    metric : str, default='minkowski'
        'minkowski', 'euclidean', 'manhattan' or 'chebyshev'.
    metric_params : None
        Must be empty.
    n_jobs : int, optional
        Threads for queries.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> from sapwood import KNeighborsRegressor
    >>> X = [[0.0], [1.0], [2.0], [3.0]]
    >>> reg = KNeighborsRegressor(n_neighbors=2).fit(X, [0.0, 0.0, 1.0, 1.0])
    >>> reg.predict([[1.4]])
    array([0.5])
    """

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
    ) -> None:
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    _constraints: ClassVar[dict[str, Any]] = _WEIGHTED_CONSTRAINTS

    def fit(self, X: Any, y: Any) -> KNeighborsRegressor:
        """Build the tree over ``X`` and remember the targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.

        Returns
        -------
        self : KNeighborsRegressor
        """
        y = self._fit_tree(X, y, supervised=True)
        self._y = np.asarray(y, dtype=np.float64)
        return self

    def predict(self, X: Any) -> NDArray:
        """The (weighted) mean target of the neighbours of each row.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        check_is_fitted(self, "_tree")
        dist, ind = self.kneighbors(X)
        w = _get_weights(dist, self.weights)
        y = self._y
        y2 = y.reshape((-1, 1)) if y.ndim == 1 else y
        if w is None:
            pred = np.mean(y2[ind], axis=1)
        else:
            num = np.sum(y2[ind] * w[:, :, None], axis=1)
            pred = num / np.sum(w, axis=1)[:, None]
        return pred.ravel() if y.ndim == 1 else pred
