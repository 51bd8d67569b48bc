// Direct AVX-512 kernels of the polyphase stride-2 convolution (Tensor/ConvPolyphase.swift).
// After the phase split every tap of the 3×3×3 kernel is a contiguous, shifted row of one phase,
// so the convolution's products are GEMMs whose B rows are plain pointers into the phases (or
// into the extended output gradient): these kernels read them in place. OpenBLAS needs one call
// per run of taps sharing a shift (14 GEMMs with K = 1–8 × Cin), re-packs B inside each and
// reads and writes C again after each; here one pass covers all 27·Cin (or taps·Cout) rows.
//
// rows_gemm: C[i, n] = Σ_p A[p, i] · rows[p][n] (forward: i = Cout, p = (tap, Cin); input
//   gradient: i = Cin of one phase, p = (tap, Cout)). Register block MR = 8 rows × NR = 48
//   columns (24 zmm accumulators, 3 B vectors, A broadcast); A packed per block of 8 rows as
//   [k][8]; K in chunks of KC rows, so a chunk's B rows (KC × 48 Floats) stay in L1 while the
//   row blocks reuse them.
// dot: C[i, p] += Σ_n arows[i][n] · brows[p][n] (weight gradient: i = Cout, p = (tap, Cin), n =
//   the extended columns): blocks of DOT_MR × DOT_PR dot products (24 accumulators) over column
//   chunks of DOT_NC, reduced across lanes once per chunk.
// Column tails use masked loads and stores (nothing outside [n0, n1) is read or written).
// Sums run in another order than OpenBLAS's: results agree to Float rounding.

#include "conv_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))
#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

enum { LANES = 16, MR = 8, NV = 3, NR = NV * LANES, KC = 128 };
enum { DOT_MR = 4, DOT_PR = 6, DOT_NC = 1024 };

/// Mask of the first `valid` lanes (clamped to 0…LANES).
AVX512_INLINE __mmask16 lane_mask(long valid) {
    long n = valid < 0 ? 0 : (valid > LANES ? LANES : valid);
    return (__mmask16)((1u << n) - 1u);
}

/// c[r·ldc + j] (=, or += when accumulate) Σ_{p<k} a[p·MR + r] · rows[p][n0 + j], r < mr, j < width.
AVX512_INLINE void rows_block(int mr, int masked, int accumulate, const float *a, const float *const *rows,
                              long k, long n0, long width, float *c, long ldc) {
    __m512 acc[MR][NV];
    __mmask16 m[NV];
    for (int v = 0; v < NV; v++) m[v] = masked ? lane_mask(width - v * LANES) : (__mmask16)0xFFFF;
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++)
            acc[r][v] = accumulate ? (masked ? _mm512_maskz_loadu_ps(m[v], c + r * ldc + v * LANES)
                                             : _mm512_loadu_ps(c + r * ldc + v * LANES))
                                   : _mm512_setzero_ps();
    for (long p = 0; p < k; p++) {
        const float *row = rows[p] + n0;
        __m512 b[NV];
        for (int v = 0; v < NV; v++)
            b[v] = masked ? _mm512_maskz_loadu_ps(m[v], row + v * LANES) : _mm512_loadu_ps(row + v * LANES);
        const float *ap = a + p * MR;
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(ap[r]);
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(ar, b[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < NV; v++) {
            if (masked) _mm512_mask_storeu_ps(c + r * ldc + v * LANES, m[v], acc[r][v]);
            else _mm512_storeu_ps(c + r * ldc + v * LANES, acc[r][v]);
        }
}

AVX512
void dro_polyphase_rows_gemm_avx512(long m, long k, const float *a, const float *const *rows,
                                    long n0, long n1, float *c, long ldc) {
    for (long nb = n0; nb < n1; nb += NR) {
        const long width = n1 - nb < NR ? n1 - nb : NR;
        for (long k0 = 0; k0 < k; k0 += KC) {
            const long kk = k - k0 < KC ? k - k0 : KC;
            for (long i0 = 0; i0 < m; i0 += MR) {
                const long mr = m - i0 < MR ? m - i0 : MR;
                const float *ab = a + i0 * k + k0 * MR;
                float *cb = c + i0 * ldc + (nb - n0);
                if (mr == MR && width == NR) {
                    if (k0 == 0) rows_block(MR, 0, 0, ab, rows + k0, kk, nb, NR, cb, ldc);
                    else rows_block(MR, 0, 1, ab, rows + k0, kk, nb, NR, cb, ldc);
                } else {
                    rows_block((int)mr, 1, k0 > 0, ab, rows + k0, kk, nb, width, cb, ldc);
                }
            }
        }
    }
}

/// c[r·ldc + q] += Σ_{n0 ≤ n < n1} arows[r][n] · brows[q][n], r < mr, q < pr.
AVX512_INLINE void dot_block(int mr, int pr, const float *const *arows, const float *const *brows,
                             long n0, long n1, float *c, long ldc) {
    __m512 acc[DOT_MR][DOT_PR];
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < pr; q++) acc[r][q] = _mm512_setzero_ps();
    for (long n = n0; n < n1; n += LANES) {
        const __mmask16 m = lane_mask(n1 - n);
        __m512 av[DOT_MR];
        for (int r = 0; r < mr; r++) av[r] = _mm512_maskz_loadu_ps(m, arows[r] + n);
        for (int q = 0; q < pr; q++) {
            __m512 bq = _mm512_maskz_loadu_ps(m, brows[q] + n);
            for (int r = 0; r < mr; r++) acc[r][q] = _mm512_fmadd_ps(av[r], bq, acc[r][q]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < pr; q++) c[r * ldc + q] += _mm512_reduce_add_ps(acc[r][q]);
}

AVX512
void dro_polyphase_dot_avx512(long m, const float *const *arows, const float *const *brows,
                              long n0, long n1, float *c, long ldc, long p0, long p1) {
    for (long c0 = n0; c0 < n1; c0 += DOT_NC) {
        const long c1 = n1 - c0 < DOT_NC ? n1 : c0 + DOT_NC;
        for (long q0 = p0; q0 < p1; q0 += DOT_PR) {
            const long pr = p1 - q0 < DOT_PR ? p1 - q0 : DOT_PR;
            for (long i0 = 0; i0 < m; i0 += DOT_MR) {
                const long mr = m - i0 < DOT_MR ? m - i0 : DOT_MR;
                if (mr == DOT_MR && pr == DOT_PR)
                    dot_block(DOT_MR, DOT_PR, arows + i0, brows + q0, c0, c1, c + i0 * ldc + q0, ldc);
                else
                    dot_block((int)mr, (int)pr, arows + i0, brows + q0, c0, c1, c + i0 * ldc + q0, ldc);
            }
        }
    }
}

#else

void dro_polyphase_rows_gemm_avx512(long m, long k, const float *a, const float *const *rows,
                                    long n0, long n1, float *c, long ldc) {
    (void)m; (void)k; (void)a; (void)rows; (void)n0; (void)n1; (void)c; (void)ldc;
}

void dro_polyphase_dot_avx512(long m, const float *const *arows, const float *const *brows,
                              long n0, long n1, float *c, long ldc, long p0, long p1) {
    (void)m; (void)arows; (void)brows; (void)n0; (void)n1; (void)c; (void)ldc; (void)p0; (void)p1;
}

#endif
