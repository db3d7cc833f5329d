// RMSNorm and LayerNorm over the last axis of a row-major (rows, cols) matrix.
//
//   rms != 0  y = x / sqrt(mean(x^2) + eps) * w                    (RMSNorm; b must be null)
//   rms == 0  y = (x - mean(x)) / sqrt(var(x) + eps) * w + b      (LayerNorm, biased variance)
// `w` and `b` may be null (taken as ones and zeros). Statistics are fp32 and never use the
// E[x^2] - mean^2 shortcut: the register and shared-memory strategies take two passes over the
// cached row, the streaming strategy merges per-thread Welford summaries (Chan et al.).
// Same three strategies and the same dispatch as softmax.cu.
#include "common.cuh"

namespace sapwood {

template <typename T, int N>
__device__ __forceinline__ void normalise_pack(float (&v)[N], const T* __restrict__ w,
                                               const T* __restrict__ b, int col, float mean,
                                               float rstd) {
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = (v[i] - mean) * rstd;
    if (w != nullptr) {
        float wv[N];
        load_pack<T, N>(w + col, wv);
#pragma unroll
        for (int i = 0; i < N; ++i) v[i] *= wv[i];
    }
    if (b != nullptr) {
        float bv[N];
        load_pack<T, N>(b + col, bv);
#pragma unroll
        for (int i = 0; i < N; ++i) v[i] += bv[i];
    }
}

}  // namespace sapwood

// Block shape (GROUP, 128 / GROUP), one row per group, held in registers (see softmax_warp).
template <typename T, int PACK, int PACKS, int GROUP>
__global__ void __launch_bounds__(128, 4)
    norm_warp(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
              T* __restrict__ y, long long rows, int cols, long long ld, float eps, int rms) {
    using namespace sapwood;
    constexpr int ROWS_PER_BLOCK = 128 / GROUP;
    constexpr int COLS = PACK * PACKS;
    const int lane = threadIdx.x;
    const float inv_n = 1.0f / (float)cols;
    float buf[COLS];
    for (long long base = (long long)blockIdx.x * ROWS_PER_BLOCK; base < rows;
         base += (long long)gridDim.x * ROWS_PER_BLOCK) {
        const long long row = base + threadIdx.y;
        const bool live = row < rows;
        float s = 0.0f;
#pragma unroll
        for (int p = 0; p < PACKS; ++p) {
            const int col = (p * GROUP + lane) * PACK;
            float v[PACK];
            if (live && col < cols) {
                load_pack<T, PACK>(x + row * ld + col, v);
            } else {
#pragma unroll
                for (int i = 0; i < PACK; ++i) v[i] = 0.0f;
            }
#pragma unroll
            for (int i = 0; i < PACK; ++i) {
                buf[p * PACK + i] = v[i];
                s += rms ? v[i] * v[i] : v[i];
            }
        }
        s = group_all_reduce<SumOp, GROUP>(s);
        float mean = 0.0f;
        float rstd;
        if (rms) {
            rstd = rsqrtf(s * inv_n + eps);
        } else {
            mean = s * inv_n;
            float q = 0.0f;
#pragma unroll
            for (int p = 0; p < PACKS; ++p) {
                const int col = (p * GROUP + lane) * PACK;
                if (col < cols) {
#pragma unroll
                    for (int i = 0; i < PACK; ++i) {
                        const float d = buf[p * PACK + i] - mean;
                        q += d * d;
                    }
                }
            }
            q = group_all_reduce<SumOp, GROUP>(q);
            rstd = rsqrtf(q * inv_n + eps);
        }
#pragma unroll
        for (int p = 0; p < PACKS; ++p) {
            const int col = (p * GROUP + lane) * PACK;
            if (live && col < cols) {
                float v[PACK];
#pragma unroll
                for (int i = 0; i < PACK; ++i) v[i] = buf[p * PACK + i];
                normalise_pack<T, PACK>(v, w, b, col, mean, rstd);
                store_pack<T, PACK>(y + row * cols + col, v);
            }
        }
    }
}

