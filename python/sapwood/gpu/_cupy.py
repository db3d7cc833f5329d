"""The GPU path of :mod:`sapwood.gpu`: CuPy arrays in, kernels from ``cuda/`` launched.

Each kernel instantiation is compiled on first use (``cupy.RawModule`` with the template's name
expression; CuPy also keeps the binary in its on-disk cache) and kept for the life of the process,
one per device.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from sapwood.gpu import _dispatch
from sapwood.gpu._nvrtc import BASE_OPTIONS
from sapwood.gpu._sources import program_source

_NULL = np.uint64(0)  # a null pointer argument


@functools.cache
def _cupy() -> Any:
    import cupy

    return cupy


def device_limits() -> _dispatch.DeviceLimits:
    """The current device's limits (cached per device)."""
    return _limits_for(_cupy().cuda.Device().id)


@functools.cache
def _limits_for(device_id: int) -> _dispatch.DeviceLimits:
    attrs = _cupy().cuda.Device(device_id).attributes
    return _dispatch.DeviceLimits(
        sm_count=int(attrs["MultiProcessorCount"]),
        max_threads_per_sm=int(attrs["MaxThreadsPerMultiProcessor"]),
        smem_per_block_optin=int(attrs["MaxSharedMemoryPerBlockOptin"]),
        smem_per_sm=int(attrs["MaxSharedMemoryPerMultiprocessor"]),
        l2_bytes=int(attrs["L2CacheSize"]),
    )


@functools.cache
def _kernel(file: str, name: str, device_id: int) -> Any:
    cp = _cupy()
    with cp.cuda.Device(device_id):
        module = cp.RawModule(
            code=program_source(file), options=BASE_OPTIONS, name_expressions=(name,)
        )
        return module.get_function(name)


#: The dynamic shared memory each compiled kernel has opted in to, by (file, name, device).
_OPTED_IN: dict[tuple[str, str, int], int] = {}


def launch(plan: _dispatch.Launch, args: tuple[Any, ...]) -> None:
    """Run one planned launch on the current device and stream."""
    key = (plan.file, plan.name, _cupy().cuda.Device().id)
    kernel = _kernel(*key)
    # Set the attribute explicitly rather than compare with its default, whose value (48 KiB,
    # or 48 KiB less the static shared memory) is what the opt-in is about.
    static = int(kernel.shared_size_bytes) if plan.shared_mem else 0
    optin = _dispatch.smem_optin(plan, static)
    if optin > _OPTED_IN.get(key, 0):
        kernel.max_dynamic_shared_size_bytes = optin
        _OPTED_IN[key] = optin
    kernel(plan.grid, plan.block, args, shared_mem=plan.shared_mem)


def _rows_view(x: Any) -> tuple[Any, int]:
    """A 2-D (rows, cols) view of ``x`` with unit column stride, and its row stride."""
    cp = _cupy()
    cols = x.shape[-1]
    item = x.itemsize
    if x.flags.c_contiguous:
        return x.reshape(-1, cols), cols
    if x.ndim == 2 and x.strides[1] == item and x.strides[0] > 0 and x.strides[0] % item == 0:
        return x, x.strides[0] // item
    x = cp.ascontiguousarray(x)
    return x.reshape(-1, cols), cols


def row_op(kind: str, x: Any, log: bool, weight: Any, bias: Any, eps: float) -> Any:
    """softmax / log_softmax / rms_norm / layer_norm over the last axis of a CuPy array."""
    cp = _cupy()
    dtype = np.dtype(x.dtype).name
    shape = x.shape
    cols = shape[-1]
    out = cp.empty(shape, dtype=x.dtype)
    if x.size == 0:
        return out
    x2, ld = _rows_view(x)
    rows = x2.shape[0]
    # the kernels read weight and bias as plain vectors
    weight = None if weight is None else cp.ascontiguousarray(weight)
    bias = None if bias is None else cp.ascontiguousarray(bias)
    y2 = out.reshape(rows, cols)
    addresses = [x2.data.ptr, y2.data.ptr]
    addresses += [p.data.ptr for p in (weight, bias) if p is not None]
    pack = _dispatch.choose_pack(dtype, cols, (ld,), tuple(addresses))
    plan = _dispatch.plan_rows(kind, dtype, rows, cols, pack, device_limits())
    if kind == "softmax":
        args = (x2, y2, np.int64(rows), np.int32(cols), np.int64(ld), np.int32(log))
    else:
        w = weight if weight is not None else _NULL
        b = bias if bias is not None else _NULL
        rms = np.int32(kind == "rms_norm")
        args = (x2, w, b, y2, np.int64(rows), np.int32(cols), np.int64(ld), np.float32(eps), rms)
    launch(plan, args)
    return out


def gemv(w: Any, x2: Any) -> Any:
    """``x2 @ w.T`` for a CuPy matrix ``w`` (out, in) and ``x2`` (b, in), batched by 8."""
    cp = _cupy()
    dtype = np.dtype(w.dtype).name
    if w.strides[1] != w.itemsize or w.strides[0] <= 0 or w.strides[0] % w.itemsize:
        w = cp.ascontiguousarray(w)
    ldw = w.strides[0] // w.itemsize
    out, in_features = w.shape
    x2 = cp.ascontiguousarray(x2.astype(w.dtype, copy=False))
    y = cp.empty((x2.shape[0], out), dtype=w.dtype)
    limits = device_limits()
    for start in range(0, x2.shape[0], _dispatch.GEMV_MAX_BATCH):
        xb = x2[start : start + _dispatch.GEMV_MAX_BATCH]
        yb = y[start : start + _dispatch.GEMV_MAX_BATCH]
        vec = _dispatch.choose_gemv_vec(dtype, in_features, ldw, (w.data.ptr, xb.data.ptr))
        plan = _dispatch.plan_gemv(dtype, out, xb.shape[0], vec, limits)
        launch(plan, (w, xb, yb, np.int32(out), np.int32(in_features), np.int64(ldw)))
    return y


def gemv_quantized(q: Any, x2: Any) -> Any:
    """``x2 @ W.T`` for a QuantizedMatrix on the GPU and ``x2`` (b, in), batched by 8."""
    cp = _cupy()
    out, in_features = q.shape
    x2 = cp.ascontiguousarray(x2)
    dtype = np.dtype(x2.dtype).name
    y = cp.empty((x2.shape[0], out), dtype=x2.dtype)
    limits = device_limits()
    per_load = 16 // x2.itemsize
    row_bytes = q.data.shape[1]
    data = q.data if q.data.data.ptr % 16 == 0 else q.data.copy()  # rows are read as uint4
    for start in range(0, x2.shape[0], _dispatch.GEMV_MAX_BATCH):
        xb = x2[start : start + _dispatch.GEMV_MAX_BATCH]
        yb = y[start : start + _dispatch.GEMV_MAX_BATCH]
        x_vec = in_features % per_load == 0 and xb.data.ptr % 16 == 0
        plan = _dispatch.plan_gemv_quantized(q.bits, dtype, out, xb.shape[0], limits)
        args = (
            data,
            q.scale,
            q.zero,
            xb,
            yb,
            np.int32(out),
            np.int32(in_features),
            np.int32(row_bytes),
            np.int32(q.effective_group_size),
            np.int32(q.n_groups),
            np.int32(x_vec),
        )
        launch(plan, args)
    return y
