// Matrix-vector products y = W x for a small batch of vectors (BATCH = 1..8 rows of x).
//
//   gemv_dense  W is fp32 or fp16, shape (out, in), rows `ldw` elements apart.
//   gemv_quant  W is quantised to BITS = 8 (one byte per weight) or 4 (two weights per byte,
//               the even column in the low nibble), rows padded to `row_bytes` (a multiple of
//               16), with a scale s and an integer zero point z per (row, group of columns):
//               w = s * (q - z). Per-row quantisation is one group spanning the whole row.
// Layout of the work: a warp owns ROWS consecutive output rows; its lanes stride along the row
// in 16-byte chunks of W, so each chunk of x is loaded once for ROWS rows of W and each chunk of
// W once for all BATCH vectors. Partial dot products are fp32 and reduced with warp shuffles.
// x is (BATCH, in) contiguous, y is (BATCH, out) contiguous, in the dtype of x.
#include "common.cuh"

namespace sapwood {

constexpr int GEMV_ROWS = 2;  // output rows per warp

// 2^23 as a float: OR-ing an integer v < 2^23 into its mantissa gives exactly 2^23 + v, so
// (bits - (2^23 + z)) is v - z without an integer-to-float conversion instruction.
constexpr unsigned MAGIC_BITS = 0x4B000000u;
constexpr float MAGIC = 8388608.0f;

template <int BITS>
__device__ __forceinline__ void dequant_chunk(uint4 raw, float zb, float (&w)[16 * 8 / BITS]) {
    const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
    constexpr int PER_WORD = 32 / BITS;
    constexpr unsigned MASK = (1u << BITS) - 1u;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
#pragma unroll
        for (int n = 0; n < PER_WORD; ++n) {
            const unsigned v = (words[k] >> (BITS * n)) & MASK;
            w[k * PER_WORD + n] = __uint_as_float(MAGIC_BITS | v) - zb;
        }
    }
}

// The 16-byte chunk `ch` of quantised row `row`, or zeros past the last row.
__device__ __forceinline__ uint4 load_chunk(const unsigned char* __restrict__ q, long long row,
                                            int out, int row_bytes, int ch) {
    if (row >= out) return make_uint4(0u, 0u, 0u, 0u);
    return *reinterpret_cast<const uint4*>(q + row * row_bytes + (long long)ch * 16);
}

}  // namespace sapwood

template <typename T, int VEC, int BATCH>
__global__ void __launch_bounds__(128, 4)
    gemv_dense(const T* __restrict__ w, const T* __restrict__ x, T* __restrict__ y, int out,
               int in, long long ldw) {
    using namespace sapwood;
    constexpr int R = GEMV_ROWS;
    const int lane = threadIdx.x % 32;
    const long long warp = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    // r0 is the same for every lane of a warp, so the shuffles below see the whole warp.
    for (long long r0 = warp * R; r0 < out; r0 += warps * R) {
        float acc[R][BATCH];
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int b = 0; b < BATCH; ++b) acc[r][b] = 0.0f;
        }
#pragma unroll 2
        for (int c = lane * VEC; c < in; c += 32 * VEC) {
            float wv[R][VEC];
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (r0 + r < out) {
                    load_pack<T, VEC>(w + (r0 + r) * ldw + c, wv[r]);
                } else {
#pragma unroll
                    for (int i = 0; i < VEC; ++i) wv[r][i] = 0.0f;
                }
            }
#pragma unroll
            for (int b = 0; b < BATCH; ++b) {
                float xv[VEC];
                load_pack<T, VEC>(x + (long long)b * in + c, xv);
#pragma unroll
                for (int r = 0; r < R; ++r) {
#pragma unroll
                    for (int i = 0; i < VEC; ++i) acc[r][b] = fmaf(wv[r][i], xv[i], acc[r][b]);
                }
            }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int b = 0; b < BATCH; ++b) {
                const float v = group_all_reduce<SumOp, 32>(acc[r][b]);
                if (lane == 0 && r0 + r < out) y[(long long)b * out + r0 + r] = from_float<T>(v);
            }
        }
    }
}

