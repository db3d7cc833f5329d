"""sapwood.gpu on the host: the NumPy paths against float64 references, the dispatch table,
quantisation and the error messages. Runs everywhere (no GPU, no CuPy needed).

Tolerances: outputs are compared with a float64 reference computed from the same (already
rounded) input values. float32 results must agree to a few float32 ulps of the output
(rtol 2e-6 / 5e-6 on long rows); float16 and bfloat16 results to the rounding of the output
format (half an ulp: 2**-11 and 2**-8 relative) plus float32 accumulation error.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from sapwood import gpu
from sapwood.gpu import _dispatch, _sources

ROW_LENGTHS = [1, 7, 32, 33, 1000, 1024, 1025, 4096, 8193, 65536]
# bfloat16 comes from ml_dtypes (in the test extra): imported unconditionally, so that a
# missing package fails the run instead of silently dropping the bfloat16 cases.
BF16 = np.dtype(ml_dtypes.bfloat16)
DTYPES = ["float32", "float16", "bfloat16"]
# (rtol, atol) per output dtype for values of order 1
TOL = {"float32": (5e-6, 1e-7), "float16": (1.2e-3, 1e-7), "bfloat16": (8e-3, 1e-7)}


def np_dtype(name: str) -> np.dtype:
    return BF16 if name == "bfloat16" else np.dtype(name)


# ---------------------------------------------------------------------------- references (f64)


def ref_softmax(x: np.ndarray, log: bool, axis: int = -1) -> np.ndarray:
    """float64 softmax / log-softmax with the documented all -inf contract."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(x, axis=-1, keepdims=True)
        shift = np.where(m == -np.inf, 0.0, m)
        e = np.exp(x - shift)
        s = e.sum(axis=-1, keepdims=True)
        if log:
            out = np.where(s == 0, -np.inf, x - shift - np.log(s))
        else:
            out = np.where(s == 0, 0.0, e / s)
    return np.moveaxis(out, -1, axis)


def ref_norm(x, weight=None, bias=None, eps=1e-5, rms=False) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if rms:
        y = x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)
    else:
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        y = (x - mean) / np.sqrt(var + eps)
    if weight is not None:
        y = y * np.asarray(weight, dtype=np.float64)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return y


def make_rows(cols: int, dtype: str, seed: int = 0) -> np.ndarray:
    """Five rows: random, large spread, partly -inf, all -inf, a one-hot spike."""
    rng = np.random.default_rng(seed + cols)
    x = rng.standard_normal((5, cols)) * 3
    x[1] *= 8
    x[2, ::3] = -np.inf
    x[3] = -np.inf
    x[4] = -5.0
    x[4, cols // 2] = 20.0
    return x.astype(np_dtype(dtype))


def assert_close(got, want, dtype: str, scale: float = 1.0) -> None:
    rtol, atol = TOL[dtype]
    got = np.asarray(got, dtype=np.float64)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale)