// One block per row, the row cached as fp32 in dynamic shared memory (layout as softmax_smem).
template <typename T, int PACK, int BLOCK>
__global__ void __launch_bounds__(BLOCK, 2)
    norm_smem(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
              T* __restrict__ y, long long rows, int cols, long long ld, float eps, int rms) {
    using namespace sapwood;
    extern __shared__ float cache[];
    __shared__ float scratch[32];
    const int packs = cols / PACK;
    const float inv_n = 1.0f / (float)cols;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * ld;
        float s = 0.0f;
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
            load_pack<T, PACK>(xr + p * PACK, v);
#pragma unroll
            for (int i = 0; i < PACK; ++i) {
                cache[i * packs + p] = v[i];
                s += rms ? v[i] * v[i] : v[i];
            }
        }
        s = block_all_reduce<SumOp, BLOCK>(s, scratch);
        float mean = 0.0f;
        float rstd;
        if (rms) {
            rstd = rsqrtf(s * inv_n + eps);
        } else {
            mean = s * inv_n;
            float q = 0.0f;
            for (int p = threadIdx.x; p < packs; p += BLOCK) {
#pragma unroll
                for (int i = 0; i < PACK; ++i) {
                    const float d = cache[i * packs + p] - mean;
                    q += d * d;
                }
            }
            q = block_all_reduce<SumOp, BLOCK>(q, scratch);
            rstd = rsqrtf(q * inv_n + eps);
        }
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
#pragma unroll
            for (int i = 0; i < PACK; ++i) v[i] = cache[i * packs + p];
            normalise_pack<T, PACK>(v, w, b, p * PACK, mean, rstd);
            store_pack<T, PACK>(y + row * cols + p * PACK, v);
        }
    }
}

// One block per row, no cache: a statistics pass (sum of squares, or Welford summaries merged
// pack by pack), then an output pass that re-reads the row.
template <typename T, int PACK, int BLOCK>
__global__ void __launch_bounds__(BLOCK, 1)
    norm_online(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                T* __restrict__ y, long long rows, int cols, long long ld, float eps, int rms) {
    using namespace sapwood;
    __shared__ float scratch[96];
    const int packs = cols / PACK;
    const float inv_n = 1.0f / (float)cols;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * ld;
        float mean = 0.0f;
        float rstd;
        if (rms) {
            float s = 0.0f;
#pragma unroll 4
            for (int p = threadIdx.x; p < packs; p += BLOCK) {
                float v[PACK];
                load_pack<T, PACK>(xr + p * PACK, v);
#pragma unroll
                for (int i = 0; i < PACK; ++i) s += v[i] * v[i];
            }
            s = block_all_reduce<SumOp, BLOCK>(s, scratch);
            rstd = rsqrtf(s * inv_n + eps);
        } else {
            Welford acc{0.0f, 0.0f, 0.0f};
#pragma unroll 4
            for (int p = threadIdx.x; p < packs; p += BLOCK) {
                float v[PACK];
                load_pack<T, PACK>(xr + p * PACK, v);
                float pm = 0.0f;
#pragma unroll
                for (int i = 0; i < PACK; ++i) pm += v[i];
                pm *= 1.0f / (float)PACK;
                float pq = 0.0f;
#pragma unroll
                for (int i = 0; i < PACK; ++i) pq += (v[i] - pm) * (v[i] - pm);
                acc = welford_merge(acc, Welford{pm, pq, (float)PACK});
            }
            acc = block_welford<BLOCK>(acc, scratch);
            mean = acc.mean;
            rstd = rsqrtf(acc.m2 * inv_n + eps);
        }
#pragma unroll 4
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
            load_pack<T, PACK>(xr + p * PACK, v);
            normalise_pack<T, PACK>(v, w, b, p * PACK, mean, rstd);
            store_pack<T, PACK>(y + row * cols + p * PACK, v);
        }
    }
}