template <int BITS, typename TX, int BATCH>
__global__ void __launch_bounds__(128, 4)
    gemv_quant(const unsigned char* __restrict__ q, const float* __restrict__ scale,
               const float* __restrict__ zero, const TX* __restrict__ x, TX* __restrict__ y,
               int out, int in, int row_bytes, int group_size, int n_groups, int x_vec) {
    using namespace sapwood;
    constexpr int R = GEMV_ROWS;
    constexpr int EPC = 16 * 8 / BITS;        // weights per 16-byte chunk
    constexpr int XV = 16 / (int)sizeof(TX);  // x elements per 16-byte load
    const int lane = threadIdx.x % 32;
    const long long warp = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    const long long warps = (long long)gridDim.x * (blockDim.x / 32);
    const int chunks = row_bytes / 16;
    for (long long r0 = warp * R; r0 < out; r0 += warps * R) {
        float acc[R][BATCH];
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int b = 0; b < BATCH; ++b) acc[r][b] = 0.0f;
        }
        // Small batches spend little time per chunk, so the next chunk's weights are loaded
        // before the current one is used (two 16-byte loads in flight per lane and row).
        constexpr bool PREFETCH = BATCH <= 4;
        uint4 next[R];
        if (PREFETCH && lane < chunks) {
#pragma unroll
            for (int r = 0; r < R; ++r) next[r] = load_chunk(q, r0 + r, out, row_bytes, lane);
        }
        for (int ch = lane; ch < chunks; ch += 32) {
            const int c0 = ch * EPC;
            // A chunk never straddles a group: group sizes are whole chunks (check_group_size
            // in python/sapwood/gpu/_quant.py), and a per-row group holds every chunk.
            const int g = c0 / group_size;
            uint4 raw[R];
#pragma unroll
            for (int r = 0; r < R; ++r) {
                if (PREFETCH) {
                    raw[r] = next[r];
                    if (ch + 32 < chunks) next[r] = load_chunk(q, r0 + r, out, row_bytes, ch + 32);
                } else {
                    raw[r] = load_chunk(q, r0 + r, out, row_bytes, ch);
                }
            }
            float wv[R][EPC];
            float sc[R];
#pragma unroll
            for (int r = 0; r < R; ++r) {
                const long long row = r0 + r;
                if (row < out) {
                    sc[r] = scale[row * n_groups + g];
                    dequant_chunk<BITS>(raw[r], MAGIC + zero[row * n_groups + g], wv[r]);
                } else {
                    sc[r] = 0.0f;
#pragma unroll
                    for (int i = 0; i < EPC; ++i) wv[r][i] = 0.0f;
                }
            }
            const bool full = x_vec && c0 + EPC <= in;
#pragma unroll
            for (int b = 0; b < BATCH; ++b) {
                const TX* xb = x + (long long)b * in + c0;
                float part[R];
#pragma unroll
                for (int r = 0; r < R; ++r) part[r] = 0.0f;
                if (full) {
#pragma unroll
                    for (int k = 0; k < EPC / XV; ++k) {
                        float xv[XV];
                        load_pack<TX, XV>(xb + k * XV, xv);
#pragma unroll
                        for (int r = 0; r < R; ++r) {
#pragma unroll
                            for (int i = 0; i < XV; ++i)
                                part[r] = fmaf(wv[r][k * XV + i], xv[i], part[r]);
                        }
                    }
                } else {
                    // Tail of the row, or x not 16-byte aligned: scalar loads, zeros past `in`.
#pragma unroll
                    for (int i = 0; i < EPC; ++i) {
                        const float xv = c0 + i < in ? to_float(xb[i]) : 0.0f;
#pragma unroll
                        for (int r = 0; r < R; ++r) part[r] = fmaf(wv[r][i], xv, part[r]);
                    }
                }
#pragma unroll
                for (int r = 0; r < R; ++r) acc[r][b] = fmaf(sc[r], part[r], acc[r][b]);
            }
        }
#pragma unroll
        for (int r = 0; r < R; ++r) {
#pragma unroll
            for (int b = 0; b < BATCH; ++b) {
                const float v = group_all_reduce<SumOp, 32>(acc[r][b]);
                if (lane == 0 && r0 + r < out) y[(long long)b * out + r0 + r] = from_float<TX>(v);
            }
        }
    }
}