# ------------------------------------------------------------------------------------ softmax


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", ROW_LENGTHS)
def test_softmax_matches_float64(cols, dtype):
    x = make_rows(cols, dtype)
    y = gpu.softmax(x)
    assert y.dtype == x.dtype
    assert y.shape == x.shape
    assert y.flags.c_contiguous
    want = ref_softmax(x, log=False)
    # absolute error relative to the row's largest probability
    rtol, _ = TOL[dtype]
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol, atol=rtol * 1e-3)
    assert np.all(y[3] == 0)  # all -inf row: zeros, not NaN
    sums = y.astype(np.float64).sum(axis=-1)
    live = ~np.all(np.isneginf(x.astype(np.float64)), axis=-1)
    np.testing.assert_allclose(sums[live], 1.0, rtol=max(rtol, 1e-5) * 4)
    assert np.all(sums[~live] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", ROW_LENGTHS)
def test_log_softmax_matches_float64(cols, dtype):
    x = make_rows(cols, dtype)
    y = gpu.log_softmax(x)
    assert y.dtype == x.dtype
    assert y.shape == x.shape
    want = ref_softmax(x, log=True)
    finite = np.isfinite(want)
    assert np.array_equal(np.isfinite(y.astype(np.float64)), finite)
    assert np.all(np.isneginf(y[3].astype(np.float64)))  # all -inf row stays -inf
    got = y.astype(np.float64)[finite]
    # log-probabilities: error relative to max(|value|, 1) (shift and log(sum) are O(1) terms)
    rtol, _ = TOL[dtype]
    err = np.abs(got - want[finite]) / np.maximum(np.abs(want[finite]), 1.0)
    assert err.max() <= rtol * 2


@pytest.mark.parametrize("peak", [1e3, 1e5, 1e7, 3e7])
def test_log_softmax_with_large_row_maxima(peak):
    """The log term is computed after the shift is taken off, so it does not round away
    against a large maximum (fp32 ``[1e7, 1e7]`` is ``log(1/2)``, not -1 or 0)."""
    x = np.array([[peak, peak], [peak, peak - 4]], dtype=np.float32)
    got = gpu.log_softmax(x).astype(np.float64)
    np.testing.assert_allclose(got, ref_softmax(x, log=True), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(got[0], np.log(0.5), rtol=1e-6)


def test_softmax_nan_and_posinf_rows_are_nan():
    x = np.zeros((3, 40), dtype=np.float32)
    x[0, 5] = np.nan
    x[1, 7] = np.inf
    x[2, :] = -np.inf
    x[2, 3] = np.nan
    for log in (False, True):
        y = gpu.log_softmax(x) if log else gpu.softmax(x)
        assert np.all(np.isnan(y)), y
        assert np.all(np.isnan(ref_softmax(x, log)))


def test_softmax_fp16_extremes():
    big = np.finfo(np.float16).max
    x = np.array(
        [[big, -big, 0, 1], [-big, -big, -big, -big], [6e-8, -6e-8, 0, 0], [big, big, big, big]],
        dtype=np.float16,
    )
    np.testing.assert_allclose(gpu.softmax(x).astype(np.float64), ref_softmax(x, False), atol=1e-3)
    got = gpu.log_softmax(x).astype(np.float64)
    with np.errstate(over="ignore"):  # -131008 rounds to -inf in float16, as it must
        want = ref_softmax(x, True).astype(np.float16).astype(np.float64)
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    f = np.isfinite(want)
    np.testing.assert_allclose(got[f], want[f], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("axis", [0, 1, -3])
def test_softmax_any_axis_and_non_contiguous(axis):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((6, 10, 14)).astype(np.float32)
    views = [base, base[:, ::2, 1:], base.transpose(2, 0, 1), np.asfortranarray(base)]
    for x in views:
        for log in (False, True):
            got = gpu.log_softmax(x, axis=axis) if log else gpu.softmax(x, axis=axis)
            assert got.shape == x.shape
            assert got.flags.c_contiguous
            np.testing.assert_allclose(got, ref_softmax(x, log, axis), rtol=1e-5, atol=1e-6)


def test_softmax_empty_arrays_and_array_likes():
    for shape in [(0, 5), (3, 0), (0,)]:
        x = np.zeros(shape, dtype=np.float32)
        for fn in (gpu.softmax, gpu.log_softmax, gpu.rms_norm, gpu.layer_norm):
            y = fn(x)
            assert y.shape == shape
            assert y.dtype == np.float32

    class ArrayLike:
        """Not an ndarray: only NumPy's array protocol gives its values."""

        def __array__(self, dtype=None, copy=None):
            a = np.zeros((1, 2), dtype=np.float16)
            return a if dtype is None else a.astype(dtype)

    assert not isinstance(ArrayLike(), np.ndarray)
    y = gpu.softmax(ArrayLike())
    assert isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y, np.array([[0.5, 0.5]], dtype=np.float16))
    # a list becomes a float64 array, which the kernels do not take
    with pytest.raises(TypeError, match="dtype float64"):
        gpu.softmax([[0.0, 0.0]])


# ------------------------------------------------------------------------------------- norms


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cols", ROW_LENGTHS)
@pytest.mark.parametrize("rms", [True, False])
def test_norms_match_float64(cols, dtype, rms):
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((4, cols)) * 2 + 3).astype(np_dtype(dtype))
    x[1] = 0  # a constant row: variance 0, eps keeps it finite
    x[2] *= 50
    w = rng.standard_normal(cols).astype(np_dtype(dtype))
    b = rng.standard_normal(cols).astype(np_dtype(dtype))
    if rms:
        y = gpu.rms_norm(x, w)
        want = ref_norm(x, w, eps=1e-6, rms=True)
    else:
        y = gpu.layer_norm(x, w, b)
        want = ref_norm(x, w, b, eps=1e-5)
    assert y.dtype == x.dtype
    assert y.shape == x.shape
    rtol, _ = TOL[dtype]
    # normalised values are O(1): compare with an absolute tolerance on that scale
    scale = np.abs(want).max()
    np.testing.assert_allclose(y.astype(np.float64), want, rtol=rtol, atol=rtol * scale)


def test_norms_without_weight_and_bias():
    x = np.random.default_rng(2).standard_normal((3, 50)).astype(np.float32)
    np.testing.assert_allclose(gpu.rms_norm(x), ref_norm(x, eps=1e-6, rms=True), rtol=1e-5)
    y = gpu.layer_norm(x, eps=0.0)
    np.testing.assert_allclose(y, ref_norm(x, eps=0.0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-6)
    np.testing.assert_allclose(y.std(axis=1), 1, rtol=1e-5)


def test_layer_norm_has_no_cancellation():
    # mean 1e4, spread 1: E[x^2] - mean^2 in float32 would lose every significant digit
    x = (1e4 + np.random.default_rng(3).standard_normal((2, 4096))).astype(np.float32)
    np.testing.assert_allclose(gpu.layer_norm(x), ref_norm(x), atol=2e-3)


def test_layer_norm_of_rows_around_2e19():
    rng = np.random.default_rng(0)
    x = (2e19 * (1 + 1e-3 * rng.standard_normal((2, 40000)))).astype(np.float32)
    got = gpu.layer_norm(x).astype(np.float64)
    want = ref_norm(x)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3 * np.abs(want).max())


def test_norms_fp16_extremes():
    big = float(np.finfo(np.float16).max)
    x = np.array([[big, -big, big, -big], [6e-8, 0, -6e-8, 0], [big, big, big, big]], np.float16)
    # fp16 squares overflow; the float32 statistics do not
    got = gpu.rms_norm(x).astype(np.float64)
    np.testing.assert_allclose(got, ref_norm(x, eps=1e-6, rms=True), rtol=1e-3, atol=1e-3)
    assert np.isfinite(got).all()
    got = gpu.layer_norm(x).astype(np.float64)
    np.testing.assert_allclose(got, ref_norm(x), rtol=1e-3, atol=1e-3)


def test_norms_non_contiguous_input():
    base = np.random.default_rng(4).standard_normal((40, 30)).astype(np.float32)
    for x in (base.T, base[::3, 1:], np.asfortranarray(base)):
        w = np.linspace(0.5, 1.5, x.shape[-1], dtype=np.float32)
        np.testing.assert_allclose(
            gpu.rms_norm(x, w), ref_norm(x, w, eps=1e-6, rms=True), rtol=1e-5, atol=1e-6
        )
        np.testing.assert_allclose(gpu.layer_norm(x, w, w), ref_norm(x, w, w), rtol=1e-5, atol=1e-5)


# -------------------------------------------------------------------------------------- GEMV


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 33), (64, 1000), (300, 4096)])
@pytest.mark.parametrize("batch", [None, 1, 3, 8, 11])
def test_gemv_matches_float64(dtype, shape, batch):
    rng = np.random.default_rng(shape[1])
    w = rng.standard_normal(shape).astype(dtype)
    xshape = (shape[1],) if batch is None else (batch, shape[1])
    x = rng.standard_normal(xshape).astype(dtype)
    y = gpu.gemv(w, x)
    want = x.astype(np.float64) @ w.astype(np.float64).T
    assert y.dtype == w.dtype
    assert y.shape == want.shape
    # float32 accumulation of `in` products of O(1) terms; then output rounding
    bound = np.sqrt(shape[1]) * (1e-5 if dtype == "float32" else 2e-3)
    np.testing.assert_allclose(y.astype(np.float64), want, atol=bound, rtol=TOL[dtype][0])


