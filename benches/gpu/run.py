"""Effective bandwidth of sapwood's GPU kernels beside a copy, CuPy, PyTorch and cuBLAS.

Run on a machine with a CUDA GPU and CuPy (``pip install 'sapwood[gpu]'``; PyTorch optional):

    python benches/gpu/run.py                 # every op, default sizes
    python benches/gpu/run.py --ops softmax gemv --json results.json

Method (see the module docstrings of the ops for the byte counts):

* Effective bandwidth = ideal bytes read + written / kernel time, in decimal GB/s. Ideal bytes
  count every tensor once (a kernel that re-reads its input from L2 gets no credit for it).
* Times are CUDA-event times per call, median of ``--reps`` samples after warm-up; a sample
  times 8 back-to-back calls (row ops) or one launch of a CUDA graph of 8 calls (GEMV, whose
  kernels are short enough for Python's launch overhead to matter).
* Every working set is larger than the L2 cache: inputs of at least ``--mbytes`` MB, and for
  GEMV the weights are rotated among enough copies to span four times the L2 size, so that every
  run reads from DRAM.
* Reference lines measured in the same run: a device-to-device copy of the same number of bytes
  (CuPy's elementwise copy kernel and cudaMemcpyAsync; the faster one is the "copy" column),
  CuPy's composite implementation, PyTorch's fused op when PyTorch is installed, and for GEMV
  cuBLAS (``cupy.matmul``) on fp16 weights.

Under NVIDIA's compute-sanitizer (memcheck by default; ``--tool racecheck`` etc. likewise):

    SAPWOOD_GPU_SANITIZE=1 compute-sanitizer --error-exitcode 86 python benches/gpu/run.py --quick

``--quick`` runs a few small cases (rows on each side of the shared-memory limits, a small
GEMV), once each, compares every sapwood result with the NumPy path and exits non-zero on a
mismatch; its timings mean nothing. ``SAPWOOD_GPU_SANITIZE=1`` turns CuPy's memory pool off so
that the sanitizer sees each array's own bounds.

The goals printed at the end: softmax, log_softmax and the norms at >= 90 % of the copy
bandwidth for rows of 1024 columns and more and faster than PyTorch at every size; int4 GEMV
>= 2.5x and int8 GEMV >= 1.6x the speed of fp16 cuBLAS at 8192 x 8192.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

ROW_OPS = ("softmax", "log_softmax", "rms_norm", "layer_norm")
DEFAULT_COLS = (128, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144)
#: --quick: each row strategy, the 48 KiB shared-memory boundary, and an odd streaming length.
QUICK_COLS = (1000, 1025, 12288, 16384, 40001)
SANITIZE = os.environ.get("SAPWOOD_GPU_SANITIZE", "") == "1"


def _require_gpu() -> Any:
    try:
        import cupy
    except ImportError:
        sys.exit("benches/gpu needs CuPy: pip install 'sapwood[gpu]'")
    from sapwood import gpu

    if not gpu.is_available():
        sys.exit("benches/gpu needs a CUDA GPU; none was found")
    if SANITIZE:
        cupy.cuda.set_allocator(None)  # each array its own allocation, for the sanitizer
    return cupy


class Mismatch(Exception):
    """A sapwood GPU result that disagrees with the NumPy path (--quick)."""


def check_close(what: str, got: Any, want: np.ndarray, rtol: float, atol: float) -> None:
    """Raise Mismatch unless the device result ``got`` matches the host result ``want``."""
    g = got.get().astype(np.float64)
    w = np.asarray(want, dtype=np.float64)
    same_nan = np.array_equal(np.isnan(g), np.isnan(w))
    ok = same_nan and np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
    if not ok:
        worst = float(np.nanmax(np.abs(g - w))) if same_nan else float("nan")
        raise Mismatch(f"{what}: GPU and NumPy paths differ (max abs difference {worst:g})")


def _torch() -> Any | None:
    try:
        import torch
    except ImportError:
        return None
    return torch if torch.cuda.is_available() else None


class Timer:
    """Median CUDA-event time of one call of a callable.

    Each sample times ``inner`` back-to-back calls and divides, so that the host's launch
    overhead overlaps the previous kernels. With ``graph=True`` the ``inner`` calls are first
    captured into a CUDA graph and the graph is launched, which removes the host overhead
    entirely (needed for kernels of a few microseconds, such as GEMV); if capture fails, it
    falls back to plain calls and says so.
    """

    def __init__(self, cp: Any, warmup: int, reps: int, inner: int = 8) -> None:
        self.cp = cp
        self.warmup = warmup
        self.reps = reps
        self.inner = inner

    def _capture(self, fn: Callable[[int], Any], stream: Any) -> Any | None:
        try:
            with stream:
                stream.begin_capture()
                try:
                    for j in range(self.inner):
                        fn(j)
                finally:
                    graph = stream.end_capture()
            return graph
        except Exception as exc:  # allocation or sync inside capture, old CuPy, ...
            print(f"  (CUDA graph capture failed: {type(exc).__name__}; timing plain calls)")
            return None

    def __call__(self, fn: Callable[[int], Any], graph: bool = False) -> float:
        """Seconds per call of ``fn(i)`` (``i`` selects a rotating buffer)."""
        cp = self.cp
        stream = cp.cuda.Stream(non_blocking=True) if graph else cp.cuda.get_current_stream()
        with stream:
            for i in range(self.warmup):
                fn(i)
        stream.synchronize()
        captured = self._capture(fn, stream) if graph else None
        times = []
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        with stream:
            for r in range(self.reps):
                start.record(stream)
                if captured is not None:
                    captured.launch(stream)
                else:
                    for j in range(self.inner):
                        fn(r * self.inner + j)
                stop.record(stream)
                stop.synchronize()
                times.append(cp.cuda.get_elapsed_time(start, stop) / 1e3 / self.inner)
        return statistics.median(times)


def device_facts(cp: Any) -> dict[str, Any]:
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    return {
        "gpu": name,
        "sm": f"{props['major']}{props['minor']}",
        "sm_count": props["multiProcessorCount"],
        "l2_bytes": int(dev.attributes["L2CacheSize"]),
        "driver": cp.cuda.runtime.driverGetVersion(),
        "runtime": cp.cuda.runtime.runtimeGetVersion(),
        "cupy": cp.__version__,
        "python": platform.python_version(),
    }


def _dtype(cp: Any, name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def copy_bandwidth(cp: Any, timer: Timer, nbytes: int) -> dict[str, float]:
    """GB/s (read + write) of a device-to-device copy of ``nbytes``."""
    src = cp.ones(nbytes // 4, dtype=cp.float32)
    dst = cp.empty_like(src)
    t_kernel = timer(lambda i: cp.copyto(dst, src))
    stream = cp.cuda.get_current_stream()
    t_memcpy = timer(lambda i: dst.data.copy_from_device_async(src.data, src.nbytes, stream))
    return {
        "copy_kernel": 2 * src.nbytes / t_kernel / 1e9,
        "memcpy": 2 * src.nbytes / t_memcpy / 1e9,
    }


def _composite(cp: Any, op: str) -> Callable[..., Any]:
    """CuPy's own array-expression implementation of each row op (fp32 math)."""

    def softmax(x: Any, log: bool) -> Any:
        xf = x.astype(cp.float32)
        z = xf - xf.max(axis=-1, keepdims=True)
        if log:
            return (z - cp.log(cp.exp(z).sum(axis=-1, keepdims=True))).astype(x.dtype)
        e = cp.exp(z)
        return (e / e.sum(axis=-1, keepdims=True)).astype(x.dtype)

    def rms(x: Any, w: Any, b: Any) -> Any:
        xf = x.astype(cp.float32)
        return (xf * cp.reciprocal(cp.sqrt((xf * xf).mean(-1, keepdims=True) + 1e-6)) * w).astype(
            x.dtype
        )

    def layer(x: Any, w: Any, b: Any) -> Any:
        xf = x.astype(cp.float32)
        mean = xf.mean(-1, keepdims=True)
        var = ((xf - mean) ** 2).mean(-1, keepdims=True)
        return ((xf - mean) / cp.sqrt(var + 1e-5) * w + b).astype(x.dtype)

    return {
        "softmax": lambda x, w, b: softmax(x, False),
        "log_softmax": lambda x, w, b: softmax(x, True),
        "rms_norm": rms,
        "layer_norm": layer,
    }[op]


