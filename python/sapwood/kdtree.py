"""A kd-tree with ``scipy.spatial.cKDTree``'s interface: :class:`KDTree`.

:class:`KDTree` has cKDTree's constructor, methods, return types and conventions (missing
neighbours as distance ``inf`` and index ``n``, scalar results for one point, ``workers``),
keeps float32 data in float32, and adds :meth:`KDTree.query_radius`, which returns flat arrays
instead of one Python list per query. The k-NN estimators of :mod:`sapwood.neighbors` answer
from the same tree.

In high dimensions, where a tree would visit most points, queries switch on their own to an
exact blocked scan of all points; the answers are identical (ties between equally distant
points always go to the smaller index).

The class is public as ``sapwood.KDTree`` and ``sapwood.neighbors.KDTree``; it was defined in
:mod:`sapwood.neighbors` before this module existed, and keeps that as its ``__module__`` so
that pickles name the same class path whichever version wrote or reads them.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sapwood import _native
from sapwood._validation import native_array, to_numeric_array

__all__ = ["KDTree"]

_PICKLE_VERSION = 1
_SPARSE_OUTPUTS = ("dok_matrix", "coo_matrix", "dok_array", "coo_array", "dict", "ndarray")


def _as_float_array(x: Any, what: str) -> NDArray:
    """float32 stays float32, everything else becomes float64; complex is a TypeError."""
    arr = to_numeric_array(x, what)
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64, copy=False)
    return arr


def _workers_to_n_jobs(workers: Any) -> int:
    """scipy's ``workers``: None or 1 is one thread, -1 every CPU, k > 0 k threads."""
    if workers is None:
        return 1
    if isinstance(workers, bool) or not isinstance(workers, numbers.Integral):
        raise TypeError(f"workers must be an int, got {type(workers).__name__}")
    workers = int(workers)
    if workers == -1:
        # scipy's cKDTree raises exactly this when the CPU count is unknown, and its test
        # suite (run against this class) checks for it.
        if os.cpu_count() is None:
            raise NotImplementedError("Cannot determine the number of cpus using os.cpu_count()")
        return -1
    if workers < 1:
        raise ValueError(f"workers must be -1 or a positive int, got {workers}")
    return workers


def _check_p(p: Any) -> float:
    p = float(p)
    if not p >= 1:
        raise ValueError(f"Only p-norms with 1<=p<=infinity permitted, got p={p}")
    return p


def _check_eps(eps: Any) -> float:
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    return eps


