"""GPU kernels for inference building blocks, with a NumPy path on the host.

Every function takes a CuPy array (the kernel from ``cuda/`` runs on its GPU) or a NumPy array
(a NumPy implementation with the same semantics runs on the host) and returns the same kind of
array, in the input's dtype. The kernels accumulate in float32; fp16 and bf16 (``ml_dtypes``)
inputs are supported, as is any memory layout (non-contiguous input is handled).

======================  ==================================================================
function                what
======================  ==================================================================
:func:`softmax`         ``exp(x - max) / sum`` along an axis; an all ``-inf`` row gives 0
:func:`log_softmax`     ``x - max - log(sum)``; an all ``-inf`` row gives ``-inf``
:func:`rms_norm`        ``x / sqrt(mean(x**2) + eps) * weight`` over the last axis
:func:`layer_norm`      ``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis
:func:`gemv`            ``W @ x`` for fp32/fp16 ``W`` (out, in) and ``x`` (in,) or (b, in)
:func:`quantize`        8- or 4-bit weights with per-row or per-group scale and zero point
:func:`gemv_quantized`  ``W @ x`` straight from a :class:`QuantizedMatrix`
:func:`is_available`    whether CuPy and a CUDA device are usable
======================  ==================================================================
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from sapwood.gpu import _checks, _numpy
from sapwood.gpu._quant import QuantizedMatrix, quantize

__all__ = [
    "QuantizedMatrix",
    "gemv",
    "gemv_quantized",
    "is_available",
    "layer_norm",
    "log_softmax",
    "quantize",
    "rms_norm",
    "softmax",
]

#: Largest batch of vectors one GEMV launch handles (larger batches are split).
MAX_GEMV_BATCH = 8


@functools.cache
def is_available() -> bool:
    """Whether the GPU path can run: CuPy imports and sees at least one CUDA device.

    Returns
    -------
    bool
        False when CuPy is not installed, or there is no driver or no device. Never raises.

    Examples
    --------
    >>> from sapwood.gpu import is_available
    >>> isinstance(is_available(), bool)
    True
    """
    try:
        import cupy

        return bool(cupy.cuda.runtime.getDeviceCount() > 0)
    except Exception:
        return False


def _row_input(x: Any, axis: int | None) -> tuple[Any, int]:
    x = _checks.as_array(x, "x")
    _checks.check_dtype(x, _checks.ROW_DTYPES, "x")
    axis = _checks.normalize_axis(-1 if axis is None else axis, x.ndim)
    return x, axis


def _softmax(x: Any, axis: int, log: bool) -> Any:
    x, axis = _row_input(x, axis)
    last = axis == x.ndim - 1
    xm = x if last else _xp(x).moveaxis(x, axis, -1)
    if _checks.is_cupy(xm):
        from sapwood.gpu import _cupy

        out = _cupy.row_op("softmax", xm, log, None, None, 0.0)
    else:
        out = _numpy.softmax_rows(xm, log)
    if last:
        return out
    return _xp(out).ascontiguousarray(_xp(out).moveaxis(out, -1, axis))


def _xp(x: Any) -> Any:
    if _checks.is_cupy(x):
        import cupy

        return cupy
    return np


def softmax(x: Any, axis: int = -1) -> Any:
    """Softmax along ``axis``: ``exp(x - max(x)) / sum(exp(x - max(x)))``.

    Parameters
    ----------
    x : ndarray
        float32, float16 or bfloat16; NumPy (host) or CuPy (GPU).
    axis : int, default -1
        The axis to normalise over.

    Returns
    -------
    ndarray
        Same shape, dtype and kind (NumPy or CuPy) as ``x``, C-contiguous. A slice that is all
        ``-inf`` gives zeros (not NaN); a NaN or ``+inf`` in a slice makes it all NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import softmax
    >>> softmax(np.array([[0.0, np.log(3.0)], [-np.inf, -np.inf]], dtype=np.float32))
    array([[0.25, 0.75],
           [0.  , 0.  ]], dtype=float32)
    """
    return _softmax(x, axis, log=False)


def log_softmax(x: Any, axis: int = -1) -> Any:
    """Log-softmax along ``axis``: ``x - max(x) - log(sum(exp(x - max(x))))``.

    Parameters
    ----------
    x : ndarray
        float32, float16 or bfloat16; NumPy (host) or CuPy (GPU).
    axis : int, default -1
        The axis to normalise over.

    Returns
    -------
    ndarray
        Same shape, dtype and kind as ``x``. A slice that is all ``-inf`` stays ``-inf``.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import log_softmax
    >>> np.exp(log_softmax(np.array([0.0, np.log(3.0)], dtype=np.float32)))
    array([0.25, 0.75], dtype=float32)
    """
    return _softmax(x, axis, log=True)


def _norm(kind: str, x: Any, weight: Any, bias: Any, eps: float) -> Any:
    x, _ = _row_input(x, -1)
    eps = _checks.check_eps(eps)
    weight = _checks.check_affine(weight, x, "weight")
    bias = _checks.check_affine(bias, x, "bias")
    if _checks.is_cupy(x):
        from sapwood.gpu import _cupy

        return _cupy.row_op(kind, x, False, weight, bias, eps)
    return _numpy.norm_rows(x, weight, bias, eps, rms=kind == "rms_norm")


def rms_norm(x: Any, weight: Any = None, eps: float = 1e-6) -> Any:
    """RMSNorm over the last axis: ``x / sqrt(mean(x**2) + eps) * weight``.

    Parameters
    ----------
    x : ndarray
        float32, float16 or bfloat16; NumPy (host) or CuPy (GPU).
    weight : ndarray of shape (x.shape[-1],), optional
        Per-column gain, on the same device as ``x``; cast to ``x.dtype``. None means ones.
    eps : float, default 1e-6
        Added to the mean square; finite and >= 0.

    Returns
    -------
    ndarray
        Same shape, dtype and kind as ``x``. Statistics are computed in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import rms_norm
    >>> rms_norm(np.array([2.0, -2.0], dtype=np.float32), weight=np.array([1.0, 0.5]), eps=0)
    array([ 1. , -0.5], dtype=float32)
    """
    return _norm("rms_norm", x, weight, None, eps)


def layer_norm(x: Any, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Any:
    """LayerNorm over the last axis: ``(x - mean) / sqrt(var + eps) * weight + bias``.

    The variance is the biased one (divided by the row length), as in PyTorch.

    Parameters
    ----------
    x : ndarray
        float32, float16 or bfloat16; NumPy (host) or CuPy (GPU).
    weight, bias : ndarray of shape (x.shape[-1],), optional
        Per-column gain and offset, on the same device as ``x``; cast to ``x.dtype``.
    eps : float, default 1e-5
        Added to the variance; finite and >= 0.

    Returns
    -------
    ndarray
        Same shape, dtype and kind as ``x``. Statistics are computed in float32 in two passes
        (or Welford merges for long rows on the GPU), never as ``E[x**2] - mean**2``.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import layer_norm
    >>> layer_norm(np.array([1.0, 3.0], dtype=np.float32), eps=0.0)
    array([-1.,  1.], dtype=float32)
    """
    return _norm("layer_norm", x, weight, bias, eps)


def _vector_input(x: Any, in_features: int, like: Any) -> tuple[Any, bool]:
    x = _checks.as_array(x, "x")
    _checks.same_kind(like, x, "the weights", "x")
    if x.ndim not in (1, 2):
        raise ValueError(f"x must have shape (in,) or (batch, in), got {tuple(x.shape)}")
    if x.shape[-1] != in_features:
        raise ValueError(
            f"x has {x.shape[-1]} features but the matrix has {in_features} columns "
            f"(shape mismatch: W is (out, {in_features}))"
        )
    return (x[None, :] if x.ndim == 1 else x), x.ndim == 1


def gemv(w: Any, x: Any) -> Any:
    """Matrix-vector product ``W @ x`` (or ``x @ W.T`` for a batch of vectors).

    Parameters
    ----------
    w : ndarray of shape (out, in)
        float32 or float16 weights; NumPy (host) or CuPy (GPU). Any layout.
    x : ndarray of shape (in,) or (batch, in)
        Converted to ``w.dtype``. On the GPU each launch shares every weight load across up to
        8 vectors; larger batches are split into launches of 8.

    Returns
    -------
    ndarray of shape (out,) or (batch, out)
        In ``w.dtype``; accumulated in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import gemv
    >>> gemv(np.eye(2, dtype=np.float32), np.array([1.0, 2.0], dtype=np.float32))
    array([1., 2.], dtype=float32)
    """
    w = _checks.as_array(w, "w")
    _checks.check_dtype(w, _checks.GEMV_DTYPES, "w")
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D (out, in), got shape {tuple(w.shape)}")
    x2, single = _vector_input(x, w.shape[1], w)
    if not np.issubdtype(np.dtype(x2.dtype), np.number):
        raise TypeError(f"x must be numeric, got dtype {x2.dtype}")
    if _checks.is_cupy(w):
        from sapwood.gpu import _cupy

        if w.size == 0 or x2.shape[0] == 0:
            y = _xp(w).zeros((x2.shape[0], w.shape[0]), dtype=w.dtype)
        else:
            y = _cupy.gemv(w, x2)
    else:
        y = _numpy.gemv(w, x2)
    return y[0] if single else y


def gemv_quantized(q: QuantizedMatrix, x: Any) -> Any:
    """``W @ x`` for a quantised ``W`` (see :func:`quantize`), dequantising on the fly.

    Parameters
    ----------
    q : QuantizedMatrix
        The weights, of shape (out, in), on the same device as ``x``.
    x : ndarray of shape (in,) or (batch, in)
        float32 or float16. On the GPU each launch shares every weight load across up to 8
        vectors; larger batches are split into launches of 8.

    Returns
    -------
    ndarray of shape (out,) or (batch, out)
        In ``x.dtype``; accumulated in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import gemv_quantized, quantize
    >>> q = quantize(np.eye(2, dtype=np.float32), bits=8)
    >>> gemv_quantized(q, np.array([1.0, 2.0], dtype=np.float32))
    array([1., 2.], dtype=float32)
    """
    if not isinstance(q, QuantizedMatrix):
        raise TypeError(f"q must be a QuantizedMatrix (from quantize), got {type(q).__name__}")
    x2, single = _vector_input(x, q.in_features, q.data)
    _checks.check_dtype(x2, _checks.GEMV_DTYPES, "x")
    if q.on_gpu:
        from sapwood.gpu import _cupy

        if x2.shape[0] == 0:
            y = _xp(x2).zeros((0, q.out_features), dtype=x2.dtype)
        else:
            y = _cupy.gemv_quantized(q, x2)
    else:
        y = _numpy.gemv_quantized(q.dequantize, q.out_features, x2)
    return y[0] if single else y
