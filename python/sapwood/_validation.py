"""The one place where user input is checked and converted.

Estimators call these helpers (and scikit-learn's ``validate_data``); they never re-implement
the checks. Floating-point arrays keep float32 as float32; everything else becomes float64.
Arrays come out C-contiguous, so the Rust core sees plain slices.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

FLOAT_DTYPES = (np.float64, np.float32)

# The largest seed the engines take (a u64 on the Rust side; numpy's legacy seeds are u32).
_MAX_SEED = 2**32 - 1


def check_n_jobs(n_jobs: Any) -> int | None:
    """Validate scikit-learn's ``n_jobs``: ``None``, or a non-zero integer."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be None or an int, got {type(n_jobs).__name__}")
    if n_jobs == 0:
        raise ValueError(
            "n_jobs == 0 has no meaning: use None or -1 for all cores, or a positive count"
        )
    return int(n_jobs)


def seed_from_random_state(random_state: Any) -> int:
    """Turn ``random_state`` (None, an int or a ``RandomState``/``Generator``) into a seed.

    ``None`` gives seed 0, so that, as in XGBoost, an unseeded model is still reproducible.
    """
    if random_state is None:
        return 0
    if isinstance(random_state, bool):
        raise TypeError("random_state must be None, an int or a numpy random generator")
    if isinstance(random_state, numbers.Integral):
        if not 0 <= int(random_state) <= _MAX_SEED:
            raise ValueError(f"random_state must be in [0, {_MAX_SEED}], got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(0, _MAX_SEED))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, _MAX_SEED))
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or Generator, "
        f"got {type(random_state).__name__}"
    )


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any = np.float64) -> NDArray:
    """Validate per-row weights: 1-D, one per row, finite and non-negative; ``None`` gives ones."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    weights = np.ascontiguousarray(sample_weight, dtype=dtype)
    if weights.ndim == 0:
        return np.full(n_samples, float(weights), dtype=dtype)
    if weights.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got an array of shape {weights.shape}")
    if weights.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {weights.shape[0]} entries, but X has {n_samples} rows"
        )
    if not np.all(np.isfinite(weights)):
        raise ValueError("sample_weight contains NaN or infinity")
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative; negative weights were given")
    return weights


def float_dtype_of(X: Any) -> type:
    """float32 for float32 input, float64 for everything else."""
    dtype = getattr(X, "dtype", None)
    return np.float32 if dtype == np.float32 else np.float64


def as_native_matrix(X: Any) -> Any:
    """Hand a validated 2-D matrix to the Rust core without copying when possible.

    Dense float32/float64 arrays pass as C-contiguous arrays (NaN = missing). Sparse
    matrices pass as a CSR tuple ``(indptr int64, indices int32, data float32, n_cols)``,
    where absent entries are missing values.
    """
    if sp.issparse(X):
        csr = X.tocsr()
        return (
            np.ascontiguousarray(csr.indptr, dtype=np.int64),
            np.ascontiguousarray(csr.indices, dtype=np.int32),
            np.ascontiguousarray(csr.data, dtype=np.float32),
            int(csr.shape[1]),
        )
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    return np.ascontiguousarray(X, dtype=dtype)