def _torch_op(torch: Any, op: str) -> Callable[..., Any] | None:
    f = torch.nn.functional
    if op == "softmax":
        return lambda x, w, b: torch.softmax(x, dim=-1)
    if op == "log_softmax":
        return lambda x, w, b: torch.log_softmax(x, dim=-1)
    if op == "rms_norm":
        if not hasattr(f, "rms_norm"):
            return None
        return lambda x, w, b: f.rms_norm(x, (x.shape[-1],), w, 1e-6)
    return lambda x, w, b: f.layer_norm(x, (x.shape[-1],), w, b, 1e-5)


def _ours(op: str) -> Callable[..., Any]:
    from sapwood import gpu

    return {
        "softmax": lambda x, w, b: gpu.softmax(x),
        "log_softmax": lambda x, w, b: gpu.log_softmax(x),
        "rms_norm": lambda x, w, b: gpu.rms_norm(x, w),
        "layer_norm": lambda x, w, b: gpu.layer_norm(x, w, b),
    }[op]


def _bench_row_case(
    cp: Any,
    timer: Timer,
    ops: list[str],
    dtype_name: str,
    cols: int,
    mbytes: int,
    copy_gbs: float,
    quick: bool = False,
) -> list[dict]:
    """Every row op on one (rows, cols) matrix of ``mbytes`` MB (``quick``: a few rows, each
    result checked against the NumPy path)."""
    torch = None if quick else _torch()
    dtype = _dtype(cp, dtype_name)
    rows = 5 if quick else max(1, mbytes * 10**6 // (cols * dtype.itemsize))
    x = cp.asarray(np.random.default_rng(0).standard_normal((rows, cols)), dtype=dtype)
    w = cp.ones(cols, dtype=dtype)
    b = cp.zeros(cols, dtype=dtype)
    targs = None
    if torch is not None:
        try:  # zero-copy views of the same buffers
            targs = tuple(torch.from_dlpack(a) for a in (x, w, b))
        except Exception as exc:
            print(f"  (no PyTorch view of {dtype_name} arrays: {type(exc).__name__})")
    results = []
    for op in ops:
        weights = {"rms_norm": 1, "layer_norm": 2}.get(op, 0)
        nbytes = 2 * x.nbytes + weights * w.nbytes
        row: dict[str, Any] = {"op": op, "dtype": dtype_name, "rows": rows, "cols": cols}
        ours, composite = _ours(op), _composite(cp, op)
        if quick:
            tol = {"float32": 1e-5, "float16": 2e-3, "bfloat16": 1.6e-2}[dtype_name]
            host = [a.get() for a in (x, w, b)]
            check_close(f"{op} {dtype_name} {rows}x{cols}", ours(x, w, b), ours(*host), tol, tol)
        t = timer(lambda i, f=ours: f(x, w, b))
        row["sapwood_gbs"] = nbytes / t / 1e9
        row["sapwood_us"] = t * 1e6
        t = timer(lambda i, f=composite: f(x, w, b))
        row["cupy_gbs"] = nbytes / t / 1e9
        fn = _torch_op(torch, op) if targs is not None else None
        if fn is not None:
            t = timer(lambda i, f=fn: f(*targs))
            row["torch_gbs"] = nbytes / t / 1e9
        row["vs_copy"] = row["sapwood_gbs"] / copy_gbs
        results.append(row)
        print(_row_line(row), flush=True)
    return results


def bench_rows(cp: Any, timer: Timer, args: argparse.Namespace, copy_gbs: float) -> list[dict]:
    ops = [op for op in args.ops if op in ROW_OPS]
    results = []
    for dtype_name in args.dtypes:
        for cols in args.cols:
            results += _bench_row_case(
                cp, timer, ops, dtype_name, cols, args.mbytes, copy_gbs, args.quick
            )
            cp.get_default_memory_pool().free_all_blocks()
    return results


def _row_line(r: dict) -> str:
    torch = f"{r['torch_gbs']:8.0f}" if "torch_gbs" in r else "       -"
    return (
        f"{r['op']:<12} {r['dtype']:<9} {r['rows']:>8} x {r['cols']:<7} "
        f"{r['sapwood_us']:9.1f} us {r['sapwood_gbs']:8.0f} GB/s {r['vs_copy']:6.1%} of copy "
        f"| cupy {r['cupy_gbs']:7.0f} | torch {torch}"
    )


def bench_gemv(cp: Any, timer: Timer, args: argparse.Namespace, l2: int) -> list[dict]:
    from sapwood import gpu

    results = []
    rng = np.random.default_rng(0)
    # The calls allocate their outputs: without the pool (SANITIZE) each is a cudaMalloc,
    # which a stream capture does not allow, so graphs are only used with the pool.
    graph = not SANITIZE
    for out, inn in args.gemv_shapes:
        w_host = (rng.standard_normal((out, inn)) / math.sqrt(inn)).astype(np.float32)
        w16 = cp.asarray(w_host, dtype=cp.float16)
        # rotate through > 4x L2 of weights (--quick: one copy)
        copies = 1 if args.quick else max(1, math.ceil(4 * l2 / w16.nbytes))
        for batch in args.batches:
            x16 = cp.asarray(rng.standard_normal((batch, inn)), dtype=cp.float16)
            xt = x16.T.copy()  # (in, batch) for cuBLAS: y^T = W x^T
            if args.quick:
                what = f"gemv {out}x{inn} b={batch}"
                check_close(what, gpu.gemv(w16, x16), gpu.gemv(w16.get(), x16.get()), 2e-3, 2e-3)
            ws = [w16] + [w16.copy() for _ in range(copies - 1)]
            t_cublas = timer(lambda i, ws=ws, xt=xt: cp.matmul(ws[i % len(ws)], xt), graph=graph)
            t_dense = timer(lambda i, ws=ws, x16=x16: gpu.gemv(ws[i % len(ws)], x16), graph=graph)
            base = {"out": out, "in": inn, "batch": batch}
            weight_bytes = w16.nbytes
            results.append(
                dict(base, kind="cublas fp16", us=t_cublas * 1e6, gbs=weight_bytes / t_cublas / 1e9)
            )
            results.append(
                dict(
                    base,
                    kind="sapwood fp16",
                    us=t_dense * 1e6,
                    gbs=weight_bytes / t_dense / 1e9,
                    speedup=t_cublas / t_dense,
                )
            )
            del ws
            for bits, group in ((8, None), (8, 128), (4, None), (4, 128)):
                q0 = gpu.quantize(w16, bits=bits, group_size=group)
                if args.quick:
                    want = gpu.gemv_quantized(q0.to_host(), x16.get())
                    what = f"gemv int{bits} g{group} {out}x{inn} b={batch}"
                    check_close(what, gpu.gemv_quantized(q0, x16), want, 2e-3, 2e-3)
                n = 1 if args.quick else max(1, math.ceil(4 * l2 / q0.nbytes))
                qs = [q0] + [gpu.quantize(w16, bits=bits, group_size=group) for _ in range(n - 1)]
                t = timer(
                    lambda i, qs=qs, x16=x16: gpu.gemv_quantized(qs[i % len(qs)], x16), graph=graph
                )
                results.append(
                    dict(
                        base,
                        kind=f"sapwood int{bits} g{group or 'row'}",
                        us=t * 1e6,
                        gbs=q0.nbytes / t / 1e9,
                        speedup=t_cublas / t,
                    )
                )
                del qs, q0
                cp.get_default_memory_pool().free_all_blocks()
            for r in results[-6:]:
                speed = f"{r['speedup']:5.2f}x cuBLAS" if "speedup" in r else ""
                print(
                    f"gemv {r['out']}x{r['in']} b={r['batch']} {r['kind']:<20} "
                    f"{r['us']:8.1f} us {r['gbs']:7.0f} GB/s (weights) {speed}",
                    flush=True,
                )
    return results


def goals(rows: list[dict], gemvs: list[dict]) -> list[str]:
    lines = []
    long_rows = [r for r in rows if r["cols"] >= 1024]
    if long_rows:
        worst = min(long_rows, key=lambda r: r["vs_copy"])
        ok = worst["vs_copy"] >= 0.9
        lines.append(
            f"[{'met' if ok else 'MISSED'}] row ops >= 90% of copy at cols >= 1024: worst "
            f"{worst['vs_copy']:.1%} ({worst['op']} {worst['dtype']} cols={worst['cols']})"
        )
    with_torch = [r for r in rows if "torch_gbs" in r]
    if with_torch:
        slower = [r for r in with_torch if r["sapwood_gbs"] < r["torch_gbs"]]
        lines.append(
            f"[{'met' if not slower else 'MISSED'}] faster than PyTorch: "
            f"{len(with_torch) - len(slower)}/{len(with_torch)} cases"
        )
    for bits, goal in ((4, 2.5), (8, 1.6)):
        cases = [
            g
            for g in gemvs
            if g["out"] == g["in"] == 8192
            and g["batch"] == 1
            and g["kind"].startswith(f"sapwood int{bits}")
        ]
        if cases:
            best = max(cases, key=lambda g: g["speedup"])
            ok = best["speedup"] >= goal
            lines.append(
                f"[{'met' if ok else 'MISSED'}] int{bits} GEMV >= {goal}x fp16 cuBLAS at 8192^2: "
                f"{best['speedup']:.2f}x ({best['kind']})"
            )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", nargs="+", default=[*ROW_OPS, "gemv"])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16", "bfloat16"])
    parser.add_argument("--cols", nargs="+", type=int, default=list(DEFAULT_COLS))
    parser.add_argument("--mbytes", type=int, default=256, help="input size per row-op case, MB")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8])
    parser.add_argument(
        "--gemv-shapes", nargs="+", default=["8192x8192", "4096x4096", "28672x8192"]
    )
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a few small cases, run once and checked against NumPy (for compute-sanitizer)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.cols, args.mbytes, args.warmup, args.reps = list(QUICK_COLS), 4, 1, 1
        args.gemv_shapes, args.batches = ["300x4096"], [1, 3]
    args.gemv_shapes = [tuple(int(v) for v in s.split("x")) for s in args.gemv_shapes]
    cp = _require_gpu()
    if "bfloat16" in args.dtypes:
        try:
            cp.asarray(np.ones(1, dtype=_dtype(cp, "bfloat16")))
        except Exception:
            print("(bfloat16 arrays are not supported by this CuPy; skipping bfloat16)")
            args.dtypes = [d for d in args.dtypes if d != "bfloat16"]
    timer = Timer(cp, args.warmup, args.reps)
    facts = device_facts(cp)
    print(" ".join(f"{k}={v}" for k, v in facts.items()))
    torch = _torch()
    print(f"torch={torch.__version__ if torch is not None else 'not installed'}")
    copy = copy_bandwidth(cp, timer, args.mbytes * 10**6)
    copy_gbs = max(copy.values())
    print(
        f"device-to-device copy of {args.mbytes} MB: kernel {copy['copy_kernel']:.0f} GB/s, "
        f"memcpy {copy['memcpy']:.0f} GB/s (read + write)"
    )
    try:
        rows = bench_rows(cp, timer, args, copy_gbs) if set(args.ops) & set(ROW_OPS) else []
        gemvs = bench_gemv(cp, timer, args, facts["l2_bytes"]) if "gemv" in args.ops else []
    except Mismatch as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print()
    if args.quick:
        print("--quick: every GPU result matched the NumPy path (timings are not meaningful)")
    else:
        for line in goals(rows, gemvs):
            print(line)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"device": facts, "copy": copy, "rows": rows, "gemv": gemvs}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
