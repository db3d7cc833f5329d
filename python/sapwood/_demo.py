"""The sections of ``sapwood demo``: each capability shows itself on built-in or generated data.

A section is a name, a title and a function that prints its results. Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sapwood import _native


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    run: Callable[[], None]


def _threads() -> None:
    """The thread policy every engine follows."""
    for n_jobs in (None, -1, 1, 2):
        print(f"  n_jobs={n_jobs!s:<5} -> {_native.effective_n_jobs(n_jobs)} thread(s)")
    print(f"  numpy {np.__version__}; GIL released during every long Rust call")


def _timed(label: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<40} {time.perf_counter() - start:8.3f} s")
    return out


def _gpu() -> None:
    """The GPU kernels: on CuPy arrays when a GPU is present, else the NumPy path."""
    from sapwood import gpu

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4096)).astype(np.float16) * 4
    x[0] = -np.inf  # a fully masked row
    w = (rng.standard_normal((1024, 4096)) / 64).astype(np.float32)
    v = rng.standard_normal(4096).astype(np.float32)
    on_gpu = gpu.is_available()
    if on_gpu:
        import cupy

        xp, where = cupy, "GPU (CuPy, kernels from cuda/)"
        to_host = cupy.asnumpy
    else:
        xp, where = np, "host (NumPy path; no CUDA GPU found)"

        def to_host(a):
            return a

    print(f"  running on: {where}")
    xd, wd, vd = xp.asarray(x), xp.asarray(w), xp.asarray(v)
    p = to_host(gpu.softmax(xd)).astype(np.float64)
    print(
        f"  softmax fp16 64x4096: row sums in [{p[1:].sum(1).min():.4f}, "
        f"{p[1:].sum(1).max():.4f}], masked row -> {p[0].max():g} (zeros, not NaN)"
    )
    y = to_host(gpu.layer_norm(xd[1:])).astype(np.float64)
    print(
        f"  layer_norm: row means |.| <= {np.abs(y.mean(1)).max():.1e}, stds {y.std(1).mean():.4f}"
    )
    exact = w.astype(np.float64) @ v
    dense = to_host(gpu.gemv(wd, vd))
    print(f"  gemv fp32 1024x4096: max |error| {np.abs(dense - exact).max():.1e}")
    for bits, group in ((8, None), (4, 128)):
        q = gpu.quantize(wd, bits=bits, group_size=group)
        approx = to_host(gpu.gemv_quantized(q, vd))
        rel = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
        print(
            f"  int{bits} (group {group or 'row'}): {w.nbytes / q.nbytes:4.1f}x smaller, "
            f"relative error of W @ x {rel:.1e}"
        )


SECTIONS: list[Section] = [
    Section("threads", "Thread policy", _threads),
    Section("gpu", "GPU kernels: softmax, norms, (quantised) GEMV", _gpu),
]
