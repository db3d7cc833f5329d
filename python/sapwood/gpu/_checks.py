"""Input checks shared by the NumPy and CuPy paths of :mod:`sapwood.gpu`."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

#: dtypes the kernels take, by name (``bfloat16`` is the ``ml_dtypes`` type NumPy and CuPy use).
ROW_DTYPES = ("float32", "float16", "bfloat16")
GEMV_DTYPES = ("float32", "float16")


def is_cupy(x: Any) -> bool:
    """Whether ``x`` is a CuPy array (without importing CuPy when it is not)."""
    return type(x).__module__.split(".", 1)[0] == "cupy" and hasattr(x, "data")


def as_array(x: Any, name: str) -> Any:
    """Return a NumPy or CuPy array; anything else goes through ``np.asarray``."""
    if is_cupy(x) or isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except Exception as exc:
        raise TypeError(f"{name} must be a NumPy or CuPy array, got {type(x).__name__}") from exc


def same_kind(x: Any, other: Any, xname: str, oname: str) -> None:
    """Both arrays on the host, or both on the GPU."""
    if is_cupy(x) != is_cupy(other):
        where = "a CuPy (GPU)" if is_cupy(x) else "a NumPy (host)"
        raise TypeError(f"{oname} must be {where} array like {xname}, got {type(other).__name__}")


def check_dtype(x: Any, allowed: tuple[str, ...], name: str) -> str:
    """The dtype name of ``x`` if the kernels take it, else a TypeError naming the choices."""
    dtype = np.dtype(x.dtype)
    if dtype.name not in allowed:
        raise TypeError(
            f"{name} has dtype {dtype.name}; supported dtypes are {', '.join(allowed)} "
            f"(convert with .astype(numpy.float32))"
        )
    return dtype.name


def normalize_axis(axis: Any, ndim: int) -> int:
    """A non-negative axis index, or ValueError/TypeError."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int, got {type(axis).__name__}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an array of dimension {ndim}")
    return axis % ndim


def check_eps(eps: Any) -> float:
    """``eps`` as a float: finite and non-negative."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"eps must be a float, got {type(eps).__name__}")
    eps = float(eps)
    if not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    return eps


def check_affine(param: Any, x: Any, name: str) -> Any:
    """A weight or bias: None, or a 1-D array of length ``x.shape[-1]``, cast to x's dtype."""
    if param is None:
        return None
    param = as_array(param, name)
    same_kind(x, param, "x", name)
    if param.ndim != 1 or param.shape[0] != x.shape[-1]:
        raise ValueError(
            f"{name} must have shape ({x.shape[-1]},) to match the last axis of x, "
            f"got {tuple(param.shape)}"
        )
    if (
        not np.issubdtype(np.dtype(param.dtype), np.floating)
        and np.dtype(param.dtype).name not in ROW_DTYPES
    ):
        raise TypeError(f"{name} must be a floating-point array, got dtype {param.dtype}")
    return param.astype(x.dtype, copy=False)
