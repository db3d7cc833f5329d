// Softmax and log-softmax over the last axis of a row-major (rows, cols) matrix.
//
// Three strategies, picked on the host from the row length (python/sapwood/gpu/_dispatch.py):
//   softmax_warp    a group of GROUP lanes (a warp or a slice of one) owns a row and keeps it in
//                   registers: one global read, one write. Rows up to 1024 columns.
//   softmax_smem    a block owns a row and caches it in dynamic shared memory (fp32), opting in
//                   to the large shared memory of recent GPUs: one read, one write.
//   softmax_online  a block owns a row and streams it twice: an online (max, sum) pass, then the
//                   output pass. Any row length.
// All accumulate in fp32. Input rows may be strided (`ld` elements apart); output is contiguous.
// A row of all -inf gives zeros from softmax and -inf from log-softmax; a NaN anywhere in a row,
// or a +inf, makes the whole row NaN (as the exact formula does).
#include "common.cuh"

namespace sapwood {

// Write one pack of results from the (shift, sum) of its row: exp(x - shift) / sum or
// (x - shift) - log(sum). `vals` holds x (log) or exp(x - shift) (softmax).
template <int N>
__device__ __forceinline__ void finish_pack(float (&vals)[N], float shift, float sum, int log_out,
                                            bool exps_ready) {
    if (log_out) {
        // Not x - (shift + log(sum)): against a large shift (1e7) the O(1) log term rounds away.
        const float lse = logf(sum);
#pragma unroll
        for (int i = 0; i < N; ++i) vals[i] = sum == 0.0f ? neg_inf() : (vals[i] - shift) - lse;
    } else {
        const float inv = 1.0f / sum;
#pragma unroll
        for (int i = 0; i < N; ++i) {
            const float e = exps_ready ? vals[i] : expf(vals[i] - shift);
            vals[i] = sum == 0.0f ? 0.0f : e * inv;
        }
    }
}

// The exponent shift of a row: its max, or 0 when the max is -inf (so exp(-inf - 0) = 0, not NaN).
__device__ __forceinline__ float shift_of(float row_max) {
    return row_max == neg_inf() ? 0.0f : row_max;
}

}  // namespace sapwood

// Block shape (GROUP, 128 / GROUP): each group of GROUP lanes handles one row at a time. Column
// `(p * GROUP + lane) * PACK + i` of a row lives in lane `lane`, register `p * PACK + i`, so the
// group's loads are coalesced. Lanes past the end of a row hold -inf.
template <typename T, int PACK, int PACKS, int GROUP>
__global__ void __launch_bounds__(128, 4)
    softmax_warp(const T* __restrict__ x, T* __restrict__ y, long long rows, int cols,
                 long long ld, int log_out) {
    using namespace sapwood;
    constexpr int ROWS_PER_BLOCK = 128 / GROUP;
    constexpr int COLS = PACK * PACKS;
    const int lane = threadIdx.x;
    float buf[COLS];
    // Every lane of a block runs the same number of iterations, so the shuffles never see an
    // exited lane; rows past the end are computed on padding and not stored.
    for (long long base = (long long)blockIdx.x * ROWS_PER_BLOCK; base < rows;
         base += (long long)gridDim.x * ROWS_PER_BLOCK) {
        const long long row = base + threadIdx.y;
        const bool live = row < rows;
        float m = neg_inf();
#pragma unroll
        for (int p = 0; p < PACKS; ++p) {
            const int col = (p * GROUP + lane) * PACK;
            float v[PACK];
            if (live && col < cols) {
                load_pack<T, PACK>(x + row * ld + col, v);
            } else {
#pragma unroll
                for (int i = 0; i < PACK; ++i) v[i] = neg_inf();
            }
#pragma unroll
            for (int i = 0; i < PACK; ++i) {
                buf[p * PACK + i] = v[i];
                m = fmaxf(m, v[i]);
            }
        }
        m = group_all_reduce<MaxOp, GROUP>(m);
        const float shift = shift_of(m);
        float s = 0.0f;
#pragma unroll
        for (int j = 0; j < COLS; ++j) {
            const float e = expf(buf[j] - shift);
            s += e;
            if (!log_out) buf[j] = e;
        }
        s = group_all_reduce<SumOp, GROUP>(s);
#pragma unroll
        for (int p = 0; p < PACKS; ++p) {
            const int col = (p * GROUP + lane) * PACK;
            if (live && col < cols) {
                float v[PACK];
#pragma unroll
                for (int i = 0; i < PACK; ++i) v[i] = buf[p * PACK + i];
                finish_pack<PACK>(v, shift, s, log_out, true);
                store_pack<T, PACK>(y + row * cols + col, v);
            }
        }
    }
}

