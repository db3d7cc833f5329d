"""Query groups for learning to rank: ``qid`` and ``group`` as row offsets, the ``qid``
column of a DataFrame, and per-query weights as per-row ones."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sapwood._validation import _is_dataframe_like

RANK_OBJECTIVES = ("rank:ndcg", "rank:pairwise", "rank:map")
_RANK_METRIC = re.compile(r"(ndcg|map|pre)(@[1-9][0-9]{0,9})?-?")


def is_rank_metric(name: str) -> bool:
    """Whether ``name`` is a ranking metric: ``ndcg``, ``map`` or ``pre``, optionally
    truncated (``@k``) and with ``-`` (a query without relevant documents scores 0)."""
    return _RANK_METRIC.fullmatch(name) is not None


def split_qid(X: Any, qid: Any, what: str) -> tuple[Any, Any]:
    """``X`` without its ``qid`` column (a DataFrame's special column, as XGBRanker reads
    it) and the query ids, from that column or from ``qid``."""
    if _is_dataframe_like(X) and "qid" in getattr(X, "columns", ()):
        if qid is not None:
            raise ValueError(
                f"{what}: X has a 'qid' column and qid is given too; give the query ids once"
            )
        return X.drop(columns="qid"), np.asarray(X["qid"])
    return X, qid


def group_offsets(n: int, qid: Any, group: Any, what: str, *, required: bool) -> NDArray:
    """The query groups of ``n`` rows as int64 offsets (``o[q]:o[q + 1]`` are the rows of
    query ``q``), from per-row query ids (sorted, as XGBoost requires) or group sizes; one
    query of every row when neither is given and ``required`` is false."""
    if qid is not None and group is not None:
        raise ValueError(f"{what}: give qid or group, not both")
    if qid is None and group is None:
        if required:
            raise ValueError(
                f"{what}: learning to rank needs the query of each row: pass qid= (one query "
                "id a row, sorted) or group= (the size of each query), or a 'qid' column in X"
            )
        return np.array([0, n], dtype=np.int64)
    if qid is not None:
        q = np.asarray(qid)
        if q.ndim != 1:
            q = q.reshape(-1) if q.ndim == 2 and 1 in q.shape else q
        if q.ndim != 1 or q.shape[0] != n:
            raise ValueError(f"{what}: qid has {q.size} entries, but X has {n} rows")
        if q.dtype.kind not in "iub":
            qf = np.asarray(q, dtype=np.float64)
            if not np.all(np.isfinite(qf)) or np.any(qf != np.floor(qf)):
                raise ValueError(f"{what}: qid must hold integers")
            q = qf.astype(np.int64)
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
    if sizes.dtype.kind not in "iu":
        sf = np.asarray(sizes, dtype=np.float64)
        if not np.all(np.isfinite(sf)) or np.any(sf != np.floor(sf)):
            raise ValueError(f"{what}: group must hold integer query sizes")
        sizes = sf.astype(np.int64)
    if np.any(sizes < 0):
        raise ValueError(f"{what}: group sizes must be non-negative")
    if int(sizes.sum()) != n:
        raise ValueError(
            f"{what}: the group sizes add up to {int(sizes.sum())}, but X has {n} rows"
        )
    return np.r_[0, np.cumsum(sizes)].astype(np.int64)


def row_weights(sample_weight: Any, offsets: NDArray, what: str) -> NDArray | None:
    """Per-query weights (one a query, as XGBRanker takes them) repeated over each query's
    rows; ``None`` for none."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    n_groups = offsets.shape[0] - 1
    if w.shape[0] != n_groups:
        raise ValueError(
            f"{what}: sample_weight has {w.shape[0]} entries, but there are {n_groups} queries; "
            "ranking weighs queries, not rows: give one weight a query"
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError(f"{what}: sample_weight must be finite and non-negative")
    return np.repeat(w, np.diff(offsets))
