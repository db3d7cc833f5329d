"""The CUDA kernels on a real GPU, against the same float64 references as the NumPy path.

Marked ``gpu``; skipped when CuPy or a CUDA device is missing. Shapes, dtypes and tolerances are
those of ``test_gpu_numpy.py``; in addition the GPU results are compared with the NumPy path, and
the launches are exercised with strided, offset and transposed inputs and with grids too small
for the row count (so that every kernel's grid-stride loop runs).

Under NVIDIA's compute-sanitizer. Where ``compute-sanitizer`` is on the PATH,
``test_clean_under_compute_sanitizer`` reruns a selection of this file under its memcheck,
racecheck and synccheck tools. To run the whole file under one tool::

    SAPWOOD_GPU_SANITIZE=1 compute-sanitizer --tool memcheck --error-exitcode 86 \
        python -m pytest tests/test_gpu_cuda.py -q

``SAPWOOD_GPU_SANITIZE=1`` turns CuPy's memory pool off, so that every array is an allocation
of its own and an access past its end is reported instead of landing in a neighbour from the
same pool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_gpu_numpy import (
    BF16,
    ROW_LENGTHS,
    TOL,
    make_rows,
    np_dtype,
    ref_norm,
    ref_softmax,
)

from sapwood import gpu
from sapwood.gpu import _dispatch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not gpu.is_available(), reason="needs CuPy and a CUDA GPU"),
]

cp = pytest.importorskip("cupy") if gpu.is_available() else None

#: Set when this process runs under compute-sanitizer (see the module documentation).
SANITIZE = os.environ.get("SAPWOOD_GPU_SANITIZE", "") == "1"
if cp is not None and SANITIZE:
    cp.cuda.set_allocator(None)  # no pool: the sanitizer sees each array's own bounds


def _bf16_missing() -> str | None:
    """Why this CuPy cannot hold bfloat16 arrays, or None when it can."""
    if cp is None:
        return "needs CuPy and a CUDA GPU"
    try:
        cp.asarray(np.ones(2, dtype=BF16))
    except (TypeError, ValueError) as exc:
        return f"this CuPy has no bfloat16 arrays ({type(exc).__name__}: {exc})"
    return None


#: bfloat16 is always listed, so a CuPy without it shows up as skips rather than vanishing.
BF16_MISSING = _bf16_missing()
DTYPES = ["float32", "float16", "bfloat16"]


def to_gpu(x: np.ndarray):
    if x.dtype == BF16 and BF16_MISSING:
        pytest.skip(BF16_MISSING)
    return cp.asarray(x)


def host(y) -> np.ndarray:
    return cp.asnumpy(y).astype(np.float64)


def check_softmax(x_host: np.ndarray, x_dev, dtype: str, axis: int = -1) -> None:
    rtol, _ = TOL[dtype]
    y = gpu.softmax(x_dev, axis=axis)
    assert isinstance(y, cp.ndarray)
    assert y.dtype == x_dev.dtype
    assert y.shape == x_dev.shape
    np.testing.assert_allclose(
        host(y), ref_softmax(x_host, False, axis), rtol=rtol, atol=rtol * 1e-3
    )
    y = host(gpu.log_softmax(x_dev, axis=axis))
    want = ref_softmax(x_host, True, axis)
    finite = np.isfinite(want)
    assert np.array_equal(np.isfinite(y), finite)
    assert np.array_equal(np.isneginf(y), np.isneginf(want))
    err = np.abs(y[finite] - want[finite]) / np.maximum(np.abs(want[finite]), 1.0)
    assert err.max(initial=0) <= rtol * 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", ROW_LENGTHS)
def test_softmax_matches_float64(cols, dtype):
    x = make_rows(cols, dtype)
    check_softmax(x, to_gpu(x), dtype)
    np.testing.assert_allclose(
        host(gpu.softmax(to_gpu(x))),
        gpu.softmax(x).astype(np.float64),
        rtol=TOL[dtype][0] * 2,
        atol=1e-7,
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", [1, 5, 16, 17, 100, 1024])
def test_softmax_many_rows_and_tails(cols, dtype):
    # row counts that are not multiples of the rows per block of the sub-warp kernels
    x = np.random.default_rng(cols).standard_normal((1001, cols)).astype(np_dtype(dtype)) * 4
    x[::7] = -np.inf
    check_softmax(x, to_gpu(x), dtype)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(7)
    base = (rng.standard_normal((64, 2051)) * 3).astype(dtype)
    dev = to_gpu(base)
    cases = [
        (base[:, :1024], dev[:, :1024]),  # strided rows, aligned: vector loads with ld
        (base[:, 1:1025], dev[:, 1:1025]),  # misaligned start: scalar loads
        (base[:, :2048], dev[:, :2048]),  # shared-memory strategy with ld
        (base[::2, 3:40], dev[::2, 3:40]),
        (base[:40, :40].T, dev[:40, :40].T),  # transposed: copied
    ]
    for xh, xd in cases:
        check_softmax(xh, xd, dtype)
        rtol, _ = TOL[dtype]
        w = np.linspace(0.5, 2, xh.shape[-1]).astype(dtype)
        got = host(gpu.layer_norm(xd, to_gpu(w), to_gpu(w)))
        want = ref_norm(xh, w, w)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    # strided weight and bias vectors
    wide = np.linspace(0.5, 2, 2 * 300).astype(dtype)
    xh = base[:8, :300]
    got = host(gpu.layer_norm(to_gpu(xh), to_gpu(wide)[::2], to_gpu(wide)[1::2]))
    want = ref_norm(xh, wide[::2], wide[1::2])
    rtol, _ = TOL[dtype]
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())
    x3 = base[:60].reshape(3, 20, 2051)
    check_softmax(x3, to_gpu(x3), dtype, axis=1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", ROW_LENGTHS)
@pytest.mark.parametrize("rms", [True, False])
def test_norms_match_float64(cols, dtype, rms):
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((6, cols)) * 2 + 3).astype(np_dtype(dtype))
    x[1] = 0
    x[2] *= 50
    w = rng.standard_normal(cols).astype(np_dtype(dtype))
    b = rng.standard_normal(cols).astype(np_dtype(dtype))
    for weight, bias in ((w, b), (None, None)):
        wd = None if weight is None else to_gpu(weight)
        bd = None if bias is None else to_gpu(bias)
        if rms:
            got = host(gpu.rms_norm(to_gpu(x), wd))
            want = ref_norm(x, weight, eps=1e-6, rms=True)
        else:
            got = host(gpu.layer_norm(to_gpu(x), wd, bd))
            want = ref_norm(x, weight, bias, eps=1e-5)
        rtol, _ = TOL[dtype]
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


@pytest.mark.parametrize("cols", [12256, 12257, 12288, 16384])
def test_shared_memory_rows_around_48_kib(cols):
    """The cached row plus the reductions' static scratch crosses the 48 KiB default here."""
    x = make_rows(cols, "float32")
    check_softmax(x, to_gpu(x), "float32")
    got = host(gpu.layer_norm(to_gpu(x[:2])))
    np.testing.assert_allclose(got, ref_norm(x[:2]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cols", [2, 1000, 5000, 70000])
def test_log_softmax_with_large_row_maxima(cols):
    rng = np.random.default_rng(cols)
    x = np.stack([peak - 2.0 * rng.integers(0, 4, cols) for peak in (1e3, 1e5, 1e7, 3e7)])
    x = x.astype(np.float32)
    check_softmax(x, to_gpu(x), "float32")


@pytest.mark.parametrize("cols", [3000, 40000])
def test_layer_norm_of_rows_around_2e19(cols, monkeypatch):
    if cols < 10_000:  # the streaming kernel at a shorter length too
        monkeypatch.setattr(_dispatch, "smem_fits", lambda cols, limits: False)
    rng = np.random.default_rng(cols)
    x = (2e19 * (1 + 1e-3 * rng.standard_normal((4, cols)))).astype(np.float32)
    got = host(gpu.layer_norm(to_gpu(x)))
    want = ref_norm(x)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_fp16_extremes():
    big = float(np.finfo(np.float16).max)
    x = np.array(
        [[big, -big, big, -big], [6e-8, 0, -6e-8, 0], [big] * 4, [-np.inf] * 4], np.float16
    )
    np.testing.assert_allclose(host(gpu.softmax(to_gpu(x))), ref_softmax(x, False), atol=1e-3)
    got = host(gpu.rms_norm(to_gpu(x[:3])))
    np.testing.assert_allclose(got, ref_norm(x[:3], eps=1e-6, rms=True), rtol=1e-3, atol=1e-3)
    got = host(gpu.layer_norm(to_gpu(x[:3])))
    np.testing.assert_allclose(got, ref_norm(x[:3]), rtol=1e-3, atol=1e-3)


def test_nan_rows():
    x = np.zeros((2, 3000), np.float32)
    x[0, 17] = np.nan
    x[1, 5] = np.inf
    assert np.isnan(host(gpu.softmax(to_gpu(x)))).all()
    assert np.isnan(host(gpu.softmax(to_gpu(x[:, :300])))).all()


def test_grid_stride_loops(monkeypatch):
    monkeypatch.setattr(_dispatch, "WAVES", 0)  # one block for the whole matrix
    for cols in (3, 33, 1000, 3000, 70000):
        x = np.random.default_rng(cols).standard_normal((37, cols)).astype(np.float32)
        check_softmax(x, to_gpu(x), "float32")
        got = host(gpu.rms_norm(to_gpu(x)))
        np.testing.assert_allclose(got, ref_norm(x, eps=1e-6, rms=True), rtol=1e-5, atol=1e-5)
    w = np.random.default_rng(0).standard_normal((301, 130)).astype(np.float32)
    x = np.random.default_rng(1).standard_normal((3, 130)).astype(np.float32)
    np.testing.assert_allclose(host(gpu.gemv(to_gpu(w), to_gpu(x))), x @ w.T, rtol=1e-4, atol=1e-4)
    q = gpu.quantize(to_gpu(w), bits=4, group_size=32)
    want = x.astype(np.float64) @ q.to_host().dequantize().T
    np.testing.assert_allclose(host(gpu.gemv_quantized(q, to_gpu(x))), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (64, 1000), (1027, 4096), (8192, 8192)])
@pytest.mark.parametrize("batch", [None, 1, 3, 8, 11])
def test_gemv_matches_float64(dtype, shape, batch):
    rng = np.random.default_rng(shape[1])
    w = rng.standard_normal(shape).astype(dtype)
    x = rng.standard_normal((shape[1],) if batch is None else (batch, shape[1])).astype(dtype)
    y = gpu.gemv(to_gpu(w), to_gpu(x))
    want = x.astype(np.float64) @ w.astype(np.float64).T
    assert y.shape == want.shape
    assert y.dtype == w.dtype
    bound = np.sqrt(shape[1]) * (1e-5 if dtype == "float32" else 2e-3)
    np.testing.assert_allclose(host(y), want, atol=bound, rtol=TOL[dtype][0])
    # a weight matrix with strided rows (ld > in)
    wide = to_gpu(np.pad(w, ((0, 0), (0, 8))))
    np.testing.assert_allclose(
        host(gpu.gemv(wide[:, : shape[1]], to_gpu(x))), want, atol=bound, rtol=TOL[dtype][0]
    )


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group_size", [None, 32, 64, 128])
@pytest.mark.parametrize("x_dtype", ["float32", "float16"])
@pytest.mark.parametrize("in_features", [1, 30, 257, 4096])
def test_gemv_quantized_matches_float64(bits, group_size, x_dtype, in_features):
    rng = np.random.default_rng(in_features)
    w = rng.standard_normal((259, in_features)).astype(np.float32)
    q_dev = gpu.quantize(to_gpu(w), bits=bits, group_size=group_size)
    q_host = gpu.quantize(w, bits=bits, group_size=group_size)
    # the device and host quantisers agree bit for bit
    np.testing.assert_array_equal(cp.asnumpy(q_dev.data), q_host.data)
    np.testing.assert_array_equal(cp.asnumpy(q_dev.scale), q_host.scale)
    deq = q_host.dequantize().astype(np.float64)
    for batch in (None, 1, 2, 5, 8, 9):
        shape = (in_features,) if batch is None else (batch, in_features)
        x = rng.standard_normal(shape).astype(x_dtype)
        y = gpu.gemv_quantized(q_dev, to_gpu(x))
        assert isinstance(y, cp.ndarray)
        assert y.dtype == x.dtype
        want = x.astype(np.float64) @ deq.T
        tol = np.sqrt(in_features) * (1e-5 if x_dtype == "float32" else 3e-3)
        np.testing.assert_allclose(
            host(y), want, atol=tol * np.abs(deq).max(), rtol=TOL[x_dtype][0]
        )
    # x with an odd offset: not 16-byte aligned, so the scalar x path runs
    xs = to_gpu(rng.standard_normal(in_features + 1).astype(x_dtype))[1:]
    want = cp.asnumpy(xs).astype(np.float64) @ deq.T
    np.testing.assert_allclose(
        host(gpu.gemv_quantized(q_dev, xs)),
        want,
        atol=tol * np.abs(deq).max(),
        rtol=TOL[x_dtype][0],
    )


def test_mixed_devices_are_rejected():
    x = to_gpu(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="weight must be a CuPy"):
        gpu.rms_norm(x, np.ones(4, np.float32))
    q = gpu.quantize(np.ones((3, 4), np.float32))
    with pytest.raises(TypeError, match="x must be a NumPy"):
        gpu.gemv_quantized(q, to_gpu(np.ones(4, np.float32)))
    with pytest.raises(TypeError, match="x must be a CuPy"):
        gpu.gemv_quantized(q.to_gpu(), np.ones(4, np.float32))


#: What each compute-sanitizer tool reruns: every strategy, dtype and misaligned or strided
#: layout for memcheck; the block-wide kernels (shared memory, barriers) for the others.
SANITIZER_RUNS = {
    "memcheck": (
        "non_contiguous or grid_stride or shared_memory_rows or large_row_maxima or 2e19 "
        "or (softmax_matches and (1025 or 8193 or 65536)) or (norms_match and 33) "
        "or (gemv_matches and shape2) or (gemv_quantized and 257)"
    ),
    "racecheck": "shared_memory_rows or grid_stride",
    "synccheck": "shared_memory_rows or grid_stride",
}


@pytest.mark.skipif(SANITIZE, reason="already running under compute-sanitizer")
@pytest.mark.skipif(shutil.which("compute-sanitizer") is None, reason="needs compute-sanitizer")
@pytest.mark.parametrize("tool", list(SANITIZER_RUNS))
def test_clean_under_compute_sanitizer(tool):
    cmd = [
        shutil.which("compute-sanitizer"),
        "--tool",
        tool,
        "--error-exitcode",
        "86",
        sys.executable,
        "-m",
        "pytest",
        str(Path(__file__)),
        "-q",
        "-x",
        "-p",
        "no:cacheprovider",
        "-k",
        f"not sanitizer and ({SANITIZER_RUNS[tool]})",
    ]
    env = dict(os.environ, SAPWOOD_GPU_SANITIZE="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3000, check=False)
    tail = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, (
        f"compute-sanitizer --tool {tool} exited {proc.returncode}:\n{tail}"
    )
    assert " passed" in proc.stdout, tail  # the selection ran something
