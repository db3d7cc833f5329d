"""Weight quantisation for the GEMV kernels: :func:`quantize` and :class:`QuantizedMatrix`.

Layout (what ``gemv_quant`` in ``cuda/gemv.cu`` reads):

* ``data``: uint8, shape ``(out, row_bytes)``. For 8 bits one byte per weight; for 4 bits two
  weights per byte, column ``2j`` in the low nibble of byte ``j`` and ``2j + 1`` in the high
  nibble. Rows are zero-padded to a multiple of 16 bytes so that every row starts 16-byte aligned.
* ``scale`` and ``zero``: float32, shape ``(out, n_groups)``: a weight in group ``g`` of row ``r``
  is ``scale[r, g] * (q - zero[r, g])``, with ``zero`` an integer in ``[0, 2**bits - 1]``.
  Groups are ``group_size`` consecutive columns (the last one may be shorter); per-row
  quantisation (``group_size=None``) is one group per row.

Scales come from each group's min and max, widened to contain 0 (asymmetric min-max
quantisation, as PyTorch's MinMax observer does): a weight is off by
at most half a quantisation step of its group, or one and a half at the top of the group's range
when the rounded zero point pushes a code past ``2**bits - 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sapwood.gpu._checks import as_array, is_cupy

#: Group sizes :func:`quantize` accepts besides None (per row).
GROUP_SIZES = (32, 64, 128)
_ROW_ALIGN = 16


def _xp(a: Any) -> Any:
    if is_cupy(a):
        import cupy

        return cupy
    return np


def check_group_size(group_size: Any, bits: int) -> None:
    """A ValueError unless ``group_size`` is None or an accepted size that ``gemv_quant`` can
    read: the kernel takes one group's scale and zero point per 16-byte chunk of a row (16 int8
    or 32 int4 weights), so a group must be a whole number of chunks."""
    if group_size is None:
        return
    if isinstance(group_size, bool) or group_size not in GROUP_SIZES:
        raise ValueError(f"group_size must be None or one of {GROUP_SIZES}, got {group_size!r}")
    per_chunk = _ROW_ALIGN * 8 // bits
    if group_size % per_chunk:
        raise ValueError(
            f"group_size must be a multiple of {per_chunk} for {bits}-bit weights (the GPU "
            f"kernel reads {per_chunk} weights at a time, within one group), got {group_size}"
        )


def row_bytes_for(in_features: int, bits: int) -> int:
    """Bytes per stored row: the packed weights rounded up to a multiple of 16."""
    packed = in_features if bits == 8 else (in_features + 1) // 2
    return max(_ROW_ALIGN, -(-packed // _ROW_ALIGN) * _ROW_ALIGN)


@dataclass(frozen=True, eq=False)
class QuantizedMatrix:
    """A weight matrix of shape ``(out, in)`` quantised to 8 or 4 bits.

    Build one with :func:`sapwood.gpu.quantize`; pass it to :func:`sapwood.gpu.gemv_quantized`.
    The arrays live on the host (NumPy) or on the GPU (CuPy), wherever the matrix given to
    :func:`~sapwood.gpu.quantize` was.

    Attributes
    ----------
    data : ndarray of uint8, shape (out, row_bytes)
        The packed weights (see the module documentation for the layout).
    scale, zero : ndarray of float32, shape (out, n_groups)
        Per-group scale and integer zero point: ``w = scale * (q - zero)``.
    shape : tuple of int
        ``(out, in)`` of the original matrix.
    bits : int
        8 or 4.
    group_size : int or None
        Columns per group, or None for one group per row.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import gpu
    >>> w = np.arange(8, dtype=np.float32).reshape(2, 4)
    >>> q = gpu.quantize(w, bits=8)
    >>> q.shape, q.bits, q.scale.shape
    ((2, 4), 8, (2, 1))
    >>> bool(np.abs(q.dequantize() - w).max() <= q.scale.max() / 2)
    True
    >>> gpu.gemv_quantized(q, np.ones(4, np.float32)).round(1)
    array([ 6., 22.], dtype=float32)
    """

    data: Any
    scale: Any
    zero: Any
    shape: tuple[int, int]
    bits: int
    group_size: int | None

    def __post_init__(self) -> None:
        if self.bits not in (4, 8):
            raise ValueError(f"bits must be 4 or 8, got {self.bits}")
        out, in_features = self.shape
        if out < 1 or in_features < 1:
            raise ValueError(f"shape must be positive, got {self.shape}")
        check_group_size(self.group_size, self.bits)
        kinds = {is_cupy(self.data), is_cupy(self.scale), is_cupy(self.zero)}
        if len(kinds) != 1:
            raise TypeError("data, scale and zero must all be NumPy arrays or all CuPy arrays")
        expected = (out, row_bytes_for(in_features, self.bits))
        if tuple(self.data.shape) != expected or np.dtype(self.data.dtype) != np.uint8:
            raise ValueError(f"data must be uint8 of shape {expected}, got {self.data.shape}")
        for name in ("scale", "zero"):
            arr = getattr(self, name)
            if tuple(arr.shape) != (out, self.n_groups) or np.dtype(arr.dtype) != np.float32:
                raise ValueError(
                    f"{name} must be float32 of shape {(out, self.n_groups)}, got "
                    f"{np.dtype(arr.dtype).name} {tuple(arr.shape)}"
                )
        for name in ("data", "scale", "zero"):
            if not getattr(self, name).flags.c_contiguous:
                raise ValueError(f"{name} must be C-contiguous")
        # The GPU forms the zero point as 2**23 + zero in fp32, which rounds a fractional one
        # (the host would not) and is exact only for integers; the codes span [0, 2**bits - 1].
        xp = _xp(self.zero)
        qmax = 2**self.bits - 1
        zero = self.zero
        valid = (zero == xp.rint(zero)) & (zero >= 0) & (zero <= qmax)
        if not bool(valid.all()):
            raise ValueError(f"zero must hold integers in [0, {qmax}] for {self.bits}-bit weights")

    @property
    def in_features(self) -> int:
        return self.shape[1]

    @property
    def out_features(self) -> int:
        return self.shape[0]

    @property
    def effective_group_size(self) -> int:
        """Columns per group (``in`` for per-row quantisation)."""
        return self.group_size if self.group_size is not None else self.shape[1]

    @property
    def n_groups(self) -> int:
        return math.ceil(self.shape[1] / self.effective_group_size)

    @property
    def on_gpu(self) -> bool:
        return is_cupy(self.data)

    @property
    def nbytes(self) -> int:
        """Bytes of the packed weights, scales and zero points."""
        return int(self.data.nbytes + self.scale.nbytes + self.zero.nbytes)

    def codes(self, start: int = 0, stop: int | None = None) -> Any:
        """The integer codes ``q`` of rows ``start:stop``, uint8 of shape (rows, in)."""
        xp = _xp(self.data)
        data = self.data[start:stop]
        if self.bits == 8:
            return data[:, : self.in_features]
        q = xp.empty((data.shape[0], data.shape[1] * 2), dtype=np.uint8)
        q[:, 0::2] = data & 0x0F
        q[:, 1::2] = data >> 4
        return q[:, : self.in_features]

    def dequantize(self, start: int = 0, stop: int | None = None) -> Any:
        """Rows ``start:stop`` of the dequantised matrix, float32 of shape (rows, in)."""
        q = self.codes(start, stop).astype(np.float32)
        g = self.effective_group_size
        scale = self.scale[start:stop].repeat(g, axis=1)[:, : self.in_features]
        zero = self.zero[start:stop].repeat(g, axis=1)[:, : self.in_features]
        return (q - zero) * scale

    def to_gpu(self) -> QuantizedMatrix:
        """A copy with its arrays on the current CuPy device."""
        import cupy

        return QuantizedMatrix(
            cupy.asarray(self.data),
            cupy.asarray(self.scale),
            cupy.asarray(self.zero),
            self.shape,
            self.bits,
            self.group_size,
        )

    def to_host(self) -> QuantizedMatrix:
        """A copy with its arrays in host memory (NumPy)."""

        def host(a: Any) -> Any:
            return a.get() if is_cupy(a) else a

        return QuantizedMatrix(
            host(self.data),
            host(self.scale),
            host(self.zero),
            self.shape,
            self.bits,
            self.group_size,
        )


def quantize(w: Any, bits: int = 8, group_size: int | None = None) -> QuantizedMatrix:
    """Quantise a weight matrix to 8 or 4 bits for :func:`gemv_quantized`.

    Parameters
    ----------
    w : ndarray of shape (out, in)
        float16, float32 or float64 weights, NumPy (host) or CuPy (GPU); finite.
    bits : {8, 4}
        Bits per weight.
    group_size : {None, 32, 64, 128}
        Columns sharing one scale and zero point; None for one per row.

    Returns
    -------
    QuantizedMatrix
        On the same device as ``w``.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood.gpu import quantize
    >>> w = np.linspace(-1, 1, 64, dtype=np.float32).reshape(2, 32)
    >>> q = quantize(w, bits=4, group_size=32)
    >>> q.data.shape, q.scale.shape
    ((2, 16), (2, 1))
    >>> bool(np.abs(q.dequantize() - w).max() <= q.scale.max())
    True
    """
    if isinstance(bits, bool) or bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits!r}")
    check_group_size(group_size, bits)
    w = as_array(w, "w")
    xp = _xp(w)
    if w.ndim != 2:
        raise ValueError(f"w must be 2-D (out, in), got shape {tuple(w.shape)}")
    out, in_features = (int(s) for s in w.shape)
    if out == 0 or in_features == 0:
        raise ValueError(f"w must not be empty, got shape {(out, in_features)}")
    if not np.issubdtype(np.dtype(w.dtype), np.floating):
        raise TypeError(f"w must be a floating-point array, got dtype {w.dtype}")
    wf = w.astype(np.float32)
    if not bool(xp.isfinite(wf).all()):
        raise ValueError("w contains NaN or infinity (or values too large for float32)")
    g = group_size if group_size is not None else in_features
    n_groups = math.ceil(in_features / g)
    padded = wf
    if n_groups * g != in_features:  # the last group is shorter: repeat its last column
        padded = xp.pad(wf, ((0, 0), (0, n_groups * g - in_features)), mode="edge")
    groups = padded.reshape(out, n_groups, g)
    # The range always contains 0, so the zero point is a code in [0, 2**bits - 1] (and an
    # exact zero weight stays exactly zero).
    lo = xp.minimum(groups.min(axis=2), np.float32(0))
    hi = xp.maximum(groups.max(axis=2), np.float32(0))
    qmax = np.float32(2**bits - 1)
    span = hi - lo
    scale = xp.where(span > 0, span / qmax, np.float32(1)).astype(np.float32)
    scale = xp.maximum(scale, np.finfo(np.float32).tiny)  # a span in the subnormal range
    zero = xp.clip(xp.rint(-lo / scale), 0, qmax).astype(np.float32)
    q = xp.rint(groups / scale[:, :, None]) + zero[:, :, None]
    q = xp.clip(q, 0, qmax).astype(np.uint8).reshape(out, n_groups * g)[:, :in_features]
    row_bytes = row_bytes_for(in_features, bits)
    data = xp.zeros((out, row_bytes), dtype=np.uint8)
    if bits == 8:
        data[:, :in_features] = q
    else:
        if in_features % 2:
            q = xp.concatenate([q, xp.zeros((out, 1), dtype=np.uint8)], axis=1)
        data[:, : q.shape[1] // 2] = q[:, 0::2] | (q[:, 1::2] << 4)
    return QuantizedMatrix(
        xp.ascontiguousarray(data),
        xp.ascontiguousarray(scale),
        xp.ascontiguousarray(zero),
        (out, in_features),
        int(bits),
        group_size,
    )
