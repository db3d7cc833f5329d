"""The CUDA kernels, run on the CPU through a small emulation of the CUDA execution model.

There is no GPU in CI, so the kernel sources are also compiled with the host C++ compiler
against a shim that plays the CUDA execution model: one OS thread per CUDA thread, a barrier per
block for ``__syncthreads``, a barrier and an exchange buffer per warp for ``__shfl_xor_sync``,
static storage for ``__shared__`` (blocks run one after another), and fp16/bf16 types with
round-to-nearest-even conversions. The launch shapes come from the real dispatcher, with grids
cut to one to three blocks so that every grid-stride loop runs. This checks the kernels' index
arithmetic, padding, packing, reductions and edge rows; it says nothing about speed, and it is
not a substitute for ``test_gpu_cuda.py`` on a real GPU.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from test_gpu_numpy import ref_norm, ref_softmax

from sapwood import gpu
from sapwood.gpu import _dispatch, _sources

CXX = shutil.which("g++") or shutil.which("clang++")
pytestmark = pytest.mark.skipif(CXX is None, reason="needs a host C++ compiler")

SHIM_FP16 = """
#pragma once
#include <cstdint>
#include <cstring>
struct __half { _Float16 v; };
inline float __half2float(__half h) { return (float)h.v; }
inline __half __float2half_rn(float f) { return __half{(_Float16)f}; }
"""

SHIM_BF16 = """
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
struct __nv_bfloat16 { uint16_t bits; };
inline float __bfloat162float(__nv_bfloat16 b) {
    uint32_t u = (uint32_t)b.bits << 16; float f; std::memcpy(&f, &u, 4); return f;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u; std::memcpy(&u, &f, 4);
    if (std::isnan(f)) return __nv_bfloat16{0x7fc0};
    u += 0x7fffu + ((u >> 16) & 1u);
    return __nv_bfloat16{(uint16_t)(u >> 16)};
}
"""

EMU = """
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <thread>
#include <vector>
#include <math.h>

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct uint4 { unsigned x, y, z, w; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }

namespace emu {
struct Warp {
    explicit Warp() : bar(32) {}
    std::barrier<> bar;
    float buf[32];
};
inline thread_local dim3 tid, bid;
inline thread_local int lane, warp;
inline dim3 bdim, gdim;
inline std::barrier<>* block_bar = nullptr;
inline std::vector<std::unique_ptr<Warp>> warps;
inline std::vector<float> dyn_smem;

inline void launch(dim3 grid, dim3 block, size_t smem, const std::function<void()>& body) {
    gdim = grid;
    bdim = block;
    const int n = block.x * block.y * block.z;
    if (n % 32) { std::fprintf(stderr, "block of %d threads\\n", n); std::exit(3); }
    dyn_smem.assign(smem / 4 + 1, NAN);
    std::barrier<> bar(n);
    block_bar = &bar;
    warps.clear();
    for (int w = 0; w < n / 32; ++w) warps.emplace_back(new Warp());
    for (unsigned b = 0; b < grid.x; ++b) {
        std::vector<std::thread> threads;
        for (int t = 0; t < n; ++t) {
            threads.emplace_back([=, &body] {
                bid = dim3{b, 0, 0};
                tid = dim3{(unsigned)(t % block.x), (unsigned)(t / block.x), 0};
                lane = t % 32;
                warp = t / 32;
                body();
            });
        }
        for (auto& th : threads) th.join();
    }
}
}  // namespace emu

#define threadIdx emu::tid
#define blockIdx emu::bid
#define blockDim emu::bdim
#define gridDim emu::gdim
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict

inline void __syncthreads() { emu::block_bar->arrive_and_wait(); }
inline float __shfl_xor_sync(unsigned, float v, int mask, int width = 32) {
    emu::Warp& w = *emu::warps[emu::warp];
    w.buf[emu::lane] = v;
    w.bar.arrive_and_wait();
    const int src = emu::lane ^ mask;
    const float r = (src / width == emu::lane / width) ? w.buf[src] : v;
    w.bar.arrive_and_wait();
    return r;
}
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }

