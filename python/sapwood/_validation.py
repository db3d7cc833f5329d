"""The one place where user input is checked and converted.

Estimators call these helpers (and scikit-learn's ``validate_data``); they never re-implement
the checks. Floating-point arrays keep float32 as float32; everything else becomes float64.

Whatever users pass -- NumPy arrays in any layout (Fortran order, strided views, read-only,
memmaps, big-endian, or C-contiguous but unaligned, as pickle-5 buffers from Dask workers and
views into shared memory or Arrow buffers are), pandas frames (nullable ``Float64``/``Int64``
columns with ``pd.NA`` as missing), polars and pyarrow tables, SciPy sparse matrices -- leaves
here as what the Rust core reads in place: a C-contiguous, aligned, native-byte-order buffer
(:func:`native_array`). An array that already is one passes through without a copy; anything
else is copied once.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


# --------------------------------------------------------------------------- parameters
# Each estimator declares its parameters once, in a table ``_constraints`` mapping every
# constructor parameter to what it accepts (scikit-learn's ``_parameter_constraints`` is the
# model), and checks them once, at fit, with :func:`check_params`. A parameter whose check
# depends on other parameters or on the data (an objective against the estimator's kind, a
# Minkowski ``p`` against the metric) maps to ``None`` here and is checked by the estimator
# where that is known. What reaches the Rust core has been checked here; the core's own
# ``validate()`` still rejects bad values for its other callers.


@dataclass(frozen=True)
class Integer:
    """An int (never a bool, unless ``bools``) in ``[low, high]``, or one of ``also`` as it is.

    Another type is a ``TypeError`` (``"max_depth must be an int, got float"``), a value out of
    range a ``ValueError`` stating the range (``shown``, or ``"in [low, high]"`` / ``">= low"``).
    With ``message``, every rejection is that ``ValueError`` instead.
    """

    low: int
    high: int | None = None
    shown: str = ""
    also: tuple[Any, ...] = ()
    bools: bool = False
    message: str = ""

    def check(self, name: str, value: Any) -> Any:
        if _is_one_of(value, self.also):
            return value
        if (isinstance(value, bool) and not self.bools) or not isinstance(value, numbers.Integral):
            _reject(self.message, name, value)
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < self.low or (self.high is not None and value > self.high):
            _reject(self.message, name, value)
            shown = self.shown or (
                f">= {self.low}" if self.high is None else f"in [{self.low}, {self.high}]"
            )
            raise ValueError(f"{name} must be {shown}, got {value}")
        return int(value)


@dataclass(frozen=True)
class Real:
    """A finite number (never a bool, unless ``bools``) in ``[low, high]``, either end open,
    or one of ``also`` as it is.

    Another type is a ``TypeError`` (``"gamma must be a number, got str"``), a value out of
    range or not finite a ``ValueError`` (``"subsample must be in (0, 1], got 1.5"``). With
    ``message``, every rejection is that ``ValueError`` instead.
    """

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    also: tuple[Any, ...] = ()
    bools: bool = False
    message: str = ""

    def check(self, name: str, value: Any) -> Any:
        if _is_one_of(value, self.also):
            return value
        if (isinstance(value, bool) and not self.bools) or not isinstance(value, numbers.Real):
            _reject(self.message, name, value)
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        v = float(value)
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        if not (math.isfinite(v) and above and below):
            _reject(self.message, name, value)
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            raise ValueError(
                f"{name} must be in {left}{self.low}, {self.high}{right}, got {value!r}"
            )
        return v


@dataclass(frozen=True)
class Options:
    """One of ``values`` (``None`` among them by identity, the rest by equality), or any
    callable when ``callables``. Anything else is a ``ValueError`` with ``message``, formatted
    with the parameter's ``name`` and ``value``."""

    values: tuple[Any, ...]
    message: str
    callables: bool = False

    def check(self, name: str, value: Any) -> Any:
        if _is_one_of(value, self.values) or (self.callables and callable(value)):
            return value
        raise ValueError(self.message.format(name=name, value=value))