def test_gemv_non_contiguous():
    rng = np.random.default_rng(5)
    w = rng.standard_normal((50, 80)).astype(np.float32)
    x = rng.standard_normal((4, 160)).astype(np.float32)
    got = gpu.gemv(w.T.copy().T, x[:, ::2])
    np.testing.assert_allclose(got, x[:, ::2] @ w.T, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ quantisation


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group_size", [None, 32, 64, 128])
@pytest.mark.parametrize("in_features", [1, 31, 100, 257, 1024])
def test_quantize_error_is_bounded(bits, group_size, in_features):
    rng = np.random.default_rng(in_features)
    w = rng.standard_normal((9, in_features)).astype(np.float32) * 0.1
    q = gpu.quantize(w, bits=bits, group_size=group_size)
    assert q.shape == w.shape
    assert q.bits == bits
    assert q.group_size == group_size
    assert q.data.dtype == np.uint8
    assert q.data.shape[1] % 16 == 0
    g = group_size or in_features
    assert q.scale.shape == (9, -(-in_features // g))
    step = np.repeat(q.scale, g, axis=1)[:, :in_features]
    err = np.abs(q.dequantize() - w)
    assert np.all(err <= 1.5 * step * (1 + 1e-6))
    assert err.mean() <= 0.35 * step.mean()
    codes = q.codes()
    assert codes.max() <= 2**bits - 1
    np.testing.assert_array_equal(q.zero, np.rint(q.zero))


def test_quantized_matrix_pickles_and_stays_on_the_host():
    import pickle

    q = gpu.quantize(np.random.default_rng(0).standard_normal((5, 40)).astype(np.float32), 4, 32)
    back = pickle.loads(pickle.dumps(q))
    np.testing.assert_array_equal(back.data, q.data)
    assert (back.shape, back.bits, back.group_size) == ((5, 40), 4, 32)
    assert not q.on_gpu
    assert q.to_host().data is q.data
    assert q.nbytes == q.data.nbytes + q.scale.nbytes + q.zero.nbytes


@pytest.mark.parametrize("bits", [8, 4])
def test_quantized_matrix_refuses_zero_points_the_kernel_would_round(bits):
    """The GPU adds the zero point to 2**23, which rounds a fractional one; the host would not.
    A zero point outside the codes' range is refused as well (the documented contract)."""
    q = gpu.quantize(np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32), bits)
    for bad in (q.zero + np.float32(0.5), np.full_like(q.zero, -1), np.full_like(q.zero, 2**bits)):
        with pytest.raises(ValueError, match="zero"):
            gpu.QuantizedMatrix(q.data, q.scale, bad, q.shape, q.bits, q.group_size)
    nan = q.zero.copy()
    nan[1, 0] = np.nan
    with pytest.raises(ValueError, match="zero"):
        gpu.QuantizedMatrix(q.data, q.scale, nan, q.shape, q.bits, q.group_size)
    top = np.full_like(q.zero, 2**bits - 1)  # integers in range stay accepted
    gpu.QuantizedMatrix(q.data, q.scale, top, q.shape, q.bits, q.group_size)


def test_group_size_must_not_split_a_kernel_chunk(monkeypatch):
    """gemv_quant reads 16-byte chunks (16 int8 or 32 int4 weights) and takes one group's
    scale per chunk, so a group size that is not a multiple of a chunk is refused even if the
    list of group sizes grows."""
    from sapwood.gpu import _quant

    monkeypatch.setattr(_quant, "GROUP_SIZES", (16, 32, 64, 128))
    w = np.random.default_rng(0).standard_normal((3, 64)).astype(np.float32)
    with pytest.raises(ValueError, match="multiple of 32"):
        gpu.quantize(w, bits=4, group_size=16)
    q8 = gpu.quantize(w, bits=8, group_size=16)  # 16 int8 weights fill one chunk exactly
    assert q8.n_groups == 4
    data4 = np.ascontiguousarray(q8.data[:, :32])
    with pytest.raises(ValueError, match="multiple of 32"):
        gpu.QuantizedMatrix(data4, q8.scale, q8.zero, q8.shape, 4, 16)


def test_int4_packing_layout():
    w = np.arange(34, dtype=np.float32).reshape(1, 34)  # per row: scale 33/15
    q = gpu.quantize(w, bits=4)
    codes = q.codes()[0]
    assert q.data[0, 0] == (codes[0] | (codes[1] << 4))
    assert q.data[0, 16] == codes[32] | (codes[33] << 4)
    assert np.all(q.data[0, 17:] == 0)  # row padded to 32 bytes


def test_quantize_keeps_zero_and_constant_groups():
    w = np.array([[0.0] * 32 + [2.5] * 32, [-1.25] * 64, [0.0] * 63 + [1.0]], dtype=np.float32)
    for bits in (8, 4):
        q = gpu.quantize(w, bits=bits, group_size=32)
        np.testing.assert_allclose(q.dequantize(), w, rtol=1e-6)
        assert np.all(q.dequantize()[w == 0] == 0)  # zero is exactly representable


@pytest.mark.parametrize("bits", [8, 4])
@pytest.mark.parametrize("group_size", [None, 32, 128])
@pytest.mark.parametrize("x_dtype", ["float32", "float16"])
@pytest.mark.parametrize("batch", [None, 1, 2, 8, 9])
def test_gemv_quantized_matches_dequantized_float64(bits, group_size, x_dtype, batch):
    rng = np.random.default_rng(bits)
    w = rng.standard_normal((70, 300)).astype(np.float32)
    q = gpu.quantize(w, bits=bits, group_size=group_size)
    x = rng.standard_normal((300,) if batch is None else (batch, 300)).astype(x_dtype)
    y = gpu.gemv_quantized(q, x)
    assert y.dtype == x.dtype
    want = x.astype(np.float64) @ q.dequantize().astype(np.float64).T
    tol = np.sqrt(300) * (1e-5 if x_dtype == "float32" else 3e-3)
    np.testing.assert_allclose(y.astype(np.float64), want, atol=tol, rtol=TOL[x_dtype][0])
    # and the quantised product approximates the exact one
    exact = x.astype(np.float64) @ w.astype(np.float64).T
    rel = np.linalg.norm(y.astype(np.float64) - exact) / np.linalg.norm(exact)
    assert rel < (0.01 if bits == 8 else 0.15)


# ------------------------------------------------------------------------------- bad input


def test_bad_input_errors():
    x = np.ones((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="axis 2 is out of range for an array of dimension 2"):
        gpu.softmax(x, axis=2)
    with pytest.raises(ValueError, match="out of range"):
        gpu.log_softmax(np.float32(1.0))
    with pytest.raises(TypeError, match="axis must be an int"):
        gpu.softmax(x, axis=1.0)
    with pytest.raises(TypeError, match="dtype float64; supported dtypes are float32, float16"):
        gpu.softmax(np.ones(3))
    with pytest.raises(TypeError, match="dtype int32"):
        gpu.rms_norm(np.ones(3, dtype=np.int32))
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\)"):
        gpu.rms_norm(x, np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        gpu.layer_norm(x, None, np.ones((1, 3), np.float32))
    with pytest.raises(TypeError, match="weight must be a floating-point array, got dtype int64"):
        gpu.rms_norm(x, np.ones(3, np.int64))
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        gpu.layer_norm(x, eps=-1.0)
    with pytest.raises(ValueError, match="eps must be a finite number >= 0"):
        gpu.rms_norm(x, eps=float("nan"))
    with pytest.raises(ValueError, match="shape mismatch"):
        gpu.gemv(np.ones((4, 3), np.float32), np.ones(5, np.float32))
    with pytest.raises(ValueError, match=r"w must be 2-D"):
        gpu.gemv(np.ones(3, np.float32), np.ones(3, np.float32))
    with pytest.raises(TypeError, match="dtype float64"):
        gpu.gemv(np.ones((3, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"x must have shape \(in,\) or \(batch, in\)"):
        gpu.gemv(np.ones((3, 3), np.float32), np.ones((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="bits must be 4 or 8, got 3"):
        gpu.quantize(np.ones((2, 2), np.float32), bits=3)
    with pytest.raises(ValueError, match="group_size must be None or one of"):
        gpu.quantize(np.ones((2, 2), np.float32), group_size=48)
    with pytest.raises(ValueError, match="NaN or infinity"):
        gpu.quantize(np.array([[1.0, np.nan]], np.float32))
    with pytest.raises(ValueError, match="must be 2-D"):
        gpu.quantize(np.ones(4, np.float32))
    q = gpu.quantize(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="shape mismatch"):
        gpu.gemv_quantized(q, np.ones(5, np.float32))
    with pytest.raises(TypeError, match="dtype float64"):
        gpu.gemv_quantized(q, np.ones(4))
    with pytest.raises(TypeError, match="must be a QuantizedMatrix"):
        gpu.gemv_quantized(np.ones((2, 4), np.float32), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="data must be uint8 of shape"):
        gpu.QuantizedMatrix(q.data[:, :8], q.scale, q.zero, q.shape, 8, None)


def test_is_available_is_a_bool():
    assert isinstance(gpu.is_available(), bool)


# ---------------------------------------------------------------------- dispatch and sources


def test_dispatch_picks_strategy_by_row_length():
    def strategy(cols, dtype="float32", pack=1):
        return _dispatch.plan_rows("softmax", dtype, 64, cols, pack).strategy

    assert strategy(1) == strategy(1024) == "softmax_warp"
    assert strategy(1025) == strategy(8193) == strategy(16384) == "softmax_smem"
    # 32768 fp32 values (128 KB) would leave room for only one block per SM
    assert strategy(32768) == strategy(65536) == "softmax_online"
    sub = _dispatch.plan_rows("rms_norm", "float16", 10, 7, 1)
    assert sub.name == "norm_warp<__half, 1, 1, 8>"
    assert sub.block == (8, 16, 1)
    long = _dispatch.plan_rows("softmax", "float32", 10_000, 65536, 4)
    assert long.grid == (132, 1, 1)  # 256 KB rows: one per SM keeps both reads within L2
    long = _dispatch.plan_rows("softmax", "float16", 10_000, 65536, 8)
    assert long.grid == (200, 1, 1)
    big = _dispatch.plan_rows("layer_norm", "float32", 10, 4096, 4)
    assert big.name == "norm_smem<float, 4, 256>"
    assert big.shared_mem == 4096 * 4


@pytest.mark.parametrize("kind", ["softmax", "rms_norm", "layer_norm"])
def test_smem_optin_counts_the_static_scratch(kind):
    """The default 48 KiB covers static and dynamic shared memory together: a cached row of
    12,257 to 12,288 fp32 values (12,288 is a common hidden size) plus the block reductions'
    128-byte scratch is over it, so the launch must opt in or it fails on the GPU."""
    for cols in (12257, 12288, 16384):
        plan = _dispatch.plan_rows(kind, "float32", 8, cols, 1)
        assert plan.strategy.endswith("_smem")
        assert _dispatch.smem_optin(plan) == plan.shared_mem, cols
    plan = _dispatch.plan_rows(kind, "float32", 8, 12256, 1)  # 49,024 + 128 B: exactly 48 KiB
    assert _dispatch.smem_optin(plan) == 0
    assert _dispatch.smem_optin(plan, static_bytes=132) == plan.shared_mem
    assert _dispatch.smem_optin(_dispatch.plan_rows(kind, "float32", 8, 1000, 1)) == 0


def test_shared_memory_rows_leave_room_for_two_blocks_per_sm():
    """A block's shared memory is its cached row, its static scratch and the 1 KiB the driver
    reserves per block; the longest row the shared-memory strategy takes must fit twice."""
    small = _dispatch.DeviceLimits(sm_count=80, smem_per_block_optin=101376, smem_per_sm=102400)
    for limits in (_dispatch.DeviceLimits(), small):
        longest = max(c for c in range(1025, 60000) if _dispatch.smem_fits(c, limits))
        for kind in ("softmax", "rms_norm", "layer_norm"):
            plan = _dispatch.plan_rows(kind, "float32", 4, longest, 1, limits)
            per_block = plan.shared_mem + _dispatch.STATIC_SMEM[plan.strategy] + 1024
            assert 2 * per_block <= limits.smem_per_sm, (kind, longest)
            assert plan.shared_mem + _dispatch.STATIC_SMEM[plan.strategy] <= (
                limits.smem_per_block_optin
            )
        next_plan = _dispatch.plan_rows("softmax", "float32", 4, longest + 1, 1, limits)
        assert next_plan.strategy == "softmax_online"


def test_dispatch_pack_respects_alignment_and_strides():
    assert _dispatch.choose_pack("float16", 1024, (1024,), (0, 256)) == 8
    assert _dispatch.choose_pack("float32", 1024, (1024,), (0, 256)) == 4
    assert _dispatch.choose_pack("float32", 1026, (1026,), (0,)) == 2
    assert _dispatch.choose_pack("float32", 1024, (1025,), (0,)) == 1  # strided rows
    assert _dispatch.choose_pack("float16", 1024, (1024,), (2, 256)) == 1  # misaligned view
    assert _dispatch.choose_pack("float16", 1024, (1024,), (4, 0)) == 2


def test_every_plan_is_an_instantiation_the_ci_compiles():
    every = {name for names in _dispatch.all_instantiations().values() for name in names}
    rng = np.random.default_rng(0)
    small = _dispatch.DeviceLimits(sm_count=80, smem_per_block_optin=101376, smem_per_sm=102400)
    for cols in [*ROW_LENGTHS, *rng.integers(1, 200_000, 200).tolist()]:
        for dtype in DTYPES:
            for kind in ("softmax", "rms_norm", "layer_norm"):
                for pack in _dispatch.packs_for(dtype):
                    if cols % pack:
                        continue
                    for limits in (None, small):
                        plan = _dispatch.plan_rows(kind, dtype, 3, int(cols), pack, limits)
                        assert plan.name in every, plan
                        assert plan.grid[0] >= 1
                        assert plan.block[0] * plan.block[1] <= 1024
    for dtype in ("float32", "float16"):
        for vec in _dispatch.gemv_vecs(dtype):
            for batch in range(1, 9):
                assert _dispatch.plan_gemv(dtype, 100, batch, vec).name in every
                for bits in (4, 8):
                    assert _dispatch.plan_gemv_quantized(bits, dtype, 100, batch).name in every


def test_program_sources_inline_the_common_header():
    for file in _sources.PROGRAM_FILES:
        src = _sources.program_source(file)
        assert src.count("namespace sapwood {") >= 1
        assert '#include "common.cuh"' not in src
        assert f'#line 1 "{file}"' in src
        assert '#line 1 "common.cuh"' in src
