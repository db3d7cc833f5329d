"""Gradient boosting on Dask: :class:`DaskGBTRegressor` and :class:`DaskGBTClassifier`.

Every step of a fit is an ordinary Dask task over the partitions' futures; no sockets, ports,
trackers, pinned workers or locks. Per partition: sketch the columns, bin the rows by the
merged cuts, then, each round, start the round's trees from the margins, and alternate a
global step (from every partition's histogram sums, added in partition order, so every
partition takes the same decisions) with a local one (divide the rows, build the wanted
histograms) until the trees are complete, and add them to the margins. The single-machine
fit runs the same steps with one partition (``sapwood_boost::hist::step``), so a model fitted
here equals the one :class:`sapwood.GBTRegressor` fits on the concatenated data whenever the
cuts are the same (every feature with at most ``max_bin`` distinct values, or few enough that
no partition's sketch is pruned).

A lost worker is recomputed from lineage by Dask itself; a fit never waits on a peer.
"""

from __future__ import annotations

import contextlib
import math
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets

from sapwood import _native
from sapwood._categorical import (
    _is_categorical_dtype,
    _plain,
    check_codes,
    check_feature_types,
    encode_fit,
    encode_predict,
)
from sapwood._gbt_base import _check_monotone_categorical
from sapwood._model_json import _CLASSIFICATION_OBJECTIVES, _REGRESSION_OBJECTIVES
from sapwood._ranking import group_offsets, query_weights, split_qid
from sapwood._validation import finite_vector, native_array
from sapwood.boost import GBTClassifier, GBTRanker, GBTRegressor, _classification_shape
from sapwood.dask._client import get_client

__all__ = ["DaskGBTClassifier", "DaskGBTRanker", "DaskGBTRegressor"]

# Entries a partition's sketch keeps per feature, as a multiple of max_bin: below it the
# sketch is exact, and the cuts equal the single-machine ones.
_SKETCH_FACTOR = 32


