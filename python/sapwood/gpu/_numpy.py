"""The host path of :mod:`sapwood.gpu`: NumPy implementations with the kernels' semantics.

Like the kernels, they compute in float32 (whatever the input precision, so fp16 and bf16 inputs
accumulate in fp32), guard rows of all ``-inf`` the same way, and return the input dtype.
Each reads its operands as aligned C-contiguous rows (copying only other layouts), because
NumPy's reductions and matrix products sum in an order that depends on the memory layout: an
array gives the same answer whether it is C-ordered, Fortran-ordered, strided or unaligned.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sapwood._validation import native_array

# Rows of W dequantised at a time by gemv_quantized (bounds the temporary to ~32 MB at 8192).
_DEQUANT_ROWS = 1024


def softmax_rows(x: NDArray, log: bool) -> NDArray:
    """Softmax (or log-softmax) over the last axis of ``x``."""
    x = native_array(x)
    xf = x.astype(np.float32, copy=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(xf, axis=-1, keepdims=True) if xf.shape[-1] else np.zeros_like(xf[..., :1])
        shift = np.where(m == -np.inf, np.float32(0), m)
        z = xf - shift
        e = np.exp(z)
        s = np.sum(e, axis=-1, keepdims=True, dtype=np.float32)
        if log:
            out = np.where(s == 0, np.float32(-np.inf), z - np.log(s))
        else:
            out = np.where(s == 0, np.float32(0), e / s)
        return out.astype(x.dtype, copy=False)


def norm_rows(
    x: NDArray, weight: NDArray | None, bias: NDArray | None, eps: float, rms: bool
) -> NDArray:
    """RMSNorm or LayerNorm over the last axis of ``x`` (statistics in float32, two passes)."""
    x = native_array(x)
    xf = x.astype(np.float32, copy=False)
    eps32 = np.float32(eps)
    if xf.shape[-1] == 0:
        return np.empty(x.shape, dtype=x.dtype)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if rms:
            ms = np.mean(np.square(xf), axis=-1, keepdims=True, dtype=np.float32)
            y = xf * (np.float32(1) / np.sqrt(ms + eps32))
        else:
            mean = np.mean(xf, axis=-1, keepdims=True, dtype=np.float32)
            d = xf - mean
            var = np.mean(np.square(d), axis=-1, keepdims=True, dtype=np.float32)
            y = d * (np.float32(1) / np.sqrt(var + eps32))
        if weight is not None:
            y = y * weight.astype(np.float32, copy=False)
        if bias is not None:
            y = y + bias.astype(np.float32, copy=False)
        return y.astype(x.dtype, copy=False)


def gemv(w: NDArray, x2: NDArray) -> NDArray:
    """``x2 @ w.T`` for x2 of shape (b, in), accumulated in float32, in w's dtype.

    x is first rounded to w's dtype, as the kernel receives it.
    """
    w = native_array(w)
    xf = native_array(x2).astype(w.dtype, copy=False).astype(np.float32, copy=False)
    y = xf @ w.astype(np.float32, copy=False).T
    return y.astype(w.dtype, copy=False)


def gemv_quantized(dequantize_rows, out_features: int, x2: NDArray) -> NDArray:
    """``x2 @ W.T`` with W dequantised block by block (``dequantize_rows(start, stop)``)."""
    xf = native_array(x2).astype(np.float32, copy=False)
    y = np.empty((x2.shape[0], out_features), dtype=np.float32)
    for start in range(0, out_features, _DEQUANT_ROWS):
        stop = min(out_features, start + _DEQUANT_ROWS)
        y[:, start:stop] = xf @ dequantize_rows(start, stop).T
    return y.astype(x2.dtype, copy=False)
