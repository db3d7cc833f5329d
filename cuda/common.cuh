// Shared device helpers of sapwood's kernels: element conversion, aligned packs and reductions.
//
// Compiled at run time by NVRTC (through CuPy), so it includes only headers NVRTC can find with
// the CUDA include directory on its path. The Python loader inlines this file into each .cu file.
#pragma once

#include <cuda_fp16.h>
#include <cuda_bf16.h>

namespace sapwood {

// NVRTC has no <cmath>, so INFINITY is not defined: build +inf from its bit pattern.
__device__ __forceinline__ float pos_inf() { return __int_as_float(0x7f800000); }
__device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }

// Element <-> fp32 conversion. Every kernel accumulates in fp32.
template <typename T> struct Convert;
template <> struct Convert<float> {
    static __device__ __forceinline__ float to_float(float v) { return v; }
    static __device__ __forceinline__ float from_float(float v) { return v; }
};
template <> struct Convert<__half> {
    static __device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
    static __device__ __forceinline__ __half from_float(float v) { return __float2half_rn(v); }
};
template <> struct Convert<__nv_bfloat16> {
    static __device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
    static __device__ __forceinline__ __nv_bfloat16 from_float(float v) {
        return __float2bfloat16_rn(v);
    }
};
template <typename T> __device__ __forceinline__ float to_float(T v) {
    return Convert<T>::to_float(v);
}
template <typename T> __device__ __forceinline__ T from_float(float v) {
    return Convert<T>::from_float(v);
}

// N elements read or written as one aligned vector word (N * sizeof(T) is 1 to 16 bytes).
// The host only picks N > 1 when the base pointer, the row stride and the row length allow it.
template <typename T, int N> struct alignas(sizeof(T) * N) Pack {
    T elem[N];
};

template <typename T, int N>
__device__ __forceinline__ void load_pack(const T* __restrict__ src, float (&dst)[N]) {
    const Pack<T, N> p = *reinterpret_cast<const Pack<T, N>*>(src);
#pragma unroll
    for (int i = 0; i < N; ++i) dst[i] = to_float(p.elem[i]);
}

template <typename T, int N>
__device__ __forceinline__ void store_pack(T* __restrict__ dst, const float (&src)[N]) {
    Pack<T, N> p;
#pragma unroll
    for (int i = 0; i < N; ++i) p.elem[i] = from_float<T>(src[i]);
    *reinterpret_cast<Pack<T, N>*>(dst) = p;
}

struct SumOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
    static __device__ __forceinline__ float identity() { return 0.0f; }
};
// fmaxf ignores a NaN operand; the kernels let NaN through their sums instead, so a row with a
// NaN still comes out NaN.
struct MaxOp {
    __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
    static __device__ __forceinline__ float identity() { return neg_inf(); }
};

// Butterfly reduction inside groups of WIDTH lanes (WIDTH a power of two <= 32): every lane of a
// group ends with the group's result. All 32 lanes of the warp must call it together.
template <typename Op, int WIDTH>
__device__ __forceinline__ float group_all_reduce(float v) {
    Op op;
#pragma unroll
    for (int mask = WIDTH / 2; mask > 0; mask /= 2) {
        v = op(v, __shfl_xor_sync(0xffffffffu, v, mask, WIDTH));
    }
    return v;
}

// Block-wide reduction of BLOCK threads (a multiple of 32): every thread gets the result.
// `scratch` holds 32 floats of shared memory; the call begins and ends with a barrier, so it can
// be called again right away with the same scratch.
template <typename Op, int BLOCK>
__device__ __forceinline__ float block_all_reduce(float v, float* scratch) {
    constexpr int WARPS = BLOCK / 32;
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    v = group_all_reduce<Op, 32>(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < WARPS ? scratch[lane] : Op::identity();
    v = group_all_reduce<Op, 32>(v);
    return v;
}

// Two reductions at once (used for (mean, M2) merges and (max, sum) pairs).
struct Welford {
    float mean;
    float m2;
    float count;
};

// Chan et al.'s merge of two partial (count, mean, M2) summaries.
__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    // An empty side adds nothing. Returning the other side also keeps delta^2 * 0 out of the
    // sum: with an empty side at mean 0, delta is the other mean, and once |delta| > 1.8e19
    // delta^2 overflows to inf and inf * 0 is NaN.
    if (b.count == 0.0f) return a;
    if (a.count == 0.0f) return b;
    const float n = a.count + b.count;
    const float delta = b.mean - a.mean;
    const float wb = b.count / n;
    Welford r;
    r.mean = a.mean + delta * wb;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * wb;
    r.count = n;
    return r;
}

__device__ __forceinline__ Welford welford_shfl_xor(Welford w, int mask) {
    Welford o;
    o.mean = __shfl_xor_sync(0xffffffffu, w.mean, mask);
    o.m2 = __shfl_xor_sync(0xffffffffu, w.m2, mask);
    o.count = __shfl_xor_sync(0xffffffffu, w.count, mask);
    return o;
}

template <int BLOCK>
__device__ __forceinline__ Welford block_welford(Welford w, float* scratch /* 96 floats */) {
    constexpr int WARPS = BLOCK / 32;
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
#pragma unroll
    for (int mask = 16; mask > 0; mask /= 2) w = welford_merge(w, welford_shfl_xor(w, mask));
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = w.mean;
        scratch[32 + warp] = w.m2;
        scratch[64 + warp] = w.count;
    }
    __syncthreads();
    if (lane < WARPS) {
        w.mean = scratch[lane];
        w.m2 = scratch[32 + lane];
        w.count = scratch[64 + lane];
    } else {
        w.mean = 0.0f;
        w.m2 = 0.0f;
        w.count = 0.0f;
    }
#pragma unroll
    for (int mask = 16; mask > 0; mask /= 2) w = welford_merge(w, welford_shfl_xor(w, mask));
    return w;
}

}  // namespace sapwood