def _threads() -> int | None:
    """The worker's thread count, so that a task's Rust work does not oversubscribe it."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return None


# ------------------------------------------------------------------------------ task bodies
def _matrix(block: Any, missing: float | None, categorical: Sequence[int] = ()) -> NDArray:
    a = np.asarray(block)
    if a.ndim != 2:
        raise ValueError(f"X must be 2-D, got a partition of shape {a.shape}")
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    a = native_array(a, dtype=dtype)
    if missing is not None and not (isinstance(missing, float) and math.isnan(missing)):
        a = np.where(a == missing, np.nan, a).astype(dtype)
    check_codes(a, categorical)
    return a


def _categorical_input(
    X: Any, enable: bool, feature_types: Sequence[str] | None
) -> tuple[Any, list[int], dict[int, list[Any]]]:
    """``X`` with its categorical columns as codes (NaN for missing), the categorical
    features, and each categorical column's categories. A Dask frame's categorical columns
    need known categories, so that every partition codes them alike."""
    check_feature_types(feature_types)
    marked = [] if feature_types is None else [i for i, t in enumerate(feature_types) if t == "c"]
    if not _is_dask(X):
        return encode_fit(X, enable, feature_types)
    dtypes = list(getattr(X, "dtypes", []))
    frame_cats = [i for i, dt in enumerate(dtypes) if _is_categorical_dtype(dt)]
    if (frame_cats or marked) and not enable:
        raise ValueError(
            "X has categorical columns or feature_types marks categorical features; pass "
            "enable_categorical=True to split on them by category, or encode them as numbers"
        )
    categories: dict[int, list[Any]] = {}
    for i in frame_cats:
        name = X.columns[i]
        col = X[name]
        if not col.cat.known:
            raise ValueError(
                f"column {str(name)!r} has unknown categories: call X.categorize() (or "
                "X[column].cat.as_known()) so that every partition codes them alike"
            )
        categories[i] = _plain(col.cat.categories)
        codes = col.cat.codes
        X = X.assign(**{name: codes.where(codes >= 0).astype("float64")})
    return X, sorted(set(frame_cats) | set(marked)), categories


def _eval_codes(
    X: Any, categorical: Sequence[int], categories: dict[int, list[Any]], what: str
) -> Any:
    """An evaluation set's categorical columns coded with the training categories (a Dask
    frame must list no category the training data lacks)."""
    if not categories or not hasattr(X, "columns"):
        return X
    if not _is_dask(X):
        return encode_predict(X, categorical, categories)
    for i, known in categories.items():
        name = X.columns[i]
        col = X[name]
        if not _is_categorical_dtype(col.dtype) or not col.cat.known:
            raise ValueError(
                f"{what}: column {str(name)!r} must be categorical with known categories"
            )
        extra = [v for v in col.cat.categories if v not in set(known)]
        if extra:
            raise ValueError(
                f"{what}: column {str(name)!r} lists categories the training data lacks: "
                f"{', '.join(repr(v) for v in extra[:5])}"
            )
        codes = col.cat.set_categories(known).cat.codes
        X = X.assign(**{name: codes.where(codes >= 0).astype("float64")})
    return X


def _codes(block: Any, classes: NDArray) -> NDArray:
    a = np.asarray(block).reshape(-1)
    known = np.isin(a, classes)
    if not np.all(known):
        raise ValueError(f"y has labels not seen in training: {np.unique(a[~known])[:5]!r}")
    return native_array(np.searchsorted(classes, a), dtype=np.float32)


def _unique_labels(block: Any) -> NDArray:
    a = np.asarray(block).reshape(-1)
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError("y has missing labels (NaN); every row needs a label")
    if a.dtype.kind == "O" and any(v is None or (isinstance(v, float) and v != v) for v in a):
        raise ValueError("y has missing labels (None or NaN); every row needs a label")
    return np.unique(a)


def _labels_of(block: Any) -> Any:
    import dask

    return dask.delayed(_unique_labels, pure=True)(block)


def _weights(block: Any, n: int) -> NDArray:
    if block is None:
        return np.ones(n, dtype=np.float32)
    w = finite_vector(block, "sample_weight")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight has {w.shape[0]} entries for a partition of {n} rows")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    return w


def _query_starts(block: Any, i: int) -> tuple[NDArray, Any, Any]:
    """A partition's query ids as local group offsets (ids sorted, as XGBoost requires), with
    its first and last id (None for an empty partition)."""
    q = np.asarray(block).reshape(-1)
    offsets = group_offsets(q.shape[0], q, None, f"partition {i}")
    if q.shape[0] == 0:
        return offsets, None, None
    return offsets, int(q[0]), int(q[-1])


def _plan_queries(
    metas: list[tuple[NDArray, Any, Any]], what: str
) -> tuple[list[tuple[NDArray, int]], int]:
    """Each partition's (local offsets, index of its first query) and the number of queries,
    checking that the ids increase across partitions and no query spans two of them."""
    out, first, last = [], 0, None
    for i, (offsets, lo, hi) in enumerate(metas):
        if lo is not None and last is not None and lo <= last:
            raise ValueError(
                f"{what}: partition {i} starts with qid {lo}, but an earlier partition ends "
                f"with qid {last}; queries must be sorted and each must lie in one partition "
                "(e.g. set_index('qid') on a sorted Dask DataFrame)"
            )
        out.append((offsets, first))
        first += int(offsets.shape[0]) - 1
        if hi is not None:
            last = hi
    return out, first


def _query_row_weights(offsets: NDArray, weights: NDArray | None) -> NDArray:
    """A partition's per-query weights repeated over each query's rows (ones if None)."""
    n = int(offsets[-1])
    if weights is None:
        return np.ones(n, dtype=np.float32)
    return native_array(np.repeat(weights, np.diff(offsets)), dtype=np.float32)


def _check_rows(x: NDArray, y: NDArray, i: int) -> int:
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"partition {i}: X has {x.shape[0]} rows but y has {y.shape[0]}; "
            "X and y must be partitioned alike"
        )
    return int(x.shape[0])


def _native_x(x: NDArray) -> NDArray:
    # Arrays that crossed between workers come from pickle buffers and may be unaligned.
    return native_array(x, dtype=np.float32 if x.dtype == np.float32 else np.float64)


def _f32(a: NDArray) -> NDArray:
    return native_array(a, dtype=np.float32)


def _sketch(x: NDArray, w: NDArray, size: int) -> tuple:
    return _native.dist_sketch(_native_x(x), _f32(w), size, _threads())


def _merge(sketches: list[tuple], max_bin: int, categorical: Sequence[int] = ()) -> Any:
    aligned = [
        (
            _f32(v),
            native_array(w, dtype=np.float64),
            native_array(c, dtype=np.uint64),
            native_array(m, dtype=np.bool_),
        )
        for v, w, c, m in sketches
    ]
    return _native.DistCuts.merge(aligned, max_bin, list(categorical))


class _Part:
    """One partition's rows binned by the fit's cuts. Pickles as the rows and the cuts (binning
    again where it lands), so that Dask may move it or spill it like any other result."""

    def __init__(self, x: NDArray, cuts: Any) -> None:
        self.x, self.cuts = x, cuts
        self.binned = _native.DistPart(_native_x(x), cuts, _threads())

    def __reduce__(self) -> tuple:
        return (_Part, (self.x, self.cuts))

    def __sizeof__(self) -> int:
        return int(self.x.nbytes) + self.binned.__sizeof__()


def _part(x: NDArray, cuts: Any) -> _Part:
    return _Part(x, cuts)


def _empty_model(config: Any, n_features: int, ys: list[NDArray], ws: list[NDArray]) -> Any:
    return config.empty_model(n_features, np.concatenate(ys), np.concatenate(ws))


def _base_margin(model: Any, n: int) -> NDArray:
    base = np.asarray(model.base_margin, dtype=np.float32)
    return np.ascontiguousarray(np.tile(base, n))


# ------------------------------------------------------------------------------ growth chains
# A partition's growth is a chain of operations, the same on every partition:
#   ("start", r, v, config)   start round r's trees from the margins (config version v)
#   ("adv", r, s, outs)       step s of round r, from every partition's output of step s - 1
#   ("finish", r)             add round r's complete trees to the margins
# Each task applies its last few operations to the live state the previous task of its
# partition left in the worker (``_CHAINS``), and returns only what the other partitions need:
# their sums, and the trees of a round it finished. The state never crosses workers. Where it
# is missing or not where the task expects it (the worker died, or Dask moved or reran the
# task), the task rebuilds it: its arguments hold the round's operations so far, the margins
# at the start of the round before, and the trees that round added, so Dask's recomputation
# from lineage gives the same answer, and no task waits on another partition's state.

_CHAINS: dict[str, dict[int, _Chain]] = {}
_CHAINS_LOCK = threading.Lock()
# Fits whose states a worker keeps; an older fit's states are dropped (and rebuilt if needed).
_FITS_KEPT = 16
# Rounds whose starting margins a chain keeps, for the margins tasks that trail the growth.
_MARGINS_KEPT = 3


def _key(op: tuple) -> tuple:
    return tuple(op[:3]) if op[0] != "finish" else tuple(op[:2])


class _Chain:
    """One partition's live growth: the margins at the start of round ``round``, that round's
    growing trees (``None`` between rounds), and the key of the last operation applied."""

    __slots__ = ("config", "last", "margin", "margins", "round", "sketches", "trees")

    def __init__(self, margin: NDArray, round_: int) -> None:
        self.margin, self.round = margin, round_
        self.margins: dict[int, NDArray] = {round_: margin}
        self.last: tuple = ("margin", round_)
        self.trees: list[Any] | None = None
        self.config: Any = None
        self.sketches: list[tuple] | None = None


def _take_chain(fit: str, p: int) -> _Chain | None:
    with _CHAINS_LOCK:
        return _CHAINS.get(fit, {}).pop(p, None)


def _put_chain(fit: str, p: int, chain: _Chain) -> None:
    with _CHAINS_LOCK:
        chains = _CHAINS.pop(fit, {})
        chains[p] = chain
        _CHAINS[fit] = chains  # most recently used last
        while len(_CHAINS) > _FITS_KEPT:
            del _CHAINS[next(iter(_CHAINS))]


def _forget(fit: str) -> None:
    with _CHAINS_LOCK:
        _CHAINS.pop(fit, None)


def _apply(chain: _Chain, op: tuple, static: tuple, data: tuple) -> list[tuple[str, int]] | None:
    model0, cuts, n_total, k = static
    part, x, y, w, offset, rank = data
    kind = op[0]
    finished = None
    if kind == "sketch":
        _, r, _, config, size = op
        chain.sketches = _tree_sketches(
            config, model0, x, y, w, chain.margin, r, offset, n_total, size, rank
        )
    elif kind == "start":
        config = op[3]
        r = op[1]
        chain.config = config
        if len(op) > 4:
            # approx: each tree's rows binned by the cuts of its own sketch.
            tree_cuts = op[4]
            bins = [_native.DistPart(_native_x(x), c, _threads()) for c in tree_cuts]
        else:
            tree_cuts, bins = [cuts], [part.binned]
        chain.sketches = None
        chain.trees = config.start_trees(
            model0,
            bins,
            tree_cuts,
            chain.margin,
            _f32(y),
            _f32(w),
            r,
            offset,
            n_total,
            _threads(),
            rank,
        )
    elif kind == "adv":
        outs, trees = op[3], chain.trees
        assert trees is not None
        sums = [
            [native_array(o.messages[j], dtype=np.float64) for o in outs] for j in range(len(trees))
        ]
        chain.trees = [t if t.done else t.advance(sums[j], _threads()) for j, t in enumerate(trees)]
    else:
        trees = chain.trees
        assert trees is not None
        if not all(t.done for t in trees):
            raise RuntimeError("a tree did not finish growing")
        finished = [(t.tree_json(), t.group) for t in trees]
        chain.margin = chain.config.update_training_margin(
            _native_x(x), chain.margin, trees, k, _threads()
        )
        chain.trees = None
        chain.round += 1
        chain.margins[chain.round] = chain.margin
        chain.margins.pop(chain.round - _MARGINS_KEPT, None)
    chain.last = _key(op)
    return finished


class _Out:
    """What one task of a chain gives the others: its partition's sums for the next step (one
    float64 array per growing tree), whether every tree is complete, the trees of a round it
    finished, and (``approx``) its sketches for the next round's cuts."""

    __slots__ = ("done", "messages", "sketches", "trees")

    def __init__(
        self, messages: list[NDArray], done: bool, trees: Any, sketches: Any = None
    ) -> None:
        self.messages, self.done, self.trees = messages, done, trees
        self.sketches = sketches

    def __reduce__(self) -> tuple:
        return (_Out, (self.messages, self.done, self.trees, self.sketches))

    def __sizeof__(self) -> int:
        size = sum(int(m.nbytes) for m in self.messages) + 64
        for _, s, unit in self.sketches or ():
            size += sum(int(a.nbytes) for a in s[:3])
            size += 0 if unit is None else sum(int(a.nbytes) for a in unit[:3])
        return size


