"""The CUDA kernels, run on the CPU through a small emulation of the CUDA execution model.

There is no GPU in CI, so the kernel sources are also compiled with the host C++ compiler
against a shim that plays the CUDA execution model: one OS thread per CUDA thread, a barrier per
block for ``__syncthreads``, a barrier and an exchange buffer per warp for ``__shfl_xor_sync``,
and fp16/bf16 types with round-to-nearest-even conversions. The launch shapes come from the real
dispatcher, with grids cut to at most three blocks so that every grid-stride loop runs.

Out-of-bounds accesses must fail here rather than land in padding, so the harness is strict:

* every global buffer sits between guard bytes holding a pattern that reads as NaN in fp32,
  fp16 and bf16 (an out-of-bounds read poisons the result); the guards are checked after each
  launch (an out-of-bounds write fails the launch), inputs must come back unchanged, and output
  elements nobody wrote stay NaN. Where the compiler has AddressSanitizer the guards are also
  poisoned for it, so any access to them aborts on the spot;
* vector loads and stores check their alignment, and inputs are also placed at misaligned
  addresses so that the planner's scalar-load paths run;
* shared memory (static and dynamic) is re-poisoned with NaN before every block, with guard
  words around each array that are checked after every block;
* a launch asking for more than 48 KiB of shared memory (static plus dynamic) fails unless the
  host opted in as the CuPy path does, and the kernels' static shared memory must be what the
  dispatcher assumes.

This checks the kernels' index arithmetic, padding, packing, reductions and edge rows; it says
nothing about speed or real concurrency (blocks run one after another), and it is not a
substitute for ``test_gpu_cuda.py`` on a real GPU.

The kernels execute nowhere else in CI, so when the environment variable ``CI`` is set a missing
host compiler, or one without the C++20 features the shim needs, fails the run; elsewhere these
tests skip.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from test_gpu_numpy import ref_norm, ref_softmax

from sapwood import gpu
from sapwood.gpu import _dispatch, _sources

CXX = shutil.which("g++") or shutil.which("clang++")


def in_ci() -> bool:
    """Whether this run is CI's (``CI`` set to anything but empty, ``0`` or ``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where this file is the kernels' only run."""
    if in_ci():
        pytest.fail(f"{reason}; CI must run the emulated kernels", pytrace=False)
    pytest.skip(reason)


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
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>
#include <math.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define EMU_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define EMU_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define EMU_POISON(p, n) ((void)(p), (void)(n))
#define EMU_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct dim3 { unsigned x = 1, y = 1, z = 1; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
inline uint4 make_uint4(unsigned a, unsigned b, unsigned c, unsigned d) { return {a, b, c, d}; }

namespace emu {

[[noreturn]] inline void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::vfprintf(stderr, fmt, ap);
    va_end(ap);
    std::fputc('\\n', stderr);
    std::fflush(stderr);
    std::_Exit(4);
}

// ---- global memory: each buffer between guard bytes

constexpr size_t GUARD = 256;
// Bytes A5 FF repeated: the 16-bit word 0xFFA5 is a NaN in fp16 and in bf16, and 0xFFA5FFA5 a
// NaN in fp32, so whatever reads a guard gets NaN into its result.
inline unsigned char pattern_at(size_t i) { return (i & 1) ? 0xFF : 0xA5; }

struct Buffer {
    const char* name;
    size_t n, total;
    unsigned char* base;
    unsigned char* data;
    std::vector<unsigned char> original;  // an input's bytes, to check it is left unchanged

    Buffer(const char* name_, size_t n_, size_t offset) : name(name_), n(n_) {
        total = (2 * GUARD + offset + n + 255) / 256 * 256;
        base = static_cast<unsigned char*>(std::aligned_alloc(256, total));
        for (size_t i = 0; i < total; ++i) base[i] = pattern_at(i);
        data = base + GUARD + offset;  // data, not written yet, reads as NaN too
        EMU_POISON(base, data - base);
        EMU_POISON(data + n, base + total - (data + n));
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    ~Buffer() {
        EMU_UNPOISON(base, total);
        std::free(base);
    }
    void load(const char* path) {
        std::ifstream in(path, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
        if (bytes.size() != n) fail("%s: file has %zu bytes, expected %zu", name, bytes.size(), n);
        std::memcpy(data, bytes.data(), n);
        original.assign(data, data + n);
    }
    void check() const {
        EMU_UNPOISON(base, total);
        for (size_t i = 0; i < total; ++i) {
            const unsigned char* p = base + i;
            if (p >= data && p < data + n) continue;
            if (*p != pattern_at(i)) {
                fail("%s: out-of-bounds write at byte %lld of a %zu-byte buffer", name,
                     (long long)(p - data), n);
            }
        }
        if (!original.empty() && std::memcmp(data, original.data(), n) != 0) {
            fail("%s: an input buffer was modified", name);
        }
    }
    void save(const char* path) const {
        std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(data), n);
    }
};

// Vector loads and stores must be aligned to their size, as on the GPU.
template <typename P, typename Q> inline P aligned_cast(Q* p) {
    constexpr size_t align = alignof(std::remove_pointer_t<P>);
    if (reinterpret_cast<uintptr_t>(p) % align) {
        fail("misaligned %zu-byte vector access at %p", align, (const void*)p);
    }
    return reinterpret_cast<P>(p);
}

// ---- shared memory: fresh NaN for every block, guard words around every array

constexpr size_t SMEM_GUARD = 32;  // words
constexpr uint32_t SMEM_POISON = 0x7FA5A5A5u;  // a NaN
constexpr size_t STATIC_WORDS = 4096;

struct Alloc { size_t off, words; };
inline std::vector<float> dyn_arena, static_arena(STATIC_WORDS);
inline std::vector<Alloc> static_allocs;  // recorded by thread 0 of the block
inline size_t dyn_words = 0;
inline thread_local size_t static_off;
inline thread_local bool leader;

inline void fill_poison(std::vector<float>& a) {
    EMU_UNPOISON(a.data(), a.size() * 4);
    float f;
    std::memcpy(&f, &SMEM_POISON, 4);
    std::fill(a.begin(), a.end(), f);
}
inline bool poisoned(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u == SMEM_POISON;
}
inline float* dynamic_smem() { return dyn_arena.data() + SMEM_GUARD; }
inline float* static_smem(size_t words) {
    float* p = static_arena.data() + static_off;
    if (leader) {
        static_allocs.push_back({static_off, words});
        EMU_POISON(p + words, SMEM_GUARD * 4);
    }
    static_off += words + SMEM_GUARD;
    if (static_off > STATIC_WORDS) fail("more static shared memory than the emulator holds");
    return p;
}
inline void arm_smem() {
    fill_poison(dyn_arena);
    fill_poison(static_arena);
    static_allocs.clear();
    EMU_POISON(dyn_arena.data(), SMEM_GUARD * 4);
    EMU_POISON(dyn_arena.data() + SMEM_GUARD + dyn_words, SMEM_GUARD * 4);
    EMU_POISON(static_arena.data(), SMEM_GUARD * 4);
}
inline void check_smem(unsigned block) {
    EMU_UNPOISON(dyn_arena.data(), dyn_arena.size() * 4);
    EMU_UNPOISON(static_arena.data(), static_arena.size() * 4);
    for (size_t i = 0; i < dyn_arena.size(); ++i) {
        const bool inside = i >= SMEM_GUARD && i < SMEM_GUARD + dyn_words;
        if (!inside && !poisoned(dyn_arena[i])) {
            fail("block %u: out-of-bounds write to dynamic shared memory at word %lld", block,
                 (long long)i - (long long)SMEM_GUARD);
        }
    }
    size_t next = 0;
    for (const Alloc& a : static_allocs) {
        for (size_t i = next; i < a.off; ++i) {
            if (!poisoned(static_arena[i])) {
                fail("block %u: out-of-bounds write next to a static shared array", block);
            }
        }
        next = a.off + a.words;
    }
    for (size_t i = next; i < next + SMEM_GUARD && i < STATIC_WORDS; ++i) {
        if (!poisoned(static_arena[i])) {
            fail("block %u: out-of-bounds write past a static shared array", block);
        }
    }
}

// ---- threads, warps, blocks

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

// Without an opt-in a block may use 48 KiB of shared memory, static and dynamic together;
// `optin` is the dynamic size the host opted in to (0: none), `optin_max` the device's limit.
constexpr size_t DEFAULT_SMEM = 48 * 1024;

inline void launch(dim3 grid, dim3 block, size_t smem, size_t optin, size_t optin_max,
                   const std::function<void()>& body) {
    gdim = grid;
    bdim = block;
    const int n = block.x * block.y * block.z;
    if (n == 0 || n % 32 || n > 1024) fail("block of %d threads", n);
    if (grid.x == 0) fail("empty grid");
    if (optin && smem > optin) {
        fail("%zu B of dynamic shared memory, opted in to %zu B", smem, optin);
    }
    dyn_words = (smem + 3) / 4;
    dyn_arena.assign(dyn_words + 2 * SMEM_GUARD, 0.0f);
    std::barrier<> bar(n);
    block_bar = &bar;
    warps.clear();
    for (int w = 0; w < n / 32; ++w) warps.emplace_back(new Warp());
    for (unsigned b = 0; b < grid.x; ++b) {
        arm_smem();
        std::vector<std::thread> threads;
        for (int t = 0; t < n; ++t) {
            threads.emplace_back([=, &body] {
                bid = dim3{b, 0, 0};
                tid = dim3{(unsigned)(t % block.x), (unsigned)(t / block.x % block.y),
                           (unsigned)(t / (block.x * block.y))};
                lane = t % 32;
                warp = t / 32;
                static_off = SMEM_GUARD;
                leader = t == 0;
                body();
            });
        }
        for (auto& th : threads) th.join();
        check_smem(b);
        if (b == 0) {
            size_t static_bytes = 0;
            for (const Alloc& a : static_allocs) static_bytes += a.words * 4;
            std::printf("static_smem=%zu\\n", static_bytes);
            if (!optin && static_bytes + smem > DEFAULT_SMEM) {
                fail("%zu B dynamic + %zu B static shared memory without an opt-in: "
                     "the launch fails on a GPU", smem, static_bytes);
            }
            if (optin && static_bytes + optin > optin_max) {
                fail("opt-in to %zu B dynamic + %zu B static shared memory exceeds the "
                     "device's %zu B", optin, static_bytes, optin_max);
            }
        }
    }
    EMU_UNPOISON(dyn_arena.data(), dyn_arena.size() * 4);
    EMU_UNPOISON(static_arena.data(), static_arena.size() * 4);
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
"""