class KDTree:
    """kd-tree for nearest-neighbour lookup, with ``scipy.spatial.cKDTree``'s interface.

    Parameters
    ----------
    data : array_like of shape (n, m)
        The points. float32 data is kept in float32 (queries are cast to float32 and
        distances come back as float32); every other real dtype becomes float64. The array
        is not copied unless it must be converted or ``copy_data`` is set; the tree keeps
        its own copy in leaf order.
    leafsize : int, default=16
        The largest number of points in a leaf (identical points always share one leaf).
    compact_nodes : bool, default=True
        Choose each split from the tight bounding box of the node's points.
    copy_data : bool, default=False
        Copy ``data`` before keeping it as the ``data`` attribute.
    balanced_tree : bool, default=True
        Split at the median; ``False`` uses the sliding-midpoint rule (faster to build).
    boxsize : array_like or float, optional
        Periodic box: a scalar or one period per axis (0 for an open axis). Data must lie in
        ``[0, boxsize)``; queries are wrapped into the box.

    Attributes
    ----------
    data : ndarray of shape (n, m)
        The points, read-only.
    n, m : int
        Number of points and of dimensions.
    leafsize : int
        The leaf size.
    maxes, mins : ndarray of shape (m,)
        Largest and smallest coordinate along each axis.
    size : int
        Number of nodes.
    indices : ndarray of shape (n,)
        Row index of each point in the tree's leaf order.
    boxsize : ndarray of shape (m,) or None
        The periodic box.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import KDTree
    >>> x, y = np.mgrid[0:5, 2:8]
    >>> tree = KDTree(np.c_[x.ravel(), y.ravel()])
    >>> dd, ii = tree.query([[0, 0], [2.2, 2.9]], k=1)
    >>> print(dd, ii)
    [2.        0.2236068] [ 0 13]
    >>> sorted(tree.query_ball_point([2, 3], r=1))
    [7, 12, 13, 14, 19]
    """

    def __init__(
        self,
        data: Any,
        leafsize: int = 16,
        compact_nodes: bool = True,
        copy_data: bool = False,
        balanced_tree: bool = True,
        boxsize: Any = None,
    ) -> None:
        arr = _as_float_array(data, "data")
        if arr.ndim != 2:
            raise ValueError(
                "data must be of shape (n, m), where there are n points of dimension m, "
                f"got shape {arr.shape}"
            )
        if isinstance(leafsize, bool) or not isinstance(leafsize, numbers.Integral):
            raise TypeError(f"leafsize must be an int, got {type(leafsize).__name__}")
        if leafsize < 1:
            raise ValueError(f"leafsize must be at least 1, got {leafsize}")
        if copy_data:
            arr = arr.copy()
        contiguous = native_array(arr)
        if contiguous is not data:
            contiguous = contiguous.view()
            contiguous.flags.writeable = False
        self._data = contiguous
        m = arr.shape[1]
        if boxsize is None:
            self._boxsize = None
        else:
            box = np.empty(m, dtype=np.float64)
            box[...] = boxsize
            box.flags.writeable = False
            self._boxsize = box
        self._params = (int(leafsize), bool(compact_nodes), bool(balanced_tree))
        self._tree = self._build()

    def _build(self) -> Any:
        leafsize, compact, balanced = self._params
        box = None if self._boxsize is None else self._boxsize.tolist()
        return _native.KdTree(self._data, leafsize, balanced, compact, box, None)

    # ----- attributes -----------------------------------------------------------------------

    @property
    def data(self) -> NDArray:
        """The points, shape (n, m)."""
        return self._data

    @property
    def n(self) -> int:
        """Number of points."""
        return int(self._tree.n)

    @property
    def m(self) -> int:
        """Number of dimensions."""
        return int(self._tree.m)

    @property
    def leafsize(self) -> int:
        """Largest number of points in a leaf."""
        return int(self._tree.leafsize)

    @property
    def size(self) -> int:
        """Number of nodes in the tree."""
        return int(self._tree.size)

    @property
    def maxes(self) -> NDArray:
        """Largest coordinate along each axis."""
        out = self._tree.maxes
        out.flags.writeable = False
        return out

    @property
    def mins(self) -> NDArray:
        """Smallest coordinate along each axis."""
        out = self._tree.mins
        out.flags.writeable = False
        return out

    @property
    def indices(self) -> NDArray:
        """Row index of each point in leaf order."""
        out = self._tree.indices
        out.flags.writeable = False
        return out

    @property
    def boxsize(self) -> NDArray | None:
        """Period of each axis (0 = open), or None."""
        return self._boxsize

    @property
    def nbytes(self) -> int:
        """Bytes held by the tree itself (its leaf-ordered copy of the points, indices, nodes)."""
        return int(self._tree.nbytes)

    # ----- pickling -------------------------------------------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {
            "version": _PICKLE_VERSION,
            "data": np.asarray(self._data),
            "boxsize": self._boxsize,
            "params": self._params,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict) or state.get("version") != _PICKLE_VERSION:
            raise ValueError(
                "this pickled KDTree was written by an incompatible version of sapwood"
            )
        data = np.array(state["data"])
        data.flags.writeable = False
        self._data = data
        self._boxsize = state["boxsize"]
        self._params = tuple(state["params"])
        self._tree = self._build()

    # ----- helpers --------------------------------------------------------------------------

    def _queries(self, x: Any) -> tuple[NDArray, tuple[int, ...]]:
        """Validated queries as a C-contiguous (n, m) array of the tree's dtype."""
        arr = _as_float_array(x, "x")
        m = self.m
        if arr.ndim == 0 or arr.shape[-1] != m:
            raise ValueError(
                f"x must consist of vectors of length {m} but has shape {np.shape(arr)}"
            )
        dtype = np.dtype(self._tree.dtype)
        flat = native_array(arr.reshape(-1, m), dtype=dtype)
        return flat, arr.shape[:-1]

    def _other_points(self, other: KDTree, caller: str) -> NDArray:
        if not isinstance(other, KDTree):
            raise TypeError(f"other must be a sapwood KDTree, got {type(other).__name__}")
        if other.m != self.m:
            raise ValueError(f"Trees passed to {caller} have different dimensionality")
        return native_array(self._data, dtype=np.dtype(other._tree.dtype))

    def _knn(
        self,
        x: NDArray,
        k: int,
        eps: float = 0.0,
        p: float = 2.0,
        distance_upper_bound: float = np.inf,
        n_jobs: int | None = 1,
        strategy: str = "auto",
    ) -> tuple[NDArray, NDArray]:
        """k-NN of validated (n, m) queries: two (n, k) arrays."""
        return self._tree.query(x, k, eps, p, float(distance_upper_bound), strategy, n_jobs)

    # ----- queries --------------------------------------------------------------------------

    def query(
        self,
        x: Any,
        k: Any = 1,
        eps: float = 0.0,
        p: float = 2.0,
        distance_upper_bound: float = np.inf,
        workers: int | None = 1,
    ) -> tuple[Any, Any]:
        """Query the tree for the nearest neighbours of each point of ``x``.

        Parameters
        ----------
        x : array_like, last dimension m
            Query points.
        k : int or sequence of int, default=1
            An int asks for neighbours ``1..k``; a sequence asks for those ranks only
            (counting from 1).
        eps : float, default=0
            Approximate search: the i-th neighbour returned is within ``(1 + eps)`` times
            the distance of the true i-th neighbour.
        p : float, default=2
            Minkowski p-norm, ``1 <= p <= inf``.
        distance_upper_bound : float, default=inf
            Return only neighbours strictly closer than this.
        workers : int, default=1
            Threads; -1 uses every CPU.

        Returns
        -------
        d : float or ndarray of shape x.shape[:-1] + (len(k),)
            Distances, in the tree's dtype; missing neighbours are ``inf``. The last axis is
            squeezed for an int ``k == 1``, and a single point with ``k == 1`` gives a
            Python float.
        i : int or ndarray of intp, same shape
            Row indices into ``data``; missing neighbours are ``n``.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> tree = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> d, i = tree.query([[2.2], [7.9]], k=2)
        >>> d.round(2).tolist(), i.tolist()
        ([[0.2, 0.8], [0.1, 0.9]], [[2, 3], [8, 7]])
        """
        if k is None:
            raise ValueError("k must be an integer or a sequence of integers")
        eps = _check_eps(eps)
        p = _check_p(p)
        if distance_upper_bound is None or not float(distance_upper_bound) >= 0:
            raise ValueError("distance_upper_bound must be a non-negative number")
        n_jobs = _workers_to_n_jobs(workers)
        flat, retshape = self._queries(x)
        single = len(retshape) == 0
        nearest = False
        if np.isscalar(k) or np.ndim(k) == 0:
            if isinstance(k, bool) or int(k) != k:
                raise ValueError(f"k must be an integer or a sequence of integers, got {k!r}")
            kk = int(k)
            if kk < 1:
                raise ValueError(f"k must be at least 1, got {kk}")
            nearest = kk == 1
            ranks = None
            kmax = kk
        else:
            ranks = np.asarray(k)
            if ranks.ndim != 1 or ranks.size == 0 or ranks.dtype.kind not in "iu":
                raise ValueError("k must be an integer or a sequence of integers")
            if ranks.min() < 1:
                raise ValueError("every rank in k must be at least 1")
            kmax = int(ranks.max())
        d, i = self._knn(flat, kmax, eps, p, distance_upper_bound, n_jobs)
        if ranks is not None:
            cols = ranks.astype(np.intp) - 1
            d = d[:, cols]
            i = i[:, cols]
        width = d.shape[1]
        d = d.reshape((*retshape, width))
        i = i.reshape((*retshape, width))
        if nearest:
            d = d[..., 0]
            i = i[..., 0]
            if single:
                return float(d), int(i)
        return d, i

    def query_ball_point(
        self,
        x: Any,
        r: Any,
        p: float = 2.0,
        eps: float = 0.0,
        workers: int | None = 1,
        return_sorted: bool | None = None,
        return_length: bool = False,
    ) -> Any:
        """Find all points within distance ``r`` of each point of ``x``.

        Parameters
        ----------
        x : array_like, last dimension m
            Query points.
        r : float or array_like
            Radius, broadcast against ``x.shape[:-1]``.
        p : float, default=2
            Minkowski p-norm.
        eps : float, default=0
            Approximate search: points within ``r / (1 + eps)`` are always found, none
            beyond ``r * (1 + eps)`` is returned.
        workers : int, default=1
            Threads; -1 uses every CPU.
        return_sorted : bool, optional
            Sort each list of indices; ``None`` sorts for many points, not for one.
        return_length : bool, default=False
            Return the number of neighbours instead of their indices.

        Returns
        -------
        list or ndarray of lists (or of counts)
            For one point, a list of indices; for many, an object array of lists.
        """
        p = _check_p(p)
        eps = _check_eps(eps)
        n_jobs = _workers_to_n_jobs(workers)
        flat, retshape = self._queries(x)
        radii = np.empty(retshape, dtype=np.float64)
        radii[...] = r
        sort = return_sorted or (return_sorted is None and len(retshape) > 0)
        idx, _, off = self._tree.query_radius(
            flat,
            radii.ravel().tolist(),
            p,
            eps,
            False,
            "index" if sort and not return_length else "none",
            n_jobs,
        )
        if return_length:
            counts = np.diff(off).astype(np.intp).reshape(retshape)
            return counts[()]
        out = np.empty(retshape, dtype=object)
        flat_out = out.reshape(-1)
        lists = idx.tolist()
        bounds = off.tolist()
        for j in range(len(bounds) - 1):
            flat_out[j] = lists[bounds[j] : bounds[j + 1]]
        return out[()]

    def query_radius(
        self,
        x: Any,
        r: Any,
        p: float = 2.0,
        eps: float = 0.0,
        return_distance: bool = True,
        sort_results: bool = False,
        workers: int | None = 1,
    ) -> tuple[NDArray, NDArray | None, NDArray]:
        """All neighbours within ``r`` of every query, as flat arrays (not Python lists).

        Parameters
        ----------
        x : array_like of shape (n_queries, m) or (m,)
            Query points.
        r : float or array_like of shape (n_queries,)
            Radius, one for all or one per query.
        p : float, default=2
            Minkowski p-norm.
        eps : float, default=0
            Approximate search, as in :meth:`query_ball_point`.
        return_distance : bool, default=True
            Also return the distances.
        sort_results : bool, default=False
            Sort each query's neighbours by distance (ties by index); otherwise they come in
            the tree's order.
        workers : int, default=1
            Threads; -1 uses every CPU.

        Returns
        -------
        indices : ndarray of intp
            Neighbours of query ``j`` are ``indices[offsets[j]:offsets[j + 1]]``.
        distances : ndarray or None
            Their distances (same layout), in the tree's dtype.
        offsets : ndarray of intp of shape (n_queries + 1,)
            Where each query's neighbours start.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> tree = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> idx, dist, off = tree.query_radius([[0.0], [4.2]], 1.0, sort_results=True)
        >>> idx.tolist(), off.tolist()
        ([0, 1, 4, 5], [0, 2, 4])
        """
        p = _check_p(p)
        eps = _check_eps(eps)
        n_jobs = _workers_to_n_jobs(workers)
        flat, _ = self._queries(x)
        radii = np.asarray(r, dtype=np.float64)
        if radii.ndim > 1 or (radii.ndim == 1 and radii.shape[0] != flat.shape[0]):
            raise ValueError(f"r must be a number or have one entry per query, got {radii.shape}")
        if np.isnan(radii).any():
            raise ValueError("r must not be NaN")
        return self._tree.query_radius(
            flat,
            np.atleast_1d(radii).tolist(),
            p,
            eps,
            bool(return_distance),
            "distance" if sort_results else "none",
            n_jobs,
        )

    def query_ball_tree(
        self, other: KDTree, r: float, p: float = 2.0, eps: float = 0.0
    ) -> list[list[int]]:
        """For each point of this tree, the indices of the points of ``other`` within ``r``.

        Returns
        -------
        list of lists
            ``result[i]`` lists the neighbours of ``self.data[i]`` in ``other.data``.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> line = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> KDTree([[0.0], [5.0]]).query_ball_tree(line, r=1.0)
        [[0, 1], [4, 5, 6]]
        """
        p = _check_p(p)
        eps = _check_eps(eps)
        points = self._other_points(other, "query_ball_tree")
        idx, _, off = other._tree.query_radius(points, [float(r)], p, eps, False, "none", None)
        lists = idx.tolist()
        bounds = off.tolist()
        return [lists[bounds[j] : bounds[j + 1]] for j in range(len(bounds) - 1)]

    def query_pairs(
        self, r: float, p: float = 2.0, eps: float = 0.0, output_type: str = "set"
    ) -> set[tuple[int, int]] | NDArray:
        """All pairs ``(i, j)``, ``i < j``, of points within distance ``r`` of each other.

        Parameters
        ----------
        r : float
            Maximum distance.
        p : float, default=2
            Minkowski p-norm.
        eps : float, default=0
            Approximate search.
        output_type : {'set', 'ndarray'}, default='set'
            A set of tuples, or an (n_pairs, 2) intp array sorted by ``i`` then ``j``.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> tree = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> sorted(tree.query_pairs(r=1.0))[:3]
        [(0, 1), (1, 2), (2, 3)]
        >>> tree.query_pairs(r=1.0, output_type="ndarray").shape
        (9, 2)
        """
        if output_type not in ("set", "ndarray"):
            raise ValueError("Invalid output type")
        p = _check_p(p)
        eps = _check_eps(eps)
        points = native_array(self._data, dtype=np.dtype(self._tree.dtype))
        # Approximate pairs may be anything between the exact answers for r / (1 + eps) and
        # r * (1 + eps); the latter is returned, which makes the answer symmetric in i, j.
        idx, _, off = self._tree.query_radius(
            points, [float(r) * (1.0 + eps)], p, 0.0, False, "index", None
        )
        rows = np.repeat(np.arange(self.n, dtype=np.intp), np.diff(off))
        keep = idx > rows
        pairs = np.empty((int(keep.sum()), 2), dtype=np.intp)
        pairs[:, 0] = rows[keep]
        pairs[:, 1] = idx[keep]
        if output_type == "ndarray":
            return pairs
        return set(map(tuple, pairs.tolist()))

    def count_neighbors(
        self,
        other: KDTree,
        r: Any,
        p: float = 2.0,
        weights: Any = None,
        cumulative: bool = True,
    ) -> Any:
        """Count pairs ``(x1, x2)``, ``x1`` in this tree and ``x2`` in ``other``, within ``r``.

        Parameters
        ----------
        other : KDTree
            The other tree (may be this one).
        r : float or 1-D array_like
            Radii; with ``cumulative=False`` they are bin edges and must be non-decreasing.
        p : float, default=2
            Minkowski p-norm.
        weights : tuple, array_like or None
            ``(self_weights, other_weights)`` (either may be None), or one array for both
            when ``other is self``.
        cumulative : bool, default=True
            Counts within each radius, or per bin ``(r[i-1], r[i]]``.

        Returns
        -------
        int, float or ndarray
            Integer counts when unweighted, float when weighted; a scalar for a scalar ``r``.

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> line = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> KDTree([[0.0], [5.0]]).count_neighbors(line, r=[0.5, 1.0, 2.0]).tolist()
        [2, 5, 8]
        """
        p = _check_p(p)
        points = self._other_points(other, "count_neighbors")
        r_ndim = np.ndim(r)
        if r_ndim > 1:
            raise ValueError("r must be either a single value or a one-dimensional array of values")
        radii = np.array(r, ndmin=1, dtype=np.float64)
        if np.isnan(radii).any():
            raise ValueError("r must not be NaN")
        if not cumulative and np.any(radii[:-1] > radii[1:]):
            raise ValueError("r must be non-decreasing for non-cumulative counting.")
        uniq, first, inverse = np.unique(radii, return_index=True, return_inverse=True)
        if weights is None:
            self_w = other_w = None
        elif isinstance(weights, tuple):
            self_w, other_w = weights
        else:
            if other is not self:
                raise ValueError(
                    "Two different trees are used. Specify weights for both in a tuple."
                )
            self_w = other_w = weights
        weighted = self_w is not None or other_w is not None
        self_w = self._check_weights(self_w, self.n)
        other_w = self._check_weights(other_w, other.n)
        # The tree is ``self``; the queries are the points of ``other``.
        queries = native_array(other._data, dtype=np.dtype(self._tree.dtype))
        del points
        counts = self._tree.count_within(queries, uniq.tolist(), other_w, self_w, p, None)
        if not cumulative:
            counts = np.diff(counts, prepend=0.0)
        if not weighted:
            counts = np.rint(counts).astype(np.intp)
        out = np.zeros(inverse.shape, dtype=counts.dtype)
        if cumulative:
            out[...] = counts[inverse]
        else:
            out[first] = counts[inverse][first]
        if r_ndim == 0:
            return int(out[0]) if not weighted else float(out[0])
        return out

    def _build_weights(self, weights: Any) -> NDArray:
        """Total weight of the points under each node, nodes in pre-order (as scipy's)."""
        w = self._check_weights(weights, self.n)
        assert w is not None
        prefix = np.concatenate(([0.0], np.cumsum(w[self.indices])))
        start, end = self._tree.node_ranges
        return prefix[end] - prefix[start]

    @staticmethod
    def _check_weights(w: Any, n: int) -> NDArray | None:
        if w is None:
            return None
        w = native_array(w, dtype=np.float64)
        if w.ndim != 1 or w.shape[0] != n:
            raise ValueError("Number of weights differ from the number of data points")
        return w

    def sparse_distance_matrix(
        self,
        other: KDTree,
        max_distance: float,
        p: float = 2.0,
        output_type: str = "dok_matrix",
    ) -> Any:
        """Distances between points of this tree and of ``other`` up to ``max_distance``.

        Parameters
        ----------
        other : KDTree
            The other tree.
        max_distance : float
            Pairs farther apart are left out.
        p : float, default=2
            Minkowski p-norm.
        output_type : str, default='dok_matrix'
            'dok_matrix', 'coo_matrix', 'dok_array', 'coo_array', 'dict' (keys ``(i, j)``)
            or 'ndarray' (a record array with fields ``i``, ``j``, ``v``).

        Examples
        --------
        >>> import numpy as np
        >>> from sapwood import KDTree
        >>> line = KDTree(np.arange(10.0).reshape(-1, 1))
        >>> pairs = KDTree([[0.0], [5.0]]).sparse_distance_matrix(line, 1.0, output_type="dict")
        >>> sorted(pairs.items())
        [((0, 0), 0.0), ((0, 1), 1.0), ((1, 4), 1.0), ((1, 5), 0.0), ((1, 6), 1.0)]
        """
        if output_type not in _SPARSE_OUTPUTS:
            raise ValueError("Invalid output type")
        p = _check_p(p)
        points = self._other_points(other, "sparse_distance_matrix")
        idx, dist, off = other._tree.query_radius(
            points, [float(max_distance)], p, 0.0, True, "index", None
        )
        rows = np.repeat(np.arange(self.n, dtype=np.intp), np.diff(off))
        vals = np.asarray(dist, dtype=np.float64)
        shape = (self.n, other.n)
        if output_type == "ndarray":
            rec = np.empty(len(idx), dtype=np.dtype(_RECORD, align=True))
            rec["i"], rec["j"], rec["v"] = rows, idx, vals
            return rec
        keys = list(zip(rows.tolist(), idx.tolist(), strict=True))
        if output_type == "dict":
            return dict(zip(keys, vals.tolist(), strict=True))
        import scipy.sparse as sp

        if output_type in ("coo_matrix", "coo_array"):
            cls = sp.coo_matrix if output_type == "coo_matrix" else sp.coo_array
            return cls((vals, (rows, idx)), shape=shape)
        cls = sp.dok_matrix if output_type == "dok_matrix" else sp.dok_array
        out = cls(shape, dtype=np.float64)
        entries = dict(zip(keys, vals.tolist(), strict=True))
        # Zero distances are real entries: keep them explicit, as scipy does.
        store = getattr(out, "_dict", None)
        if isinstance(store, dict):
            store.update(entries)
        else:  # pragma: no cover - older scipy, where dok is itself a dict
            dict.update(out, entries)
        return out

    def __repr__(self) -> str:
        box = "" if self._boxsize is None else f", boxsize={self._boxsize.tolist()}"
        return f"KDTree(n={self.n}, m={self.m}, leafsize={self.leafsize}{box})"


_RECORD = [("i", np.intp), ("j", np.intp), ("v", np.float64)]


# Pickles name classes by module path: keep the path they have always had.
KDTree.__module__ = "sapwood.neighbors"