def _tree_sketches(
    config: Any,
    model0: Any,
    x: NDArray,
    y: NDArray,
    w: NDArray,
    margin: NDArray,
    r: int,
    offset: int,
    n_total: int,
    size: int,
    rank: tuple | None = None,
) -> list[tuple]:
    """``approx``: this partition's sketch for each tree of round ``r``, weighted by the
    hessians the tree sees; where they are all zero here, also a sketch of unit weights (used
    when they are zero on every partition, as one machine does)."""
    xn = _native_x(x)
    n = int(xn.shape[0])
    out = []
    weights = config.tree_weights(model0, n, margin, _f32(y), _f32(w), r, offset, n_total, rank)
    for weight in weights:
        positive = bool(np.any(weight > 0))
        sketch = _native.dist_sketch(xn, weight, size, _threads())
        unit = (
            None
            if positive
            else _native.dist_sketch(xn, np.ones(n, dtype=np.float32), size, _threads())
        )
        out.append((positive, sketch, unit))
    return out


def _merge_trees(outs: list[_Out], max_bin: int, categorical: Sequence[int] = ()) -> list[Any]:
    """``approx``: each tree's cuts from every partition's sketch, in partition order."""
    n_trees = len(outs[0].sketches)
    cuts = []
    for j in range(n_trees):
        entries = [o.sketches[j] for o in outs]
        positive = any(e[0] for e in entries)
        cuts.append(_merge([e[1] if positive else e[2] for e in entries], max_bin, categorical))
    return cuts


def _with_trees(x: NDArray, margin: NDArray, trees: list[tuple[str, int]], k: int) -> NDArray:
    """``margin`` with ``trees`` added in order: the training margins after a round (the same
    values its growth states reach)."""
    return _native.DistConfig.update_margin(
        _native_x(x), _f32(margin), [t for t, _ in trees], [g for _, g in trees], k, _threads()
    )


def _round_start(data: tuple, k: int, base: tuple, entry: _Out | None, round_: int) -> NDArray:
    """The margins at the start of round ``round_``: ``base`` (margins at the start of round
    ``round_`` or the one before), with the trees of that round before from ``entry`` (the
    output of the task that finished it)."""
    margin, at = base
    if at == round_:
        return _f32(margin)
    if entry is None or entry.trees is None or at + 1 != round_:
        raise RuntimeError(f"no margins for round {round_} from round {at}")
    return _with_trees(data[1], margin, entry.trees, k)