CTYPE = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}
BF16 = np.dtype(ml_dtypes.bfloat16)
#: The device the emulated launches are planned for (an H100, the dispatcher's default).
H100 = _dispatch.DeviceLimits()


@dataclass
class Case:
    """One launch: the kernel call (C++), its inputs (each at a byte offset from a 256-byte
    boundary) and the output size in bytes."""

    file: str
    strategy: str
    call: str
    grid: int
    block: tuple[int, int, int]
    smem: int
    optin: int
    inputs: list[np.ndarray]
    out_bytes: int
    offsets: list[int] = field(default_factory=list)
    optin_max: int = H100.smem_per_block_optin

    def __post_init__(self) -> None:
        self.offsets = self.offsets + [0] * (len(self.inputs) - len(self.offsets))


def _program(cases: list[Case]) -> str:
    parts = ['#include "emu.h"'] + [f'#include "{file}"' for file in _sources.PROGRAM_FILES]
    body = []
    for i, case in enumerate(cases):
        bufs = "\n".join(
            f'emu::Buffer in{j}("in{j}", {arr.nbytes}, {off}); in{j}.load(argv[{2 + j}]);'
            for j, (arr, off) in enumerate(zip(case.inputs, case.offsets, strict=True))
        )
        checks = " ".join(f"in{j}.check();" for j in range(len(case.inputs)))
        out_arg = 2 + len(case.inputs)
        bx, by, bz = case.block
        body.append(
            textwrap.dedent(
                f"""
                case {i}: {{
                    {bufs}
                    emu::Buffer out("out", {case.out_bytes}, 0);
                    emu::launch(dim3{{{case.grid}, 1, 1}}, dim3{{{bx}, {by}, {bz}}}, {case.smem},
                                {case.optin}, {case.optin_max}, [&] {{ {case.call}; }});
                    {checks} out.check();
                    out.save(argv[{out_arg}]);
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
    return f"reinterpret_cast<const {ctype}*>(in{j}.data)"


def _out(ctype: str) -> str:
    return f"reinterpret_cast<{ctype}*>(out.data)"


NO_SMEM = _dispatch.DeviceLimits(smem_per_block_optin=0, smem_per_sm=0)
#: Blocks per emulated grid at most: more than two, fewer than the rows of most cases, so that
#: every grid-stride loop runs and each block's shared memory starts poisoned again.
MAX_BLOCKS = 3


def _grid(planned: int) -> int:
    return min(planned, MAX_BLOCKS)


def row_case(kind, xfull, cols, w=None, b=None, log=False, eps=1e-5, limits=None, offset=0) -> Case:
    """A row op on xfull[:, :cols] (rows ``xfull.shape[1]`` elements apart), planned as the
    facade plans it; ``offset`` elements of misalignment move x off its 256-byte boundary."""
    dtype = np.dtype(xfull.dtype).name
    ctype = CTYPE[dtype]
    rows, ld = xfull.shape
    limits = limits or H100
    item = xfull.itemsize
    pack = _dispatch.choose_pack(dtype, cols, (ld,), (offset * item, 0))
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
    return Case(
        plan.file,
        plan.strategy,
        call,
        _grid(plan.grid[0]),
        plan.block,
        plan.shared_mem,
        _dispatch.smem_optin(plan),
        inputs,
        rows * cols * item,
        offsets=[offset * item],
        optin_max=limits.smem_per_block_optin,
    )


def gemv_case(w: np.ndarray, x2: np.ndarray, in_features: int, x_offset: int = 0) -> Case:
    dtype = np.dtype(w.dtype).name
    ctype = CTYPE[dtype]
    out, ldw = w.shape
    x_addr = x_offset * x2.itemsize
    vec = _dispatch.choose_gemv_vec(dtype, in_features, ldw, (0, x_addr))
    plan = _dispatch.plan_gemv(dtype, out, x2.shape[0], vec)
    args = f"{_ptr(0, ctype)}, {_ptr(1, ctype)}, {_out(ctype)}, {out}, {in_features}, {ldw}LL"
    out_bytes = x2.shape[0] * out * w.itemsize
    return Case(
        plan.file,
        plan.strategy,
        f"{plan.name}({args})",
        _grid(plan.grid[0]),
        plan.block,
        0,
        0,
        [w, x2],
        out_bytes,
        offsets=[0, x_addr],
    )


def quant_case(q: gpu.QuantizedMatrix, x2: np.ndarray, x_offset: int = 0) -> Case:
    dtype = np.dtype(x2.dtype).name
    ctype = CTYPE[dtype]
    out, in_features = q.shape
    plan = _dispatch.plan_gemv_quantized(q.bits, dtype, out, x2.shape[0])
    x_addr = x_offset * x2.itemsize
    x_vec = int(in_features % (16 // x2.itemsize) == 0 and x_addr % 16 == 0)
    call = (
        f"{plan.name}(reinterpret_cast<const unsigned char*>(in0.data), "
        f"reinterpret_cast<const float*>(in1.data), reinterpret_cast<const float*>(in2.data), "
        f"{_ptr(3, ctype)}, {_out(ctype)}, {out}, {in_features}, {q.data.shape[1]}, "
        f"{q.effective_group_size}, {q.n_groups}, {x_vec})"
    )
    inputs = [q.data, q.scale, q.zero, x2]
    return Case(
        plan.file,
        plan.strategy,
        call,
        _grid(plan.grid[0]),
        plan.block,
        0,
        0,
        inputs,
        x2.shape[0] * out * x2.itemsize,
        offsets=[0, 0, 0, x_addr],
    )


# ------------------------------------------------------------------------------------- cases


def _rows(rows, cols, dtype, seed, ld=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, ld or cols)) * 3
    x[0, ::3] = -np.inf
    if rows > 2:
        x[2] = -np.inf
    return x.astype(dtype)


def large_max_rows(cols: int, dtype: np.dtype) -> np.ndarray:
    """Rows whose maxima are 1e3 to 3e7, the other values a few representable steps below."""
    rng = np.random.default_rng(cols)
    rows = []
    for peak in (1e3, 1e5, 1e7, 3e7):
        top = float(np.array(peak, dtype=dtype))
        if dtype == BF16:  # 8 significant bits
            step = 2.0 ** (np.floor(np.log2(top)) - 7)
        else:
            step = max(float(np.spacing(np.float32(top))), 0.25)
        row = top - step * rng.integers(0, 4, cols)
        row[0] = top
        rows.append(row)
    return np.array(rows).astype(dtype)


def huge_rows(cols: int) -> np.ndarray:
    """fp32 rows around 2e19 with a spread of 2e16 (the variance sum stays finite)."""
    rng = np.random.default_rng(cols)
    return (2e19 * (1 + 1e-3 * rng.standard_normal((3, cols)))).astype(np.float32)


F32, F16 = np.dtype(np.float32), np.dtype(np.float16)
TOL = {"float32": 3e-6, "float16": 1.2e-3, "bfloat16": 8e-3}


def build_cases():
    """(case, expected float64 output, rtol, atol) for every emulated launch."""
    cases = []
    # (rows, cols, dtype, row stride, device, misalignment of x in elements)
    softmax_shapes = [
        (5, 1, F32, None, None, 0),
        (21, 7, F32, None, None, 0),  # sub-warp groups of 8, a partial block of rows
        (37, 33, F32, None, None, 0),  # scalar packs, 2 per lane, grid-stride over rows
        (9, 1000, F32, None, None, 0),  # 4-wide packs
        (6, 1024, F16, None, None, 0),  # 8-wide packs
        (9, 1000, BF16, None, None, 0),  # bf16 in registers
        (5, 1024, F32, 1032, None, 0),  # strided rows
        (5, 1024, F32, 1032, None, 1),  # strided rows, misaligned start: scalar loads
        (4, 1025, F32, None, None, 0),  # shared memory, scalar packs
        (5, 4096, BF16, None, None, 0),  # shared memory, 8-wide packs
        (5, 4096, F16, None, None, 3),  # shared memory, misaligned: scalar loads
        (4, 8193, F32, None, None, 0),
        # 48 KiB and more of shared memory: static scratch + cached row need the opt-in
        (4, 12257, F32, None, None, 0),
        (4, 12288, F32, None, None, 0),
        (4, 16384, BF16, None, None, 0),
        (4, 3000, F16, None, NO_SMEM, 0),  # streaming
        (4, 3000, BF16, None, NO_SMEM, 0),  # streaming bf16
        (4, 70001, F32, None, None, 0),  # streaming, odd length
        (4, 40000, F32, None, None, 1),  # streaming, misaligned
    ]
    for rows, cols, dtype, ld, limits, offset in softmax_shapes:
        xfull = _rows(rows, cols, dtype, cols, ld)
        x = xfull[:, :cols]
        tol = TOL[dtype.name]
        for log in (False, True):
            case = row_case("softmax", xfull, cols, log=log, limits=limits, offset=offset)
            want = ref_softmax(x, log)
            cases.append((case, want, tol, tol if log else tol * 1e-3))
    # Rows whose maximum is large: the log term must not round away against the maximum.
    for cols, dtype, limits in (
        (2, F32, None),
        (1000, F32, None),
        (5000, F32, None),
        (3000, F32, NO_SMEM),
        (1000, BF16, None),
        (3000, BF16, NO_SMEM),
    ):
        x = large_max_rows(cols, dtype)
        for log in (False, True):
            want = ref_softmax(x, log)
            tol = TOL[dtype.name]
            case = row_case("softmax", x, cols, log=log, limits=limits)
            cases.append((case, want, tol, tol if log else tol * 1e-3))
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
    # (rows, cols, dtype, device, misalignment of x in elements)
    norm_shapes = [
        (21, 7, F32, None, 0),
        (37, 100, F32, None, 0),
        (37, 100, BF16, None, 0),  # registers, bf16, three blocks striding over the rows
        (6, 1024, F16, None, 0),
        (6, 1024, F16, None, 1),  # registers, scalar loads
        (5, 2000, BF16, None, 0),
        (5, 2000, F16, None, 0),
        (5, 2000, F32, None, 2),  # shared memory, 2-wide packs off a 16-byte boundary
        (4, 12288, F32, None, 0),  # shared memory past 48 KiB with the static scratch
        (4, 16384, BF16, None, 0),  # 64 KiB of shared memory
        (4, 3000, F32, NO_SMEM, 0),
        (4, 4104, F16, NO_SMEM, 0),
        (4, 4104, BF16, NO_SMEM, 5),  # streaming bf16, scalar loads
    ]
    for rows, cols, dtype, limits, offset in norm_shapes:
        rng = np.random.default_rng(cols)
        x = (rng.standard_normal((rows, cols)) * 2 + 5).astype(dtype)
        x[1] = 0
        wv = rng.standard_normal(cols).astype(dtype)
        bv = rng.standard_normal(cols).astype(dtype)
        tol = TOL[dtype.name] * (1 if dtype == BF16 else 3)
        for kind in ("rms_norm", "layer_norm"):
            rms = kind == "rms_norm"
            eps = 1e-6 if rms else 1e-5
            for w, b in ((wv, None if rms else bv), (None, None)):
                case = row_case(kind, x, cols, w, b, eps=eps, limits=limits, offset=offset)
                want = ref_norm(x, w, b, eps=eps, rms=rms)
                cases.append((case, want, tol, tol * np.abs(want).max()))
    # Rows around 2e19: the squared distance of such a mean from an empty summary's 0
    # overflows fp32, so the streaming Welford merges must not form it.
    for cols, limits in ((40000, None), (3000, NO_SMEM)):
        x = huge_rows(cols)
        want = ref_norm(x)
        case = row_case("layer_norm", x, cols, limits=limits)
        cases.append((case, want, 1e-3, 1e-3 * np.abs(want).max()))
    rng = np.random.default_rng(0)
    # (out, in, row stride of W, batch, dtype, misalignment of x in elements)
    for out, inn, ldw, batch, dtype, x_offset in [
        (33, 70, 70, 3, F32, 0),
        (64, 256, 256, 1, F16, 0),
        (65, 256, 256, 8, F16, 0),
        (65, 256, 256, 2, F16, 1),  # x misaligned: scalar loads
        (40, 64, 72, 2, F32, 0),
    ]:
        wfull = rng.standard_normal((out, ldw)).astype(dtype)
        x2 = rng.standard_normal((batch, inn)).astype(dtype)
        want = x2.astype(np.float64) @ wfull[:, :inn].astype(np.float64).T
        tol = 1e-5 if dtype == F32 else 2e-3
        case = gemv_case(wfull, x2, inn, x_offset)
        cases.append((case, want, tol, tol * np.sqrt(inn)))
    # (out, in, bits, group size, batch, dtype of x, misalignment of x in elements)
    for out, inn, bits, group, batch, dtype, x_offset in [
        (50, 100, 8, None, 1, F32, 0),
        (50, 257, 4, 32, 3, F16, 0),
        (9, 1024, 4, 128, 8, F32, 0),
        (9, 1024, 4, 64, 2, F32, 1),  # x misaligned: the scalar x path on whole chunks
        (70, 320, 8, 64, 2, F16, 0),
        (33, 31, 4, None, 5, F32, 0),
    ]:
        w = rng.standard_normal((out, inn)).astype(np.float32)
        q = gpu.quantize(w, bits=bits, group_size=group)
        x2 = rng.standard_normal((batch, inn)).astype(dtype)
        want = x2.astype(np.float64) @ q.dequantize().astype(np.float64).T
        tol = 1e-5 if dtype == F32 else 2e-3
        cases.append((quant_case(q, x2, x_offset), want, tol, tol * np.sqrt(inn) * 4))
    return cases


CASES = build_cases()


def _compile(cxx: str, root: Path, exe: Path, sanitize: bool) -> subprocess.CompletedProcess:
    flags = ["-fsanitize=address", "-fno-omit-frame-pointer"] if sanitize else []
    cmd = [cxx, "-std=c++20", "-O1", "-pthread", "-w", *flags, f"-I{root}", "kernels.cpp"]
    return subprocess.run(
        [*cmd, "-o", str(exe)], cwd=root, capture_output=True, text=True, check=False
    )


def _asan_works(cxx: str, root: Path) -> bool:
    """Whether the compiler can build and run an AddressSanitizer program here."""
    probe = root / "probe.cpp"
    probe.write_text("int main() { return 0; }\n")
    exe = root / "probe"
    cmd = [cxx, "-fsanitize=address", str(probe), "-o", str(exe)]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        return False
    return subprocess.run([str(exe)], capture_output=True, check=False).returncode == 0


#: Substitutions that turn the CUDA sources into host C++ for the shim: dynamic and static
#: shared memory come from the emulator's per-block arenas, and vector accesses are checked for
#: alignment. Each pattern must match (a kernel change that dodges one fails here).
_REWRITES = [
    (r"extern __shared__ float (\w+)\[\];", r"float* \1 = emu::dynamic_smem();"),
    (r"__shared__ float (\w+)\[(\d+)\];", r"float* \1 = emu::static_smem(\2);"),
    (r"reinterpret_cast<((?:const )?(?:Pack<T, N>|uint4))\*>", r"emu::aligned_cast<\1*>"),
]


def host_source(text: str) -> str:
    for pattern, repl in _REWRITES:
        text = re.sub(pattern, repl, text)
    if "__shared__" in text:
        raise AssertionError("a __shared__ declaration the emulator does not model")
    return text


def build_emulator(root: Path, cxx: str | None) -> Path:
    """Compile every case into one host program under ``root``; skip, or in CI fail, when the
    compiler is missing or lacks what the shim needs."""
    if cxx is None:
        unavailable("needs a host C++ compiler (g++ or clang++)")
    (root / "cuda_fp16.h").write_text(SHIM_FP16)
    (root / "cuda_bf16.h").write_text(SHIM_BF16)
    (root / "emu.h").write_text(EMU)
    for name, text in _sources.raw_sources().items():
        (root / name).write_text(host_source(text))
    (root / "kernels.cpp").write_text(_program([c for c, *_ in CASES]))
    exe = root / "kernels"
    proc = _compile(cxx, root, exe, sanitize=_asan_works(cxx, root))
    if proc.returncode != 0:
        err = proc.stderr
        if "barrier" in err and ("No such file" in err or "not found" in err):
            unavailable("the host C++ compiler lacks <barrier> (C++20)")
        if "c++20" in err and ("unrecognized" in err or "invalid value" in err):
            unavailable("the host C++ compiler does not know -std=c++20")
        if "_Float16" in err:
            unavailable("the host C++ compiler has no _Float16 on this target")
        raise AssertionError(f"host compile of the kernels failed:\n{err[-4000:]}")
    return exe


@pytest.fixture(scope="module")
def emulator(tmp_path_factory) -> Path:
    return build_emulator(tmp_path_factory.mktemp("cuda_emulation"), CXX)


def run_case(emulator: Path, index: int, case: Case, tmp_path: Path) -> tuple[np.ndarray, str]:
    """Run one emulated launch; the raw output array and the emulator's stdout."""
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
    assert proc.returncode == 0, f"{case.call}:\n{proc.stderr[-4000:]}"
    dtype = case.inputs[-1].dtype if case.file == "gemv.cu" else case.inputs[0].dtype
    return np.fromfile(out_path, dtype=dtype), proc.stdout


@pytest.mark.parametrize("index", range(len(CASES)), ids=lambda i: CASES[i][0].call.split("(")[0])
def test_kernel_on_emulated_gpu(emulator, index, tmp_path):
    case, want, rtol, atol = CASES[index]
    raw, stdout = run_case(emulator, index, case, tmp_path)
    # the host decides the shared-memory opt-in from this table
    assert f"static_smem={_dispatch.STATIC_SMEM[case.strategy]}\n" in stdout
    got = raw.astype(np.float64).reshape(want.shape)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    scale = np.maximum(np.abs(want[finite]), 1.0) if "log" in case.call else 1.0
    err = np.abs(got[finite] - want[finite]) / scale
    bound = atol + rtol * np.abs(want[finite]) if np.isscalar(scale) else 2 * rtol
    assert np.all(err <= bound), (case.call, float(np.max(err - bound)))


def test_missing_compiler_fails_in_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        unavailable("needs a host C++ compiler")
    for value in ("", "0", "false"):
        monkeypatch.setenv("CI", value)
        with pytest.raises(pytest.skip.Exception):
            unavailable("needs a host C++ compiler")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        unavailable("needs a host C++ compiler")


@pytest.mark.parametrize(
    "stderr",
    [
        "kernels.cpp:2: fatal error: barrier: No such file or directory",
        "g++: error: unrecognized command-line option '-std=c++20'",
        "emu.h:1: error: '_Float16' does not name a type",
    ],
)
def test_compiler_without_the_needed_features_fails_in_ci(stderr, tmp_path, monkeypatch):
    fake = tmp_path / "old-g++"
    fake.write_text(f'#!/bin/sh\necho "{stderr}" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        build_emulator(tmp_path, str(fake))
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        build_emulator(tmp_path, None)
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        build_emulator(tmp_path, str(fake))


def test_host_rewrites_cover_every_shared_array_and_vector_access():
    for name, text in _sources.raw_sources().items():
        out = host_source(text)
        assert "reinterpret_cast<const Pack" not in out, name
        assert "reinterpret_cast<Pack" not in out, name
        assert "reinterpret_cast<const uint4" not in out, name
    assert host_source("__shared__ float s[7];") == "float* s = emu::static_smem(7);"
    with pytest.raises(AssertionError, match="does not model"):
        host_source("__shared__ double s[7];")
