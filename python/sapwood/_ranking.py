"""Query groups for learning to rank: ``qid`` and ``group`` as row offsets, the ``qid``
column of a DataFrame, and per-query weights as per-row ones."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

RANK_OBJECTIVES = ("rank:ndcg", "rank:pairwise", "rank:map")
_RANK_METRIC = re.compile(r"(ndcg|map|pre)(@[1-9][0-9]{0,9})?-?")


def is_rank_metric(name: str) -> bool:
    """Whether ``name`` is a ranking metric: ``ndcg``, ``map`` or ``pre``, optionally
    truncated (``@k``) and with ``-`` (a query without relevant documents scores 0)."""
    return _RANK_METRIC.fullmatch(name) is not None


def split_qid(X: Any, qid: Any, what: str) -> tuple[Any, Any]:
    """``X`` without its ``qid`` column (a data frame's special column, as XGBRanker reads
    it; pandas or Dask) and the query ids, from that column or from ``qid``."""
    columns = getattr(X, "columns", None)
    if columns is None or "qid" not in columns:
        return X, qid
    if qid is not None:
        raise ValueError(
            f"{what}: X has a 'qid' column and qid is given too; give the query ids once"
        )
    return X.drop(columns="qid"), X["qid"]


def _whole_numbers(values: NDArray, message: str) -> NDArray:
    """``values`` as int64; ``ValueError(message)`` unless they are whole numbers."""
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    as_float = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(as_float)) or np.any(as_float != np.floor(as_float)):
        raise ValueError(message)
    return as_float.astype(np.int64)


def group_offsets(n: int, qid: Any, group: Any, what: str) -> NDArray:
    """The query groups of ``n`` rows as int64 offsets (``o[q]:o[q + 1]`` are the rows of
    query ``q``), from per-row query ids (sorted, as XGBoost requires) or group sizes; one
    query of every row when neither is given."""
    if qid is not None and group is not None:
        raise ValueError(f"{what}: give qid or group, not both")
    if qid is None and group is None:
        return np.array([0, n], dtype=np.int64)
    if qid is not None:
        q = np.asarray(qid)
        if q.ndim == 2 and 1 in q.shape:
            q = q.reshape(-1)
        if q.ndim != 1 or q.shape[0] != n:
            raise ValueError(f"{what}: qid has {q.size} entries, but X has {n} rows")
        q = _whole_numbers(q, f"{what}: qid must hold integers")
        if n and np.any(q[1:] < q[:-1]):
            i = int(np.argmax(q[1:] < q[:-1])) + 1
            raise ValueError(
                f"{what}: qid must be sorted in non-decreasing order along with the rows "
                f"(row {i} has qid {q[i]} after {q[i - 1]}), as XGBoost requires; sort X, y "
                "and qid by qid first, e.g. with order = np.argsort(qid, kind='stable')"
            )
        starts = np.flatnonzero(np.r_[True, q[1:] != q[:-1]]) if n else np.array([], int)
        return np.r_[starts, n].astype(np.int64)
    sizes = np.asarray(group)
    if sizes.ndim != 1:
        raise ValueError(f"{what}: group must be a 1-D array of query sizes")
    sizes = _whole_numbers(sizes, f"{what}: group must hold integer query sizes")
    if np.any(sizes < 0):
        raise ValueError(f"{what}: group sizes must be non-negative")
    if int(sizes.sum()) != n:
        raise ValueError(
            f"{what}: the group sizes add up to {int(sizes.sum())}, but X has {n} rows"
        )
    return np.r_[0, np.cumsum(sizes)].astype(np.int64)


def query_weights(sample_weight: Any, n_queries: int, what: str) -> NDArray | None:
    """Per-query weights (one a query, as XGBRanker takes them) as float64, checked;
    ``None`` for none."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != n_queries:
        raise ValueError(
            f"{what}: sample_weight has {w.shape[0]} entries, but there are {n_queries} "
            "queries; ranking weighs queries, not rows: give one weight a query"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{what}: sample_weight must be finite and non-negative")
    return w


def row_weights(sample_weight: Any, offsets: NDArray, what: str) -> NDArray | None:
    """Per-query weights repeated over each query's rows; ``None`` for none."""
    w = query_weights(sample_weight, offsets.shape[0] - 1, what)
    return None if w is None else np.repeat(w, np.diff(offsets))
