"""Categorical features: which features are categorical, their codes, and the recoding of a
frame at prediction by category value.

A categorical feature reaches the engine as category codes (``0, 1, ...``; NaN = missing), as
XGBoost takes them. A pandas ``category`` column (also a polars ``Categorical``/``Enum`` or a
pyarrow dictionary column, read through pandas) gives its codes, and its categories are kept
with the model: at prediction a frame whose column lists the categories in another order, or
only some of them, is recoded by value, so that a category keeps the code it had in training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

# XGBoost's feature types: "c" is categorical, the others numeric.
_FEATURE_TYPES = ("q", "c", "int", "float", "i")
# Category codes must be below this (XGBoost's limit: 2^24).
MAX_CATEGORY = 1 << 24


def check_feature_types(value: Any) -> Any:
    """``feature_types``: None, or one of XGBoost's type names per feature."""
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise ValueError(
            f"feature_types must be None or a list of type names, got {type(value).__name__}"
        )
    for i, t in enumerate(value):
        if t not in _FEATURE_TYPES:
            raise ValueError(
                f"feature_types[{i}] = {t!r:.40} is not one of {', '.join(_FEATURE_TYPES)}"
            )
    return value


def _as_pandas(X: Any) -> Any:
    """A polars or pyarrow frame as a pandas one (their categorical columns become pandas
    ``category`` columns); anything else unchanged."""
    module = type(X).__module__.split(".")[0]
    if module == "polars" and type(X).__name__ == "DataFrame":
        return X.to_pandas()
    if module == "pyarrow" and type(X).__name__ in ("Table", "RecordBatch"):
        return X.to_pandas()
    return X


def _is_pandas_frame(X: Any) -> bool:
    return type(X).__module__.split(".")[0] == "pandas" and type(X).__name__ == "DataFrame"


def _is_categorical_dtype(dtype: Any) -> bool:
    import pandas as pd

    return isinstance(dtype, pd.CategoricalDtype)


def _plain(values: Any) -> list[Any]:
    """Categories as plain Python values (for JSON and pickles)."""
    return [v.item() if isinstance(v, np.generic) else v for v in list(values)]


def _codes_as_float(codes: Any) -> np.ndarray:
    # float32 holds every valid code (below 2^24) exactly, and keeps a float32 frame float32.
    out = np.asarray(codes, dtype=np.float32)
    out[out < 0] = np.nan
    return out


def _column_name(X: Any, i: int) -> str:
    return repr(str(X.columns[i])) if _is_pandas_frame(X) else f"{i}"


def encode_fit(
    X: Any, enable_categorical: bool, feature_types: Sequence[str] | None
) -> tuple[Any, list[int], dict[int, list[Any]]]:
    """The training ``X`` with its categorical columns as codes; the categorical features
    (the frame's categorical columns, and those ``feature_types`` marks ``"c"``); and the
    categories of each categorical column of a frame."""
    if enable_categorical:
        X = _as_pandas(X)
    frame_cats: list[int] = []
    if _is_pandas_frame(X):
        frame_cats = [i for i, dt in enumerate(X.dtypes) if _is_categorical_dtype(dt)]
    marked = [] if feature_types is None else [i for i, t in enumerate(feature_types) if t == "c"]
    if (frame_cats or marked) and not enable_categorical:
        where = (
            f"X has categorical columns ({', '.join(_column_name(X, i) for i in frame_cats[:5])})"
            if frame_cats
            else "feature_types marks categorical features"
        )
        raise ValueError(
            f"{where}; pass enable_categorical=True to split on them by category, or encode "
            "them as numbers"
        )
    n_features = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
    if feature_types is not None and n_features is not None and len(feature_types) != n_features:
        raise ValueError(
            f"feature_types has {len(feature_types)} entries, but X has {n_features} features"
        )
    categories: dict[int, list[Any]] = {}
    if frame_cats:
        X = X.copy(deep=False)
        for i in frame_cats:
            col = X.iloc[:, i]
            categories[i] = _plain(col.cat.categories)
            X.isetitem(i, _codes_as_float(col.cat.codes.to_numpy()))
    return X, sorted(set(frame_cats) | set(marked)), categories


def encode_predict(X: Any, categorical: Sequence[int], categories: Mapping[int, list[Any]]) -> Any:
    """``X`` for prediction, its categorical columns recoded to the training codes: a
    column whose categories the model knows is mapped by category value (a category the
    model never saw is a ``ValueError``); other categorical columns give their own codes."""
    if not categorical and not _is_pandas_frame(X):
        module = type(X).__module__.split(".")[0]
        if module not in ("polars", "pyarrow"):
            return X
    X = _as_pandas(X) if categorical else X
    if not _is_pandas_frame(X):
        return X
    import pandas as pd

    cat_set = set(categorical)
    recode: dict[int, np.ndarray] = {}
    for i, dt in enumerate(X.dtypes):
        if i >= X.shape[1]:
            break
        is_cat = _is_categorical_dtype(dt)
        if not is_cat and not (i in categories and pd.api.types.is_string_dtype(dt)):
            continue
        if i not in cat_set:
            raise ValueError(
                f"column {_column_name(X, i)} is categorical, but the model was trained on "
                "it as a number"
            )
        col = X.iloc[:, i]
        known = categories.get(i)
        if known is None:
            recode[i] = _codes_as_float(col.cat.codes.to_numpy())
            continue
        index = pd.Index(known)
        if is_cat:
            mapping = index.get_indexer(col.cat.categories)
            codes = col.cat.codes.to_numpy()
            new = np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1)
            unseen = (codes >= 0) & (new < 0)
        else:
            new = pd.Categorical(col, categories=index).codes
            unseen = col.notna().to_numpy() & (new < 0)
        if unseen.any():
            values = pd.unique(np.asarray(col, dtype=object)[unseen])[:5]
            raise ValueError(
                f"column {_column_name(X, i)} holds categories the model was not trained on: "
                f"{', '.join(repr(v) for v in values)}"
            )
        recode[i] = _codes_as_float(new)
    if recode:
        X = X.copy(deep=False)
        for i, codes in recode.items():
            X.isetitem(i, codes)
    return X


def check_codes(X: Any, categorical: Sequence[int], names: Any = None) -> None:
    """Every present value of a categorical feature of the validated ``X`` is a category
    code: an integer from 0 to 2^24 - 1."""
    if not categorical:
        return
    csc = X.tocsc() if sp.issparse(X) else None
    for f in categorical:
        if f >= X.shape[1]:
            raise ValueError(f"categorical feature {f} is beyond X's {X.shape[1]} features")
        col = csc[:, [f]].data if csc is not None else X[:, f]
        col = col[~np.isnan(col)]
        bad = col[(col < 0) | (col >= MAX_CATEGORY) | (col != np.floor(col))]
        if bad.size:
            name = f"{names[f]!r} ({f})" if names is not None else f"{f}"
            raise ValueError(
                f"feature {name} is categorical, but holds {float(bad[0])!r}: category codes "
                f"must be integers from 0 to {MAX_CATEGORY - 1} (NaN for missing)"
            )
