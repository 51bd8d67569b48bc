// AVX2 + FMA kernels for the small GEMMs of a Winograd chunk (see winograd_gemm.h).
//
// Forward: register blocks of FWD_MR rows × FWD_NR columns of C. Per k, FWD_NR / 8 vectors of
// B row k are loaded once and each of the FWD_MR values U[i][k] is broadcast into an FMA per
// vector (12 accumulators + 2 B vectors + 1 broadcast = 15 of the 16 ymm registers). B rows
// are contiguous and a chunk's B_ξ (≤ 128 × ~128 floats) sits in L2, so nothing is packed;
// the K × FWD_NR panel of B (≤ 8 KiB) stays in L1 while every row block of U passes over it.
//
// Weight gradient: dU[i][j] = Σ_t P[i][t]·D[j][t] is a set of dot products along the tiles,
// which are contiguous in both operands: blocks of WGT_MR × WGT_NR dot products, each an
// 8-lane accumulator (12 accumulators + 3 P vectors + 1 D vector = 16 registers), reduced
// across lanes once at the end and added into dU.
//
// Tails: columns past the last full block use masked loads/stores (never touch memory past
// `tiles`); row tails use the same inlined block with fewer rows (the row count is a constant
// after inlining, so the accumulators stay in registers).

#include "winograd_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/// Floats per ymm vector.
enum { LANES = 8 };
/// Forward register block: 6 rows × 16 columns (two vectors) = 12 accumulators.
enum { FWD_MR = 6, FWD_NR = 2 * LANES };
/// Weight-gradient register block: 3 rows of P × 4 rows of D = 12 accumulators.
enum { WGT_MR = 3, WGT_NR = 4 };

/// mask_table + LANES - n holds n all-ones words followed by zeros: the lane mask of a
/// vector whose first n (0…LANES) lanes are valid.
static const int mask_table[2 * LANES] = { -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0 };

AVX2_INLINE __m256i lane_mask(long valid) {
    long n = valid < 0 ? 0 : (valid > LANES ? LANES : valid);
    return _mm256_loadu_si256((const __m256i *)(mask_table + LANES - n));
}