def _run(
    fit: str,
    p: int,
    static: tuple,
    data: tuple,
    base: tuple,
    entry: _Out | None,
    after: tuple,
    ops: list[tuple],
    n_tail: int,
) -> _Out:
    """Apply the last ``n_tail`` of ``ops`` (round r's operations so far) to partition ``p``'s
    chain, whose last operation should be ``after``; rebuild the chain where it is not."""
    prefix, tail = ops[: len(ops) - n_tail], ops[len(ops) - n_tail :]
    chain = _take_chain(fit, p)
    if chain is None or chain.last != after:
        round_ = ops[0][1]
        chain = _Chain(_round_start(data, static[3], base, entry, round_), round_)
        for op in prefix:
            _apply(chain, op, static, data)
    finished = None
    for op in tail:
        out = _apply(chain, op, static, data)
        if out is not None:
            finished = out
    _put_chain(fit, p, chain)
    if chain.trees is None:
        return _Out([], True, finished, chain.sketches)
    return _Out([t.message() for t in chain.trees], all(t.done for t in chain.trees), finished)


def _margin_task(
    fit: str, p: int, data: tuple, k: int, base: tuple, entry: _Out | None, round_: int
) -> NDArray:
    """Partition ``p``'s margins at the start of round ``round_``, from its live chain where it
    has them, otherwise from ``base`` and ``entry`` as :func:`_round_start`."""
    with _CHAINS_LOCK:
        chain = _CHAINS.get(fit, {}).get(p)
        if chain is not None and round_ in chain.margins:
            return chain.margins[round_]
    return _round_start(data, k, base, entry, round_)


def _round_trees(out: _Out) -> list[tuple[str, int]]:
    return out.trees


def _out_done(out: _Out) -> bool:
    return bool(out.done)


def _update_eval(x: NDArray, margin: NDArray, trees: list[tuple[str, int]], k: int) -> NDArray:
    return _native.DistConfig.update_margin(
        _native_x(x), _f32(margin), [t for t, _ in trees], [g for _, g in trees], k, _threads()
    )


def _evaluate(
    config: Any,
    model: Any,
    margins: list[NDArray],
    ys: list[NDArray],
    ws: list[NDArray],
    groups: NDArray | None = None,
) -> list[float]:
    return config.evaluate(
        model, np.concatenate(margins), np.concatenate(ys), np.concatenate(ws), groups
    )


def _predict_block(block: Any, est: Any, kind: str, missing: float | None, kw: dict) -> NDArray:
    x = _matrix(block, None)
    if x.shape[0] == 0:
        # An empty block: the shape and type of a one-row answer, without rows.
        return getattr(est, kind)(np.zeros((1, x.shape[1]), dtype=x.dtype), **kw)[:0]
    return getattr(est, kind)(x, **kw)


# ------------------------------------------------------------------------------ inputs
def _is_dask(obj: Any) -> bool:
    return hasattr(obj, "__dask_graph__") and obj.__dask_graph__() is not None


def _as_array(obj: Any, what: str) -> Any:
    """A Dask array of a Dask array, DataFrame or Series (row chunks known), or of a NumPy or
    pandas object (one chunk)."""
    import dask.array as da

    if _is_dask(obj):
        if isinstance(obj, da.Array):
            arr = obj
        elif hasattr(obj, "to_dask_array"):
            arr = obj.to_dask_array(lengths=True)
        else:
            raise TypeError(f"{what} must be a Dask array or DataFrame, got {type(obj).__name__}")
    else:
        if hasattr(obj, "to_numpy"):
            obj = obj.to_numpy()
        a = np.asarray(obj)
        arr = da.from_array(a, chunks=a.shape or (1,))
    if any(math.isnan(c) for c in arr.chunks[0]):
        arr = arr.compute_chunk_sizes()
    return arr


def _row_blocks(arr: Any) -> list[Any]:
    """The row blocks of a 1-D or 2-D Dask array, as delayed objects in order."""
    if arr.ndim == 2 and len(arr.chunks[1]) > 1:
        arr = arr.rechunk({1: -1})
    blocks = arr.to_delayed()
    return list(blocks[:, 0] if arr.ndim == 2 else blocks)


def _aligned(arr: Any, rows: tuple[int, ...], what: str) -> Any:
    """``arr`` chunked by the rows ``rows`` (a ValueError if its length differs)."""
    if sum(arr.chunks[0]) != sum(rows):
        raise ValueError(f"{what} has {sum(arr.chunks[0])} rows, but X has {sum(rows)}")
    if arr.chunks[0] != rows:
        arr = arr.rechunk({0: rows})
    return arr


def _dask_queries(
    client: Any, qid: Any, rows: tuple[int, ...], sample_weight: Any, what: str
) -> tuple[list[tuple], list[Any], NDArray]:
    """The query groups of a Dask fit's partitions (rows ``rows``) from their query ids:
    what each partition's gradients need (local offsets, its first query, the number of
    queries, the query-weight normalisation), each partition's row weights (futures) from the
    per-query ``sample_weight``, and the offsets of every query into all of the rows."""
    if qid is None:
        raise ValueError(
            f"{what}: learning to rank needs the query of each row: pass qid= (one query id a "
            "row, sorted, partitioned like X) or a 'qid' column in X"
        )
    qa = _aligned(_as_array(qid, f"{what} qid"), rows, f"{what} qid")
    metas = client.gather(
        [
            client.submit(_query_starts, b, i, pure=False)
            for i, b in enumerate(client.compute(_row_blocks(qa)))
        ]
    )
    plan, total = _plan_queries(metas, what)
    sw = sample_weight.compute() if _is_dask(sample_weight) else sample_weight
    given = query_weights(sw, total, what)
    w = np.ones(total, dtype=np.float64) if given is None else given
    w32 = w.astype(np.float32)
    # The sum in query order (a running sum, as one machine adds them).
    total_w = float(np.cumsum(w32.astype(np.float64))[-1]) if total else 0.0
    if total and total_w <= 0:
        raise ValueError(f"{what}: sample_weight sums to zero")
    norm = float(np.float32(total / total_w)) if total else 1.0
    ranks, ws, starts = [], [], [np.zeros(1, dtype=np.int64)]
    row = 0
    for (offsets, first), n in zip(plan, rows, strict=True):
        n_q = int(offsets.shape[0]) - 1
        ranks.append((offsets, first, total, norm))
        ws.append(
            client.submit(
                _query_row_weights,
                offsets,
                None if given is None else w32[first : first + n_q],
                pure=False,
            )
        )
        starts.append(offsets[1:] + row)
        row += n
    return ranks, ws, np.concatenate(starts).astype(np.int64)