@dataclass(frozen=True)
class Unset:
    """Anything empty (``None``, ``{}``); anything else is a ``ValueError`` with ``message``.
    For parameters kept for scikit-learn's signature that sapwood does not use."""

    message: str

    def check(self, name: str, value: Any) -> Any:
        if value:
            raise ValueError(self.message.format(name=name, value=value))
        return value


@dataclass(frozen=True)
class Checked:
    """A value that ``function`` checks and converts (the shared checks below, such as
    :func:`check_n_jobs`, which raise their own messages)."""

    function: Callable[[Any], Any]

    def check(self, name: str, value: Any) -> Any:
        return self.function(value)


Constraint = Integer | Real | Options | Unset | Checked
# A constraint that depends on parameters checked before it in the same table (``max_depth``'s
# range depends on ``tree_method``): called with their checked values.
Dependent = Callable[[Mapping[str, Any]], Constraint]


def check_params(estimator: Any) -> dict[str, Any]:
    """Check every parameter of ``estimator`` against its class's ``_constraints`` table, in
    the table's order, and return the checked values, converted (ints as ``int``, numbers as
    ``float``, seeds and thread counts as the engines take them). Parameters that map to
    ``None`` are returned unchecked (their estimator checks them where it has what they depend
    on)."""
    table: Mapping[str, Constraint | Dependent | None] = type(estimator)._constraints
    out: dict[str, Any] = {}
    for name, entry in table.items():
        value = getattr(estimator, name)
        if entry is None:
            out[name] = value
            continue
        constraint = entry if hasattr(entry, "check") else entry(out)  # type: ignore[operator]
        out[name] = constraint.check(name, value)  # type: ignore[union-attr]
    return out


def _is_one_of(value: Any, values: tuple[Any, ...]) -> bool:
    # Identity for None and other singletons, equality for strings only: comparing arbitrary
    # objects (arrays) with == is neither cheap nor always a bool.
    return any(value is v or (isinstance(value, str) and value == v) for v in values)


def _reject(message: str, name: str, value: Any) -> None:
    if message:
        raise ValueError(message.format(name=name, value=value))


def finite_vector(values: Any, what: str) -> NDArray:
    """``values`` as a flat float32 vector; a ``ValueError`` naming ``what`` for NaN or
    infinity."""
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinity")
    return native_array(a, dtype=np.float32)


def check_sample_weight(sample_weight: Any, n_samples: int, dtype: Any = np.float64) -> NDArray:
    """Validate per-row weights: 1-D, one per row, finite and non-negative; ``None`` gives ones."""
    if sample_weight is None:
        return np.ones(n_samples, dtype=dtype)
    weights = native_array(sample_weight, dtype=dtype)
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


def is_native_layout(arr: NDArray) -> bool:
    """Whether the core can read ``arr``'s buffer as it is: C-contiguous, aligned, native order."""
    flags = arr.flags
    return bool(flags.c_contiguous and flags.aligned and arr.dtype.isnative)


def native_array(a: Any, dtype: Any = None) -> NDArray:
    """``a`` as an ndarray that the Rust core reads in place, copying only when it must.

    The result is C-contiguous, aligned and in native byte order, of ``dtype`` when one is
    given. An array that already has that layout and dtype is returned as it is (the same
    object, never a copy); an unaligned, strided, Fortran-ordered or byte-swapped one is
    copied once. Read-only arrays and memmaps are read in place.
    """
    arr = np.asarray(a) if dtype is None else np.asarray(a, dtype=dtype)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if not is_native_layout(arr):
        # A fresh copy is always C-contiguous and aligned.
        arr = np.array(arr, order="C", copy=True)
    return arr