inline std::vector<char> read_file(const char* path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    data.resize(data.size() + 64);  // never empty, room for padding reads
    return data;
}
inline void write_file(const char* path, const std::vector<char>& data, size_t n) {
    std::ofstream(path, std::ios::binary).write(data.data(), n);
}
"""

CTYPE = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}


@dataclass
class Case:
    """One launch: the kernel call (C++), its inputs and the output size in bytes."""

    file: str
    call: str
    grid: int
    block: tuple[int, int, int]
    smem: int
    inputs: list[np.ndarray]
    out_bytes: int


def _program(cases: list[Case]) -> str:
    parts = ['#include "emu.h"'] + [f'#include "{file}"' for file in _sources.PROGRAM_FILES]
    body = []
    for i, case in enumerate(cases):
        ins = "\n".join(f"auto in{j} = read_file(argv[{2 + j}]);" for j in range(len(case.inputs)))
        out_arg = 2 + len(case.inputs)
        bx, by, bz = case.block
        body.append(
            textwrap.dedent(
                f"""
                case {i}: {{
                    {ins}
                    std::vector<char> out({case.out_bytes} + 64);
                    emu::launch(dim3{{{case.grid}, 1, 1}}, dim3{{{bx}, {by}, {bz}}}, {case.smem},
                                [&] {{ {case.call}; }});
                    write_file(argv[{out_arg}], out, {case.out_bytes});
                    break;
                }}"""
            )
        )
    parts.append(
        "int main(int argc, char** argv) {\n  switch (std::atoi(argv[1])) {"
        + "".join(body)
        + "\n  default: return 2;\n  }\n  return 0;\n}\n"
    )
    return "\n".join(parts)


def _ptr(j: int, ctype: str) -> str:
    return f"reinterpret_cast<const {ctype}*>(in{j}.data())"


def _out(ctype: str) -> str:
    return f"reinterpret_cast<{ctype}*>(out.data())"


NO_SMEM = _dispatch.DeviceLimits(smem_per_block_optin=0, smem_per_sm=0)


def _grid(planned: int) -> int:
    return min(planned, 2)  # few blocks: the grid-stride loops run


def row_case(kind, xfull, cols, w=None, b=None, log=False, eps=1e-5, limits=None) -> Case:
    """A row op on xfull[:, :cols] (rows ``xfull.shape[1]`` elements apart), planned as the
    facade plans it."""
    dtype = np.dtype(xfull.dtype).name
    ctype = CTYPE[dtype]
    rows, ld = xfull.shape
    pack = _dispatch.choose_pack(dtype, cols, (ld,), (0,))
    plan = _dispatch.plan_rows(kind, dtype, rows, cols, pack, limits)
    inputs = [xfull]
    if kind == "softmax":
        call = f"{plan.name}({_ptr(0, ctype)}, {_out(ctype)}, {rows}LL, {cols}, {ld}LL, {int(log)})"
    else:
        ptrs = []
        for arr in (w, b):
            if arr is None:
                ptrs.append("nullptr")
            else:
                inputs.append(arr)
                ptrs.append(_ptr(len(inputs) - 1, ctype))
        rms = int(kind == "rms_norm")
        call = (
            f"{plan.name}({_ptr(0, ctype)}, {ptrs[0]}, {ptrs[1]}, {_out(ctype)}, {rows}LL, "
            f"{cols}, {ld}LL, {float(eps)!r}f, {rms})"
        )
    out_bytes = rows * cols * xfull.itemsize
    return Case(
        plan.file, call, _grid(plan.grid[0]), plan.block, plan.shared_mem, inputs, out_bytes
    )


def gemv_case(w: np.ndarray, x2: np.ndarray, in_features: int) -> Case:
    dtype = np.dtype(w.dtype).name
    ctype = CTYPE[dtype]
    out, ldw = w.shape
    vec = _dispatch.choose_gemv_vec(dtype, in_features, ldw, (0,))
    plan = _dispatch.plan_gemv(dtype, out, x2.shape[0], vec)
    args = f"{_ptr(0, ctype)}, {_ptr(1, ctype)}, {_out(ctype)}, {out}, {in_features}, {ldw}LL"
    call = f"{plan.name}({args})"
    return Case(
        plan.file, call, _grid(plan.grid[0]), plan.block, 0, [w, x2], x2.shape[0] * out * w.itemsize
    )


def quant_case(q: gpu.QuantizedMatrix, x2: np.ndarray) -> Case:
    dtype = np.dtype(x2.dtype).name
    ctype = CTYPE[dtype]
    out, in_features = q.shape
    plan = _dispatch.plan_gemv_quantized(q.bits, dtype, out, x2.shape[0])
    x_vec = int(in_features % (16 // x2.itemsize) == 0)
    call = (
        f"{plan.name}(reinterpret_cast<const unsigned char*>(in0.data()), "
        f"reinterpret_cast<const float*>(in1.data()), reinterpret_cast<const float*>(in2.data()), "
        f"{_ptr(3, ctype)}, {_out(ctype)}, {out}, {in_features}, {q.data.shape[1]}, "
        f"{q.effective_group_size}, {q.n_groups}, {x_vec})"
    )
    inputs = [q.data, q.scale, q.zero, x2]
    return Case(
        plan.file, call, _grid(plan.grid[0]), plan.block, 0, inputs, x2.shape[0] * out * x2.itemsize
    )


# ------------------------------------------------------------------------------------- cases


def _bf16():
    try:
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    except ImportError:  # pragma: no cover
        return None


def _rows(rows, cols, dtype, seed, ld=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, ld or cols)) * 3
    x[0, ::3] = -np.inf
    if rows > 2:
        x[2] = -np.inf
    return x.astype(dtype)


def build_cases():
    """(case, expected float64 output, rtol, atol) for every emulated launch."""
    bf16 = _bf16()
    f32, f16 = np.dtype(np.float32), np.dtype(np.float16)
    cases = []
    softmax_shapes = [
        (5, 1, f32, None, None),
        (21, 7, f32, None, None),  # sub-warp groups of 8, a partial block of rows
        (37, 33, f32, None, None),  # scalar packs, 2 per lane, grid-stride over rows
        (9, 1000, f32, None, None),  # 4-wide packs
        (6, 1024, f16, None, None),  # 8-wide packs
        (5, 1024, f32, 1032, None),  # strided rows
        (4, 1025, f32, None, None),  # shared memory, scalar packs
        (4, 4096, bf16 or f16, None, None),  # shared memory, 8-wide packs
        (3, 8193, f32, None, None),
        (3, 3000, f16, None, NO_SMEM),  # streaming
        (3, 70001, f32, None, None),  # streaming, odd length
    ]
    for rows, cols, dtype, ld, limits in softmax_shapes:
        xfull = _rows(rows, cols, dtype, cols, ld)
        x = xfull[:, :cols]
        tol = {"float32": 3e-6, "float16": 1.2e-3, "bfloat16": 8e-3}[dtype.name]
        for log in (False, True):
            case = row_case("softmax", xfull, cols, log=log, limits=limits)
            want = ref_softmax(x, log)
            if log:
                cases.append((case, want, tol, tol))
            else:
                cases.append((case, want, tol, tol * 1e-3))
    for cols, limits in ((40, None), (3000, NO_SMEM), (5000, None)):
        x = np.zeros((4, cols), dtype=np.float32)
        x[0, 5] = np.nan
        x[1, 7] = np.inf
        x[2] = -np.inf
        x[2, 3] = np.nan
        x[3, 1] = -np.inf  # an ordinary row with one -inf
        for log in (False, True):
            want = ref_softmax(x, log)
            cases.append((row_case("softmax", x, cols, log=log, limits=limits), want, 3e-6, 3e-9))
    big = float(np.finfo(np.float16).max)
    x = np.array([[big, -big] * 20, [6e-8, 0] * 20, [big] * 40], dtype=np.float16)
    for kind in ("rms_norm", "layer_norm"):
        rms = kind == "rms_norm"
        want = ref_norm(x, eps=1e-6 if rms else 1e-5, rms=rms)
        case = row_case(kind, x, 40, eps=1e-6 if rms else 1e-5)
        cases.append((case, want, 1.2e-3, 1.2e-3))
    norm_shapes = [
        (21, 7, f32, None),
        (37, 100, f32, None),
        (6, 1024, f16, None),
        (4, 2000, bf16 or f16, None),
        (3, 3000, f32, NO_SMEM),
        (3, 4104, f16, NO_SMEM),
    ]
    for rows, cols, dtype, limits in norm_shapes:
        rng = np.random.default_rng(cols)
        x = (rng.standard_normal((rows, cols)) * 2 + 5).astype(dtype)
        x[1] = 0
        wv = rng.standard_normal(cols).astype(dtype)
        bv = rng.standard_normal(cols).astype(dtype)
        tol = {"float32": 1e-5, "float16": 1.2e-3, "bfloat16": 8e-3}[dtype.name]
        for kind in ("rms_norm", "layer_norm"):
            rms = kind == "rms_norm"
            eps = 1e-6 if rms else 1e-5
            for w, b in ((wv, None if rms else bv), (None, None)):
                case = row_case(kind, x, cols, w, b, eps=eps, limits=limits)
                want = ref_norm(x, w, b, eps=eps, rms=rms)
                cases.append((case, want, tol, tol * np.abs(want).max()))
    rng = np.random.default_rng(0)
    for out, inn, ldw, batch, dtype in [
        (33, 70, 70, 3, f32),
        (64, 256, 256, 1, f16),
        (65, 256, 256, 8, f16),
        (40, 64, 72, 2, f32),
    ]:
        wfull = rng.standard_normal((out, ldw)).astype(dtype)
        x2 = rng.standard_normal((batch, inn)).astype(dtype)
        want = x2.astype(np.float64) @ wfull[:, :inn].astype(np.float64).T
        tol = 1e-5 if dtype == f32 else 2e-3
        cases.append((gemv_case(wfull, x2, inn), want, tol, tol * np.sqrt(inn)))
    for out, inn, bits, group, batch, dtype in [
        (50, 100, 8, None, 1, f32),
        (50, 257, 4, 32, 3, f16),
        (9, 1024, 4, 128, 8, f32),
        (70, 320, 8, 64, 2, f16),
        (33, 31, 4, None, 5, f32),
    ]:
        w = rng.standard_normal((out, inn)).astype(np.float32)
        q = gpu.quantize(w, bits=bits, group_size=group)
        x2 = rng.standard_normal((batch, inn)).astype(dtype)
        want = x2.astype(np.float64) @ q.dequantize().astype(np.float64).T
        tol = 1e-5 if dtype == f32 else 2e-3
        cases.append((quant_case(q, x2), want, tol, tol * np.sqrt(inn) * 4))
    return cases


CASES = build_cases()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cuda_emulation")
    (root / "cuda_fp16.h").write_text(SHIM_FP16)
    (root / "cuda_bf16.h").write_text(SHIM_BF16)
    (root / "emu.h").write_text(EMU)
    for name, text in _sources.raw_sources().items():
        dynamic = "float* cache = emu::dyn_smem.data();"  # blocks run one at a time
        (root / name).write_text(text.replace("extern __shared__ float cache[];", dynamic))
    (root / "kernels.cpp").write_text(_program([c for c, *_ in CASES]))
    exe = root / "kernels"
    cmd = [CXX, "-std=c++20", "-O1", "-pthread", "-w", f"-I{root}", "kernels.cpp", "-o", str(exe)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        if "barrier" in proc.stderr and "No such file" in proc.stderr:
            pytest.skip("the host C++ compiler lacks <barrier> (C++20)")
        if "_Float16" in proc.stderr:
            pytest.skip("the host C++ compiler has no _Float16 on this target")
        raise AssertionError(f"host compile of the kernels failed:\n{proc.stderr[-4000:]}")
    return exe


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: CASES[i][0].call.split("(")[0])
def test_kernel_on_emulated_gpu(emulator, index, tmp_path):
    case, want, rtol, atol = CASES[index]
    paths = []
    for j, arr in enumerate(case.inputs):
        path = tmp_path / f"in{j}.bin"
        np.ascontiguousarray(arr).tofile(path)
        paths.append(str(path))
    out_path = tmp_path / "out.bin"
    proc = subprocess.run(
        [str(emulator), str(index), *paths, str(out_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    dtype = case.inputs[-1].dtype if case.file == "gemv.cu" else case.inputs[0].dtype
    got = np.fromfile(out_path, dtype=dtype).astype(np.float64).reshape(want.shape)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    scale = np.maximum(np.abs(want[finite]), 1.0) if "log" in case.call else 1.0
    err = np.abs(got[finite] - want[finite]) / scale
    bound = atol + rtol * np.abs(want[finite]) if np.isscalar(scale) else 2 * rtol
    assert np.all(err <= bound), (case.call, float(np.max(err - bound)))