class _DaskTrainer:
    """A trainer with the interface the estimators' training loop drives (``boost_round``,
    ``model``, ``set_learning_rate``), running each round as Dask tasks."""

    def __init__(
        self,
        client: Any,
        params: dict[str, Any],
        xs: list[Any],
        ys: list[Any],
        ws: list[Any],
        rows: tuple[int, ...],
        evals: list[tuple[list[Any], list[Any], list[Any], tuple[int, ...]]],
        n_features: int,
        n_rounds: int,
        ranks: list[tuple | None] | None = None,
        eval_groups: list[NDArray | None] | None = None,
    ) -> None:
        self.client = client
        self.params = params
        self.config = _native.DistConfig(params)
        self.k = max(int(params["num_class"]), 1)
        submit = client.submit
        self.xs, self.ys, self.ws = xs, ys, ws
        self.offsets = np.concatenate([[0], np.cumsum(rows)]).astype(int).tolist()
        self.n_total = int(sum(rows))
        self.sketch_size = _SKETCH_FACTOR * int(params["max_bin"])
        self.approx = params["tree_method"] == "approx"
        if self.approx:
            # Each tree sketches and bins again, from the hessians it sees.
            self.cuts, self.parts = None, [None] * len(xs)
        else:
            sketches = [
                submit(_sketch, x, w, self.sketch_size, pure=False)
                for x, w in zip(xs, ws, strict=True)
            ]
            self.cuts = submit(
                _merge,
                sketches,
                int(params["max_bin"]),
                params["categorical_features"],
                pure=False,
            )
            self.parts = [submit(_part, x, self.cuts, pure=False) for x in xs]
        self.model0 = submit(_empty_model, self.config, n_features, ys, ws, pure=False)
        # Surface bad labels or parameters now, not at the first round.
        client.gather(self.model0)
        margins0 = [submit(_base_margin, self.model0, n, pure=False) for n in rows]
        self.evals = evals
        self.eval_margins = [
            [submit(_base_margin, self.model0, n, pure=False) for n in ev[3]] for ev in evals
        ]
        self.static = (self.model0, self.cuts, self.n_total, self.k)
        ranks = ranks or [None] * len(xs)
        self.eval_groups = eval_groups or [None] * len(evals)
        self.data = [
            (self.parts[p], xs[p], ys[p], ws[p], self.offsets[p], ranks[p]) for p in range(len(xs))
        ]
        self.fit_id = uuid.uuid4().hex
        self.n_rounds = n_rounds
        self.version = 0
        self.trees: list[Any] = []
        # Round r's tasks rebuild a lost state from ``bases`` (margins at the start of round
        # r - 1, or of round 0) and ``entry`` (the outputs of the tasks that finished round
        # r - 1, which carry its trees).
        self.bases: list[tuple[Any, int]] = [(m, 0) for m in margins0]
        self.entry: list[Any] | None = None
        # The chains' last operation, and the outputs of tasks that already started the next
        # round (with config version v).
        self.after: tuple = ("margin", 0)
        self.ahead: tuple[int, tuple, list[Any]] | None = None
        shape_depth = int(params["max_depth"])
        leaves = int(params["max_leaves"])
        # Steps that certainly complete a tree: one a level, or one a leaf; loss-guided growth
        # without a leaf limit checks and goes on where needed.
        self.bounded = params["grow_policy"] != "lossguide" or leaves > 0
        if params["grow_policy"] == "lossguide":
            self.steps = leaves if leaves > 0 else min(2**shape_depth, 64)
        else:
            self.steps = shape_depth if shape_depth > 0 else max(leaves, 1)

    def set_learning_rate(self, learning_rate: float) -> None:
        params = dict(self.params, learning_rate=float(learning_rate))
        self.config = _native.DistConfig(params)
        self.params = params
        self.version += 1

    def _task(self, fn: Any, *args: Any) -> Any:
        return self.client.submit(fn, *args, pure=False)

    def _first_op(self, r: int) -> tuple:
        """The operation that opens round ``r``: start its trees (``hist``), or sketch for
        their cuts (``approx``)."""
        if self.approx:
            return ("sketch", r, self.version, self.config, self.sketch_size)
        return ("start", r, self.version, self.config)

    def _submit(self, ops: list[tuple], n_tail: int) -> list[Any]:
        """Apply the last ``n_tail`` of ``ops`` on every partition's chain; the tasks'
        outputs, in partition order."""
        after, self.after = self.after, _key(ops[-1])
        entry = self.entry
        return [
            self._task(
                _run,
                self.fit_id,
                p,
                self.static,
                self.data[p],
                self.bases[p],
                None if entry is None else entry[p],
                after,
                ops,
                n_tail,
            )
            for p in range(len(self.data))
        ]

    def boost_round(self) -> list[list[float]]:
        """Submit a round's growth at once. Its last step also finishes the round and starts
        the next, so that a round costs one task per level and partition."""
        r = len(self.trees)
        if self.ahead is not None and self.ahead[0] == self.version:
            ops, outs = [self.ahead[1]], self.ahead[2]
        else:
            # Not started yet, or started with a learning rate a callback has since changed.
            ops = [self._first_op(r)]
            outs = self._submit(ops, 1)
        self.ahead = None
        if self.approx:
            # This round's cuts, one set per tree, from every partition's sketches.
            cuts = self.client.submit(
                _merge_trees,
                outs,
                int(self.params["max_bin"]),
                self.params["categorical_features"],
                pure=False,
            )
            ops = [*ops, ("start", r, self.version, self.config, cuts)]
            outs = self._submit(ops, 1)
        step = 0
        while True:
            step += 1
            tail: list[tuple] = [("adv", r, step, outs)]
            last = self.bounded and step == self.steps
            if last:
                tail.append(("finish", r))
                if r + 1 < self.n_rounds:
                    tail.append(self._first_op(r + 1))
            ops = [*ops, *tail]
            outs = self._submit(ops, len(tail))
            if last:
                break
            if not self.bounded and step >= self.steps:
                done = self.client.gather(
                    [self.client.submit(_out_done, o, pure=False) for o in outs]
                )
                if all(done):
                    outs = self._submit([*ops, ("finish", r)], 1)
                    break
                # Growth needs more steps than planned (loss-guided without a leaf limit).
                self.steps *= 2
        # Round r + 1 rebuilds from the margins at the start of round r (computed while it
        # grows) and the trees these outputs carry.
        bases = self.bases
        if self.entry is not None:
            bases = [
                (
                    self._task(
                        _margin_task,
                        self.fit_id,
                        p,
                        self.data[p],
                        self.k,
                        self.bases[p],
                        self.entry[p],
                        r,
                    ),
                    r,
                )
                for p in range(len(self.data))
            ]
        trees = self._task(_round_trees, outs[0])
        eval_margins, results = [], []
        for e, (exs, eys, ews, _) in enumerate(self.evals):
            margins = [
                self._task(_update_eval, x, m, trees, self.k)
                for x, m in zip(exs, self.eval_margins[e], strict=True)
            ]
            eval_margins.append(margins)
            results.append(
                self._task(
                    _evaluate, self.config, self.model0, margins, eys, ews, self.eval_groups[e]
                )
            )
        if self.bounded and r + 1 < self.n_rounds:
            self.ahead = (self.version, ops[-1], outs)
        self.bases, self.entry, self.eval_margins = bases, outs, eval_margins
        self.trees.append(trees)
        return self.client.gather(results) if results else []

    def model(self) -> Any:
        rounds = self.client.gather(self.trees)
        model0 = self.client.gather(self.model0)
        # The workers' growth states of this fit are no longer needed; a worker that went
        # away holds none.
        with contextlib.suppress(Exception):
            self.client.run(_forget, self.fit_id)
        flat = [t for r in rounds for t in r]
        return _native.DistConfig.with_trees(model0, [t for t, _ in flat], [g for _, g in flat])