def densify(X: Any) -> Any:
    """A SciPy sparse matrix or array as a dense ndarray (absent entries are zeros).

    For the engines that index dense coordinates (kd-trees, Boruta's forest); other input is
    returned unchanged.
    """
    if sp.issparse(X):
        return X.toarray()
    return X


def to_numeric_array(x: Any, what: str) -> NDArray:
    """Any array-like as a numeric ndarray, keeping its shape.

    NumPy input is taken as it is; pandas frames and series (missing values of nullable
    columns, ``pd.NA``, become NaN), polars frames and series, pyarrow tables and arrays and
    SciPy sparse matrices (densified) are converted. Complex data is a ``TypeError``; a
    non-numeric dtype that cannot be read as float64 is a ``TypeError`` naming ``what``.
    """
    if isinstance(x, np.ndarray):
        arr = x
    elif sp.issparse(x):
        arr = x.toarray()
    elif _is_dataframe_like(x):
        arr = _frame_to_numpy(x)
    else:
        arr = np.asarray(x)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind == "c":
        raise TypeError(f"{what} must be real-valued; complex data is not supported")
    if arr.dtype.kind not in "biuf":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}") from exc
    return arr


def _is_dataframe_like(x: Any) -> bool:
    module = type(x).__module__.split(".")[0]
    return module in ("pandas", "polars", "pyarrow")


def _frame_to_numpy(x: Any) -> NDArray:
    """A pandas/polars/pyarrow table, series or array as a float ndarray (missing = NaN)."""
    module = type(x).__module__.split(".")[0]
    if module == "pyarrow":
        if hasattr(x, "columns"):  # Table / RecordBatch: one column at a time
            columns = [_arrow_to_numpy(c) for c in x.columns]
            if not columns:
                return np.empty((x.num_rows, 0))
            return np.column_stack(columns)
        return _arrow_to_numpy(x)
    if module == "pandas":
        dtypes = [x.dtype] if x.ndim == 1 else list(x.dtypes)
        dtype = np.float32 if dtypes and all(d == np.float32 for d in dtypes) else np.float64
        try:
            return x.to_numpy(dtype=dtype, na_value=np.nan)
        except (TypeError, ValueError):
            return x.to_numpy()
    return np.asarray(x.to_numpy())


def _arrow_to_numpy(column: Any) -> NDArray:
    import pyarrow as pa

    if column.null_count and pa.types.is_integer(column.type):
        column = column.cast(pa.float64())
    values = column.to_numpy(zero_copy_only=False)
    if column.null_count and values.dtype.kind == "f":
        values = np.where(_arrow_valid(column), values, np.nan)
    return np.asarray(values)


def _arrow_valid(column: Any) -> NDArray:
    import pyarrow.compute as pc

    return np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)


def float_dtype_of(X: Any) -> type:
    """float32 for float32 input, float64 for everything else."""
    dtype = getattr(X, "dtype", None)
    return np.float32 if dtype == np.float32 else np.float64


def as_native_matrix(X: Any) -> Any:
    """Hand a validated 2-D matrix to the Rust core without copying when possible.

    Dense float32/float64 arrays pass as C-contiguous, aligned arrays (NaN = missing), the
    input itself when it already is one. Sparse
    matrices pass as a CSR tuple ``(indptr int64, indices int32, data float32, n_cols)``
    in canonical form (each row's columns sorted, duplicates summed), where absent entries
    are missing values.
    """
    if sp.issparse(X):
        csr = X.tocsr()
        if not csr.has_canonical_format:
            # The core looks a row's entries up by column: they must be sorted, and a
            # duplicated entry means their sum (scipy's reading). The caller's matrix is left
            # as it was.
            csr = csr.copy()
            csr.sum_duplicates()
        return (
            native_array(csr.indptr, dtype=np.int64),
            native_array(csr.indices, dtype=np.int32),
            native_array(csr.data, dtype=np.float32),
            int(csr.shape[1]),
        )
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    return native_array(X, dtype=dtype)
