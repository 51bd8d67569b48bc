// AVX-512 kernels for the small GEMMs of a Winograd chunk (see winograd_gemm.h); the same
// scheme as the AVX2 ones in winograd_gemm.c with 16-lane zmm vectors and 32 registers.
//
// Forward: blocks of FWD_MR rows × FWD_NR columns (two zmm vectors per row: 16 accumulators,
// 2 B vectors, broadcasts folded into the FMAs). FWD_MR = 8 divides every Cout of the network
// (16–128), so no row tail runs there.
//
// Weight gradient: blocks of WGT_MR × WGT_NR dot products along the tiles (16 accumulators,
// 4 P vectors, 1 D vector), reduced across lanes at the end and added into dU.
//
// Column tails use masked loads/stores (__mmask16): nothing past `tiles` is read or written.
//
// Not chosen automatically (figures: docs/performance.md, "Winograd GEMM kernels"): against
// OpenBLAS's own AVX-512 (Cooperlake) kernels the forward is level and the weight gradient
// slower in the 64³ layers, whose T = 128 tiles give only 8 zmm iterations per dot product
// before the lane reductions. DRO_WINOGRAD_GEMM=avx512 runs them (measurements, tests).

#include "winograd_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))

/// Floats per zmm vector.
enum { LANES = 16 };
/// Forward register block: 8 rows × 32 columns (two vectors) = 16 accumulators.
enum { FWD_MR = 8, FWD_NR = 2 * LANES };
/// Weight-gradient register block: 4 rows of P × 4 rows of D = 16 accumulators.
enum { WGT_MR = 4, WGT_NR = 4 };

/// Mask of the first `valid` lanes (clamped to 0…LANES).
AVX512_INLINE __mmask16 lane_mask(long valid) {
    long n = valid < 0 ? 0 : (valid > LANES ? LANES : valid);
    return (__mmask16)((1u << n) - 1u);
}

/// C[mr × width] = A[mr × k] · B[k × width], width ≤ FWD_NR; `masked` when width < FWD_NR.
AVX512_INLINE void forward_block(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                                 float *c, long ldc, long k, long width) {
    __m512 acc[FWD_MR][2];
    for (int r = 0; r < mr; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    __mmask16 m0 = masked ? lane_mask(width) : (__mmask16)0xFFFF;
    __mmask16 m1 = masked ? lane_mask(width - LANES) : (__mmask16)0xFFFF;
    for (long p = 0; p < k; p++) {
        const float *row = b + p * ldb;
        __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, row) : _mm512_loadu_ps(row);
        __m512 b1 = masked ? _mm512_maskz_loadu_ps(m1, row + LANES) : _mm512_loadu_ps(row + LANES);
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(a[r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *out = c + r * ldc;
        if (masked) {
            _mm512_mask_storeu_ps(out, m0, acc[r][0]);
            _mm512_mask_storeu_ps(out + LANES, m1, acc[r][1]);
        } else {
            _mm512_storeu_ps(out, acc[r][0]);
            _mm512_storeu_ps(out + LANES, acc[r][1]);
        }
    }
}

/// Row-count dispatch: each case inlines `forward_block` with a constant row count.
AVX512_INLINE void forward_rows(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                                float *c, long ldc, long k, long width) {
    switch (mr) {
    case 8: forward_block(8, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 7: forward_block(7, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 6: forward_block(6, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 5: forward_block(5, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 4: forward_block(4, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 3: forward_block(3, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 2: forward_block(2, masked, a, lda, b, ldb, c, ldc, k, width); break;
    default: forward_block(1, masked, a, lda, b, ldb, c, ldc, k, width); break;
    }
}

AVX512 void dro_winograd_gemm_forward_avx512(const float *u, const float *data, float *products,
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

/// du[mr × nr] (row stride lddu) += P[mr × t] · D[nr × t]ᵀ.
AVX512_INLINE void weight_block(int mr, int nr, const float *p, const float *d, long ld, long t,
                                float *du, long lddu) {
    __m512 acc[WGT_MR][WGT_NR];
    for (int r = 0; r < mr; r++)
        for (int s = 0; s < nr; s++) acc[r][s] = _mm512_setzero_ps();
    for (long q = 0; q < t; q += LANES) {
        __mmask16 m = lane_mask(t - q);   // all lanes except in the last, partial vector
        __m512 pv[WGT_MR];
        for (int r = 0; r < mr; r++) pv[r] = _mm512_maskz_loadu_ps(m, p + r * ld + q);
        for (int s = 0; s < nr; s++) {
            __m512 dv = _mm512_maskz_loadu_ps(m, d + s * ld + q);
            for (int r = 0; r < mr; r++) acc[r][s] = _mm512_fmadd_ps(pv[r], dv, acc[r][s]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int s = 0; s < nr; s++) du[r * lddu + s] += _mm512_reduce_add_ps(acc[r][s]);
}

/// Row/column-count dispatch: each case inlines `weight_block` with constant counts.
AVX512_INLINE void weight_rows(int mr, int nr, const float *p, const float *d, long ld, long t,
                               float *du, long lddu) {
#define WEIGHT_CASES(M) \
    switch (nr) { \
    case 4: weight_block(M, 4, p, d, ld, t, du, lddu); break; \
    case 3: weight_block(M, 3, p, d, ld, t, du, lddu); break; \
    case 2: weight_block(M, 2, p, d, ld, t, du, lddu); break; \
    default: weight_block(M, 1, p, d, ld, t, du, lddu); break; \
    }
    switch (mr) {
    case 4: WEIGHT_CASES(4) break;
    case 3: WEIGHT_CASES(3) break;
    case 2: WEIGHT_CASES(2) break;
    default: WEIGHT_CASES(1) break;
    }
#undef WEIGHT_CASES
}

AVX512 void dro_winograd_gemm_weight_avx512(const float *products, const float *data, float *du,
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

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_gemm_forward_avx512(const float *u, const float *data, float *products, long cout, long cin,
                                      long tiles, long ld, long xi_stride, long components) {
    (void)u; (void)data; (void)products; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}
void dro_winograd_gemm_weight_avx512(const float *products, const float *data, float *du, long cout, long cin,
                                     long tiles, long ld, long xi_stride, long components) {
    (void)products; (void)data; (void)du; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