class _DaskMixin:
    """What the Dask estimators add to their single-machine bases."""

    _local_class: type

    def __init__(self, *, client: Any = None, **params: Any) -> None:
        super().__init__(**params)  # type: ignore[call-arg]
        self.client = client

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted([*cls._local_class._get_param_names(), "client"])  # type: ignore[attr-defined]

    def __getstate__(self) -> dict[str, Any]:
        # A client does not pickle; an unpickled estimator uses the current one.
        state = dict(super().__getstate__())  # type: ignore[misc]
        state["client"] = None
        return state

    def _dask_fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        eval_set: Sequence[tuple[Any, Any]] | None,
        sample_weight_eval_set: Sequence[Any] | None,
        verbose: bool | int,
        objective: str,
        num_class: int,
        label: Any,
        qid: Any = None,
        eval_qid: Sequence[Any] | None = None,
    ) -> None:
        client = get_client(self.client)  # type: ignore[attr-defined]
        ranking = objective.startswith("rank:")
        params = self._check_params()  # type: ignore[attr-defined]
        X, categorical, categories = _categorical_input(
            X,
            bool(self.enable_categorical),
            self.feature_types,  # type: ignore[attr-defined]
        )
        if params["tree_method"] == "exact":
            raise ValueError(
                "tree_method='exact' cannot be distributed (it needs every row of a column "
                "at once); use tree_method='hist' or 'approx'"
            )
        metrics = self._metrics(objective)  # type: ignore[attr-defined]
        missing = self.missing  # type: ignore[attr-defined]
        xa = _as_array(X, "X")
        if xa.ndim != 2:
            raise ValueError(f"X must be 2-D, got {xa.ndim} dimension(s)")
        rows = tuple(int(c) for c in xa.chunks[0])
        n_features = int(xa.shape[1])
        if n_features < 1 or sum(rows) < 1:
            raise ValueError(f"X must have at least one row and one column, got {xa.shape}")
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        if self.feature_types is not None and len(self.feature_types) != n_features:  # type: ignore[attr-defined]
            raise ValueError(
                f"feature_types has {len(self.feature_types)} entries, but X has "  # type: ignore[attr-defined]
                f"{n_features} features"
            )
        self._categorical, self._categories = categorical, categories
        ya = _aligned(_as_array(y, "y"), rows, "y")
        submit = client.submit
        xs = [
            submit(_matrix, b, missing, categorical, pure=False)
            for b in client.compute(_row_blocks(xa))
        ]
        ys = [submit(label, b, pure=False) for b in client.compute(_row_blocks(ya))]
        client.gather(
            [
                submit(_check_rows, x, v, i, pure=False)
                for i, (x, v) in enumerate(zip(xs, ys, strict=True))
            ]
        )
        ranks: list[tuple | None] | None = None
        eval_groups: list[NDArray | None] = []
        if ranking:
            ranks, ws, _ = _dask_queries(client, qid, rows, sample_weight, "fit")
        elif sample_weight is None:
            ws = [submit(_weights, None, n, pure=False) for n in rows]
        else:
            wa = _aligned(_as_array(sample_weight, "sample_weight"), rows, "sample_weight")
            ws = [
                submit(_weights, b, n, pure=False)
                for b, n in zip(client.compute(_row_blocks(wa)), rows, strict=True)
            ]
        evals = []
        if eval_set is not None:
            if sample_weight_eval_set is not None and len(sample_weight_eval_set) != len(eval_set):
                raise ValueError("sample_weight_eval_set must have one entry per eval_set entry")
            for i, pair in enumerate(eval_set):
                if len(pair) != 2:
                    raise ValueError("eval_set must be a list of (X, y) pairs")
                ex = _as_array(
                    _eval_codes(pair[0], categorical, categories, f"eval_set[{i}]"),
                    f"eval_set[{i}] X",
                )
                if ex.ndim != 2 or ex.shape[1] != n_features:
                    raise ValueError(
                        f"eval_set[{i}] has {ex.shape[-1]} features, but X has {n_features}"
                    )
                erows = tuple(int(c) for c in ex.chunks[0])
                ey = _aligned(_as_array(pair[1], f"eval_set[{i}] y"), erows, f"eval_set[{i}] y")
                exs = [
                    submit(_matrix, b, missing, categorical, pure=False)
                    for b in client.compute(_row_blocks(ex))
                ]
                eys = [submit(label, b, pure=False) for b in client.compute(_row_blocks(ey))]
                ew_raw = None if sample_weight_eval_set is None else sample_weight_eval_set[i]
                if ranking:
                    eq = None if eval_qid is None else eval_qid[i]
                    _, ews, egroups = _dask_queries(client, eq, erows, ew_raw, f"eval_set[{i}]")
                    eval_groups.append(egroups)
                elif ew_raw is None:
                    ews = [submit(_weights, None, n, pure=False) for n in erows]
                else:
                    ewa = _aligned(_as_array(ew_raw, "eval weights"), erows, "eval weights")
                    ews = [
                        submit(_weights, b, n, pure=False)
                        for b, n in zip(client.compute(_row_blocks(ewa)), erows, strict=True)
                    ]
                evals.append((exs, eys, ews, erows))
        native_params = dict(
            params,
            objective=objective,
            num_class=num_class,
            metrics=metrics,
            monotone_constraints=self._monotone_vector(n_features),  # type: ignore[attr-defined]
            interaction_constraints=self._interaction_sets(n_features),  # type: ignore[attr-defined]
            feature_weights=self._feature_weight_list(n_features),  # type: ignore[attr-defined]
            categorical_features=categorical,
        )
        _check_monotone_categorical(native_params["monotone_constraints"], categorical)
        n_rounds = self._forest_shape()[0]  # type: ignore[attr-defined]
        trainer = _DaskTrainer(
            client,
            native_params,
            xs,
            ys,
            ws,
            rows,
            evals,
            n_features,
            n_rounds,
            ranks,
            eval_groups or None,
        )
        self._train(trainer, metrics, len(evals), verbose, n_features)  # type: ignore[attr-defined]

    def to_local(self) -> Any:
        """The fitted single-machine estimator (:class:`sapwood.GBTRegressor` or
        :class:`sapwood.GBTClassifier`): same parameters and model, no client."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "_model")
        params = self.get_params()  # type: ignore[attr-defined]
        params.pop("client", None)
        local = self._local_class(**params)
        for key, value in self.__dict__.items():
            if (key.endswith("_") and not key.startswith("__")) or key in (
                "_model",
                "_categorical",
                "_categories",
            ):
                setattr(local, key, value)
        return local

    def _sapwood_document(self) -> str:
        # A saved model is the single-machine estimator's: it loads without a cluster.
        return self.to_local()._sapwood_document()

    def _dask_predict(self, X: Any, kind: str, **kw: Any) -> Any:
        """``kind`` (``predict``, ``predict_proba``, ``apply``) of the local model, lazily per
        block for Dask input; the model is sent to the cluster once."""
        local = self.to_local()
        if not _is_dask(X):
            return getattr(local, kind)(X, **kw)
        import dask

        # Categorical columns as the training codes (the blocks reach the model as arrays).
        X = _eval_codes(X, local._categorical_list(), local.__dict__.get("_categories") or {}, "X")
        xa = X if hasattr(X, "map_blocks") else X.to_dask_array()
        if xa.ndim == 2 and len(xa.chunks[1]) > 1:
            xa = xa.rechunk({1: -1})
        try:
            client = get_client(self.client)  # type: ignore[attr-defined]
            est = client.scatter(local, broadcast=False, hash=False)
        except ValueError:
            est = dask.delayed(local, pure=True)
        probe = getattr(local, kind)(np.zeros((1, xa.shape[1]), dtype=xa.dtype), **kw)
        if probe.ndim == 1:
            return xa.map_blocks(
                _predict_block, est, kind, None, kw, dtype=probe.dtype, drop_axis=1
            )
        return xa.map_blocks(
            _predict_block,
            est,
            kind,
            None,
            kw,
            dtype=probe.dtype,
            chunks=(xa.chunks[0], (probe.shape[1],)),
        )

    def apply(self, X: Any, iteration_range: tuple[int, int] | None = None) -> Any:
        """Leaf index of every sample in every tree (a Dask array for Dask input)."""
        return self._dask_predict(X, "apply", iteration_range=iteration_range)


class DaskGBTRegressor(_DaskMixin, GBTRegressor):
    """:class:`sapwood.GBTRegressor` fitted on a Dask cluster.

    The parameters of :class:`sapwood.GBTRegressor` (``tree_method`` ``'hist'`` or
    ``'approx'``; ``'exact'`` is refused), plus ``client``: the ``distributed.Client`` to run
    on (default: the current one). ``fit`` takes Dask arrays or DataFrames (NumPy and pandas too);
    ``predict`` and ``apply`` return Dask arrays for Dask input. :meth:`to_local` gives the
    fitted single-machine estimator; models save, load and export as any sapwood model's.

    Parameters
    ----------
    client : distributed.Client, optional
        The client to run on; by default the current one.
    **params
        As :class:`sapwood.GBTRegressor`.
    """

    _local_class = GBTRegressor

    def fit(  # type: ignore[override]
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
    ) -> DaskGBTRegressor:
        """Fit on the cluster; the arguments of :meth:`sapwood.GBTRegressor.fit`, each a Dask
        collection or an in-memory array."""
        objective = self.objective if self.objective is not None else self._default_objective
        if callable(objective):
            raise ValueError("a custom objective cannot be distributed; use a built-in one")
        if objective in _CLASSIFICATION_OBJECTIVES:
            raise ValueError(
                f"objective {objective!r} is a classification objective; use DaskGBTClassifier"
            )
        if objective not in _REGRESSION_OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}")
        self._dask_fit(
            X,
            y,
            sample_weight,
            eval_set,
            sample_weight_eval_set,
            verbose,
            objective,
            0,
            lambda b: finite_vector(b, "y"),
        )
        return self

    def predict(  # type: ignore[override]
        self, X: Any, output_margin: bool = False, iteration_range: Any = None
    ) -> Any:
        """Predictions (a Dask array for Dask input, computed lazily)."""
        return self._dask_predict(
            X, "predict", output_margin=output_margin, iteration_range=iteration_range
        )


class DaskGBTClassifier(_DaskMixin, GBTClassifier):
    """:class:`sapwood.GBTClassifier` fitted on a Dask cluster.

    The parameters of :class:`sapwood.GBTClassifier` (``tree_method`` ``'hist'`` or
    ``'approx'``), plus
    ``client``. Labels of any type; ``classes_`` are found over every partition.
    ``predict``, ``predict_proba`` and ``apply`` return Dask arrays for Dask input.

    Parameters
    ----------
    client : distributed.Client, optional
        The client to run on; by default the current one.
    **params
        As :class:`sapwood.GBTClassifier`.
    """

    _local_class = GBTClassifier

    def fit(  # type: ignore[override]
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
    ) -> DaskGBTClassifier:
        """Fit on the cluster; the arguments of :meth:`sapwood.GBTClassifier.fit`, each a Dask
        collection or an in-memory array."""
        ya = _as_array(y, "y")
        client = get_client(self.client)
        blocks = client.compute([_labels_of(b) for b in _row_blocks(ya)])
        classes = np.unique(np.concatenate(client.gather(blocks)))
        check_classification_targets(classes)
        encoder = LabelEncoder().fit(classes)
        self.classes_ = encoder.classes_
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(
                f"DaskGBTClassifier needs at least 2 classes in y, got {self.n_classes_}"
            )
        objective = self.objective
        if callable(objective):
            raise ValueError("a custom objective cannot be distributed; use a built-in one")
        if objective is None:
            objective = "binary:logistic" if self.n_classes_ == 2 else "multi:softprob"
        if objective not in _CLASSIFICATION_OBJECTIVES:
            raise ValueError(f"unknown classification objective {objective!r}")
        objective, num_class = _classification_shape(objective, self.n_classes_)
        classes_ = self.classes_
        self._dask_fit(
            X,
            ya,
            sample_weight,
            eval_set,
            sample_weight_eval_set,
            verbose,
            objective,
            num_class,
            lambda b: _codes(b, classes_),
        )
        return self

    def predict(  # type: ignore[override]
        self, X: Any, output_margin: bool = False, iteration_range: Any = None
    ) -> Any:
        """Class labels (a Dask array for Dask input, computed lazily)."""
        return self._dask_predict(
            X, "predict", output_margin=output_margin, iteration_range=iteration_range
        )

    def predict_proba(self, X: Any, iteration_range: Any = None) -> Any:  # type: ignore[override]
        """Class probabilities (a Dask array for Dask input, computed lazily)."""
        return self._dask_predict(X, "predict_proba", iteration_range=iteration_range)


class DaskGBTRanker(_DaskMixin, GBTRanker):
    """:class:`sapwood.GBTRanker` fitted on a Dask cluster.

    The parameters of :class:`sapwood.GBTRanker` (``tree_method`` ``'hist'`` or ``'approx'``;
    ``lambdarank_unbiased`` is refused, its position biases being learnt over every query at
    once), plus ``client``. ``fit`` takes the query ids as ``qid`` (a Dask array or Series
    partitioned like ``X``) or as a ``qid`` column of a Dask DataFrame: sorted, with every
    query inside one partition (a sorted frame indexed by ``qid`` is). The model equals the
    single-machine one. ``predict`` returns a Dask array for Dask input.

    Parameters
    ----------
    client : distributed.Client, optional
        The client to run on; by default the current one.
    **params
        As :class:`sapwood.GBTRanker`.
    """

    _local_class = GBTRanker

    def fit(  # type: ignore[override]
        self,
        X: Any,
        y: Any,
        *,
        qid: Any = None,
        sample_weight: Any = None,
        eval_set: Sequence[tuple[Any, Any]] | None = None,
        eval_qid: Sequence[Any] | None = None,
        sample_weight_eval_set: Sequence[Any] | None = None,
        verbose: bool | int = False,
    ) -> DaskGBTRanker:
        """Fit on the cluster; the arguments of :meth:`sapwood.GBTRanker.fit` (``qid``, not
        ``group``; ``sample_weight`` one weight a query), each a Dask collection or an
        in-memory array."""
        objective = self._objective()
        X, qid = split_qid(X, qid, "fit")
        evals, eval_qids = None, None
        if eval_set is not None:
            if eval_qid is not None and len(eval_qid) != len(eval_set):
                raise ValueError("eval_qid must have one entry per eval_set entry")
            evals, eval_qids = [], []
            for i, pair in enumerate(eval_set):
                if len(pair) != 2:
                    raise ValueError("eval_set must be a list of (X, y) pairs")
                ex, eq = split_qid(
                    pair[0], None if eval_qid is None else eval_qid[i], f"eval_set[{i}]"
                )
                evals.append((ex, pair[1]))
                eval_qids.append(eq)
        elif eval_qid is not None:
            raise ValueError("eval_qid needs eval_set")
        self._dask_fit(
            X,
            y,
            sample_weight,
            evals,
            sample_weight_eval_set,
            verbose,
            objective,
            0,
            lambda b: finite_vector(b, "y"),
            qid=qid,
            eval_qid=eval_qids,
        )
        return self

    def predict(  # type: ignore[override]
        self, X: Any, output_margin: bool = False, iteration_range: Any = None
    ) -> Any:
        """Scores (a Dask array for Dask input, computed lazily)."""
        X, _ = split_qid(X, None, "predict")
        return self._dask_predict(
            X, "predict", output_margin=output_margin, iteration_range=iteration_range
        )