// One block per row; the row is cached as fp32 in dynamic shared memory (cols * 4 bytes), in the
// layout cache[i * packs + p] so that neighbouring threads hit different banks.
template <typename T, int PACK, int BLOCK>
__global__ void __launch_bounds__(BLOCK, 2)
    softmax_smem(const T* __restrict__ x, T* __restrict__ y, long long rows, int cols,
                 long long ld, int log_out) {
    using namespace sapwood;
    extern __shared__ float cache[];
    __shared__ float scratch[32];
    const int packs = cols / PACK;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * ld;
        float m = neg_inf();
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
            load_pack<T, PACK>(xr + p * PACK, v);
#pragma unroll
            for (int i = 0; i < PACK; ++i) {
                cache[i * packs + p] = v[i];
                m = fmaxf(m, v[i]);
            }
        }
        m = block_all_reduce<MaxOp, BLOCK>(m, scratch);
        const float shift = shift_of(m);
        float s = 0.0f;
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
#pragma unroll
            for (int i = 0; i < PACK; ++i) {
                const float e = expf(cache[i * packs + p] - shift);
                s += e;
                if (!log_out) cache[i * packs + p] = e;
            }
        }
        s = block_all_reduce<SumOp, BLOCK>(s, scratch);
        // Each thread reads back only the cache slots it wrote, so no barrier is needed here.
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
#pragma unroll
            for (int i = 0; i < PACK; ++i) v[i] = cache[i * packs + p];
            finish_pack<PACK>(v, shift, s, log_out, true);
            store_pack<T, PACK>(y + row * cols + p * PACK, v);
        }
    }
}

namespace sapwood {

// Online softmax state: the running max m and the sum of exp(x - shift_of(m)).
struct MaxSum {
    float m;
    float s;
};

// Rescale a partial sum taken relative to max `m` to the larger max `to`. A sum over -inf
// entries is 0 (or NaN when a NaN was seen) and needs no rescaling.
__device__ __forceinline__ float rescale(float s, float m, float to) {
    return m == neg_inf() ? s : s * expf(m - to);
}

__device__ __forceinline__ MaxSum merge(MaxSum a, MaxSum b) {
    MaxSum r;
    r.m = fmaxf(a.m, b.m);
    r.s = rescale(a.s, a.m, r.m) + rescale(b.s, b.m, r.m);
    return r;
}

template <int BLOCK>
__device__ __forceinline__ MaxSum block_max_sum(MaxSum v, float* scratch /* 64 floats */) {
    constexpr int WARPS = BLOCK / 32;
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
#pragma unroll
    for (int mask = 16; mask > 0; mask /= 2) {
        MaxSum o;
        o.m = __shfl_xor_sync(0xffffffffu, v.m, mask);
        o.s = __shfl_xor_sync(0xffffffffu, v.s, mask);
        v = merge(v, o);
    }
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v.m;
        scratch[32 + warp] = v.s;
    }
    __syncthreads();
    v.m = lane < WARPS ? scratch[lane] : neg_inf();
    v.s = lane < WARPS ? scratch[32 + lane] : 0.0f;
#pragma unroll
    for (int mask = 16; mask > 0; mask /= 2) {
        MaxSum o;
        o.m = __shfl_xor_sync(0xffffffffu, v.m, mask);
        o.s = __shfl_xor_sync(0xffffffffu, v.s, mask);
        v = merge(v, o);
    }
    return v;
}

}  // namespace sapwood

// One block per row, no cache: pass 1 keeps a running (max, sum) per thread, updated once per
// pack; pass 2 re-reads the row (mostly from L2) and writes the output.
template <typename T, int PACK, int BLOCK>
__global__ void __launch_bounds__(BLOCK, 1)
    softmax_online(const T* __restrict__ x, T* __restrict__ y, long long rows, int cols,
                   long long ld, int log_out) {
    using namespace sapwood;
    __shared__ float scratch[64];
    const int packs = cols / PACK;
    for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
        const T* xr = x + row * ld;
        MaxSum st{neg_inf(), 0.0f};
#pragma unroll 4
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
            load_pack<T, PACK>(xr + p * PACK, v);
            float pm = v[0];
#pragma unroll
            for (int i = 1; i < PACK; ++i) pm = fmaxf(pm, v[i]);
            const float m = fmaxf(st.m, pm);
            const float sh = shift_of(m);
            float s = rescale(st.s, st.m, m);
#pragma unroll
            for (int i = 0; i < PACK; ++i) s += expf(v[i] - sh);
            st.m = m;
            st.s = s;
        }
        st = block_max_sum<BLOCK>(st, scratch);
        const float shift = shift_of(st.m);
#pragma unroll 4
        for (int p = threadIdx.x; p < packs; p += BLOCK) {
            float v[PACK];
            load_pack<T, PACK>(xr + p * PACK, v);
            finish_pack<PACK>(v, shift, st.s, log_out, false);
            store_pack<T, PACK>(y + row * cols + p * PACK, v);
        }
    }
}