/// C[mr × width] = A[mr × k] · B[k × width], width ≤ FWD_NR; `masked` when width < FWD_NR.
AVX2_INLINE void forward_block(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                               float *c, long ldc, long k, long width) {
    __m256 acc[FWD_MR][2];
    for (int r = 0; r < mr; r++) { acc[r][0] = _mm256_setzero_ps(); acc[r][1] = _mm256_setzero_ps(); }
    __m256i m0 = masked ? lane_mask(width) : _mm256_setzero_si256();
    __m256i m1 = masked ? lane_mask(width - LANES) : _mm256_setzero_si256();
    for (long p = 0; p < k; p++) {
        const float *row = b + p * ldb;
        __m256 b0 = masked ? _mm256_maskload_ps(row, m0) : _mm256_loadu_ps(row);
        __m256 b1 = masked ? _mm256_maskload_ps(row + LANES, m1) : _mm256_loadu_ps(row + LANES);
        for (int r = 0; r < mr; r++) {
            __m256 ar = _mm256_broadcast_ss(a + r * lda + p);
            acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *out = c + r * ldc;
        if (masked) {
            _mm256_maskstore_ps(out, m0, acc[r][0]);
            _mm256_maskstore_ps(out + LANES, m1, acc[r][1]);
        } else {
            _mm256_storeu_ps(out, acc[r][0]);
            _mm256_storeu_ps(out + LANES, acc[r][1]);
        }
    }
}

/// Row-count dispatch: each case inlines `forward_block` with a constant row count.
AVX2_INLINE void forward_rows(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                              float *c, long ldc, long k, long width) {
    switch (mr) {
    case 6: forward_block(6, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 5: forward_block(5, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 4: forward_block(4, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 3: forward_block(3, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 2: forward_block(2, masked, a, lda, b, ldb, c, ldc, k, width); break;
    default: forward_block(1, masked, a, lda, b, ldb, c, ldc, k, width); break;
    }
}

AVX2 void dro_winograd_gemm_forward_avx2(const float *u, const float *data, float *products,
                                         long cout, long cin, long tiles, long ld, long xi_stride,
                                         long components) {
    for (long xi = 0; xi < components; xi++) {
        const float *a = u + xi * cout * cin;
        const float *b = data + xi * xi_stride;
        float *c = products + xi * xi_stride;
        for (long j = 0; j < tiles; j += FWD_NR) {
            long width = tiles - j < FWD_NR ? tiles - j : FWD_NR;
            int masked = width < FWD_NR;
            for (long i = 0; i < cout; i += FWD_MR) {
                int mr = (int)(cout - i < FWD_MR ? cout - i : FWD_MR);
                if (masked) forward_rows(mr, 1, a + i * cin, cin, b + j, ld, c + i * ld + j, ld, cin, width);
                else forward_rows(mr, 0, a + i * cin, cin, b + j, ld, c + i * ld + j, ld, cin, width);
            }
        }
    }
}

/// Sum of the 8 lanes of v.
AVX2_INLINE float lane_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// du[mr × nr] (row stride lddu) += P[mr × t] · D[nr × t]ᵀ.
AVX2_INLINE void weight_block(int mr, int nr, const float *p, const float *d, long ld, long t,
                              float *du, long lddu) {
    __m256 acc[WGT_MR][WGT_NR];
    for (int r = 0; r < mr; r++)
        for (int s = 0; s < nr; s++) acc[r][s] = _mm256_setzero_ps();
    long q = 0;
    for (; q + LANES <= t; q += LANES) {
        __m256 pv[WGT_MR];
        for (int r = 0; r < mr; r++) pv[r] = _mm256_loadu_ps(p + r * ld + q);
        for (int s = 0; s < nr; s++) {
            __m256 dv = _mm256_loadu_ps(d + s * ld + q);
            for (int r = 0; r < mr; r++) acc[r][s] = _mm256_fmadd_ps(pv[r], dv, acc[r][s]);
        }
    }
    if (q < t) {   // masked loads read zeros past the last tile
        __m256i m = lane_mask(t - q);
        __m256 pv[WGT_MR];
        for (int r = 0; r < mr; r++) pv[r] = _mm256_maskload_ps(p + r * ld + q, m);
        for (int s = 0; s < nr; s++) {
            __m256 dv = _mm256_maskload_ps(d + s * ld + q, m);
            for (int r = 0; r < mr; r++) acc[r][s] = _mm256_fmadd_ps(pv[r], dv, acc[r][s]);
        }
    }
    for (int r = 0; r < mr; r++) {
        if (nr == WGT_NR) {
            // Four dot products of a row at once: pairwise sums within 128-bit halves, then halves.
            __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[r][0], acc[r][1]), _mm256_hadd_ps(acc[r][2], acc[r][3]));
            __m128 four = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            _mm_storeu_ps(du + r * lddu, _mm_add_ps(_mm_loadu_ps(du + r * lddu), four));
        } else {
            for (int s = 0; s < nr; s++) du[r * lddu + s] += lane_sum(acc[r][s]);
        }
    }
}

/// Row/column-count dispatch: each case inlines `weight_block` with constant counts.
AVX2_INLINE void weight_rows(int mr, int nr, const float *p, const float *d, long ld, long t,
                             float *du, long lddu) {
#define WEIGHT_CASES(M) \
    switch (nr) { \
    case 4: weight_block(M, 4, p, d, ld, t, du, lddu); break; \
    case 3: weight_block(M, 3, p, d, ld, t, du, lddu); break; \
    case 2: weight_block(M, 2, p, d, ld, t, du, lddu); break; \
    default: weight_block(M, 1, p, d, ld, t, du, lddu); break; \
    }
    switch (mr) {
    case 3: WEIGHT_CASES(3) break;
    case 2: WEIGHT_CASES(2) break;
    default: WEIGHT_CASES(1) break;
    }
#undef WEIGHT_CASES
}

AVX2 void dro_winograd_gemm_weight_avx2(const float *products, const float *data, float *du,
                                        long cout, long cin, long tiles, long ld, long xi_stride,
                                        long components) {
    for (long xi = 0; xi < components; xi++) {
        const float *p = products + xi * xi_stride;
        const float *d = data + xi * xi_stride;
        float *out = du + xi * cout * cin;
        for (long i = 0; i < cout; i += WGT_MR) {
            int mr = (int)(cout - i < WGT_MR ? cout - i : WGT_MR);
            for (long j = 0; j < cin; j += WGT_NR) {
                int nr = (int)(cin - j < WGT_NR ? cin - j : WGT_NR);
                weight_rows(mr, nr, p + i * ld, d + j * ld, ld, tiles, out + i * cin + j, cin);
            }
        }
    }
}

#else   // not x86-64: callers check dro_cpu_has_avx2_fma() (0 here) and never get this far.

void dro_winograd_gemm_forward_avx2(const float *u, const float *data, float *products, long cout, long cin,
                                    long tiles, long ld, long xi_stride, long components) {
    (void)u; (void)data; (void)products; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}
void dro_winograd_gemm_weight_avx2(const float *products, const float *data, float *du, long cout, long cin,
                                   long tiles, long ld, long xi_stride, long components) {
    (void)products; (void)data; (void)du; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
