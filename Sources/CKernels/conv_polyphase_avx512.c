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
// dw: C[p, i] += Σ_n At[n, i] · brows[p][n] (weight gradient: i = Cout, p = (tap, Cin), n = the
//   extended columns, the output gradient transposed to [column][Cout] once per sample): output
//   channels in the lanes (up to 4 vectors = 64 channels per pass), blocks of 24/(vectors) B rows
//   whose entries are broadcast; no lane reductions (the earlier dot-product form, 4 × 6 dot
//   products reduced across lanes per 1024 columns, re-read 4 dy rows per 6 B rows from L2), and
//   each B row is read once per 64 output channels.
// Column tails use masked loads and stores (nothing outside [n0, n1) is read or written).
// Sums run in another order than OpenBLAS's: results agree to Float rounding.

#include "conv_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_common.h"

enum { LANES = 16, MR = 8, NV = 3, NR = NV * LANES, KC = 128 };
/// Columns per chunk of the `dw` kernel: a chunk of the transposed output gradient (DW_NC × up to
/// 64 channels = 256 KiB) stays in L2 while every block of B rows streams past it.
/// Each accumulator is added into C every DW_SUB columns, so no FMA chain is longer than 64 terms
/// (ConvPolyphaseDirectTests: worst relative error of dw against Double 1.4e-5 with 64-term chains,
/// 1.5e-5 with one chain per 1024-column chunk, 7e-6 with the earlier 16-lane dot products).
enum { DW_NC = 1024, DW_SUB = 64 };

/// c[r·ldc + j] (=, or += when accumulate) Σ_{p<k} a[p·MR + r] · rows[p][n0 + j], r < mr, j < width.
AVX512_INLINE void rows_block(int mr, int masked, int accumulate, const float *a, const float *const *rows,
                              long k, long n0, long width, float *c, long ldc,
                              const float *const *pf, long pfk, long pfn) {
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
        if (pf && p < pfk) {
            // The lines of B row p of the next (column block, K chunk) this call's caller runs.
            const char *q = (const char *)(pf[p] + pfn);
            _mm_prefetch(q, _MM_HINT_T0);
            _mm_prefetch(q + 64, _MM_HINT_T0);
            _mm_prefetch(q + 128, _MM_HINT_T0);
            _mm_prefetch(q + NR * sizeof(float) - 1, _MM_HINT_T0);
        }
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

/// The loops of `dro_polyphase_rows_gemm_avx512`; with `prefetch`, the last row block of each
/// (column block, K chunk) also prefetches the B lines of the next (column block, K chunk) in
/// loop order (the next K chunk of the same columns, or the first chunk of the next column block),
/// whose rows are scattered over the phases (one short run per row: too many streams for the
/// hardware prefetcher). The current chunk's B is not read again after its last row block, so the
/// prefetched lines replace it in L1. Prefetches do not change any result.
AVX512_INLINE void rows_gemm(long m, long k, const float *a, const float *const *rows, long n0, long n1, float *c,
                             long ldc, int prefetch) {
    for (long nb = n0; nb < n1; nb += NR) {
        const long width = n1 - nb < NR ? n1 - nb : NR;
        for (long k0 = 0; k0 < k; k0 += KC) {
            const long kk = k - k0 < KC ? k - k0 : KC;
            // Next (column block, K chunk): its rows, how many, its first column.
            const float *const *pf = 0;
            long pfk = 0, pfn = 0;
            if (prefetch) {
                if (k0 + KC < k) {
                    pf = rows + k0 + KC; pfk = k - k0 - KC < KC ? k - k0 - KC : KC; pfn = nb;
                } else if (nb + NR < n1 && n1 - nb - NR >= NR) {
                    pf = rows; pfk = k < KC ? k : KC; pfn = nb + NR;
                }
            }
            for (long i0 = 0; i0 < m; i0 += MR) {
                const long mr = m - i0 < MR ? m - i0 : MR;
                const float *ab = a + i0 * k + k0 * MR;
                float *cb = c + i0 * ldc + (nb - n0);
                const float *const *pfb = i0 + MR >= m ? pf : 0;
                if (mr == MR && width == NR) {
                    if (k0 == 0) rows_block(MR, 0, 0, ab, rows + k0, kk, nb, NR, cb, ldc, pfb, pfk, pfn);
                    else rows_block(MR, 0, 1, ab, rows + k0, kk, nb, NR, cb, ldc, pfb, pfk, pfn);
                } else {
                    rows_block((int)mr, 1, k0 > 0, ab, rows + k0, kk, nb, width, cb, ldc, pfb, pfk, pfn);
                }
            }
        }
    }
}

AVX512
void dro_polyphase_rows_gemm_avx512(long m, long k, const float *a, const float *const *rows,
                                    long n0, long n1, float *c, long ldc) {
    rows_gemm(m, k, a, rows, n0, n1, c, ldc, 0);
}

AVX512
void dro_polyphase_rows_gemm_prefetch_avx512(long m, long k, const float *a, const float *const *rows,
                                             long n0, long n1, float *c, long ldc) {
    rows_gemm(m, k, a, rows, n0, n1, c, ldc, 1);
}

/// c[q·ldc + co] += Σ_{n in [n0, n1)} at[n·lda + co] · brows[q][n] for q < QR, co < 16·cv (the
/// last vector masked by `last`): the output channels in the lanes, each B entry broadcast, so no
/// lane reduction is needed; QR·cv ≤ 24 accumulators.
#define DW_BLOCK(QR, CV)                                                                                   \
    AVX512_INLINE void dw_block_##QR##x##CV(const float *at, long lda, const float *const *brows, long n0,   \
                                           long n1, float *c, long ldc, __mmask16 last) {                \
        const float *b[QR];                                                                                \
        for (int q = 0; q < QR; q++) b[q] = brows[q];                                                      \
        for (long s0 = n0; s0 < n1; s0 += DW_SUB) {                                                        \
            const long s1 = n1 - s0 < DW_SUB ? n1 : s0 + DW_SUB;                                           \
            __m512 acc[QR][CV];                                                                            \
            for (int q = 0; q < QR; q++)                                                                   \
                for (int v = 0; v < CV; v++) acc[q][v] = _mm512_setzero_ps();                              \
            for (long n = s0; n < s1; n++) {                                                               \
                const float *ar = at + n * lda;                                                            \
                __m512 av[CV];                                                                             \
                for (int v = 0; v < CV - 1; v++) av[v] = _mm512_loadu_ps(ar + v * LANES);                  \
                av[CV - 1] = _mm512_maskz_loadu_ps(last, ar + (CV - 1) * LANES);                           \
                for (int q = 0; q < QR; q++) {                                                             \
                    const __m512 bq = _mm512_set1_ps(b[q][n]);                                             \
                    for (int v = 0; v < CV; v++) acc[q][v] = _mm512_fmadd_ps(av[v], bq, acc[q][v]);        \
                }                                                                                          \
            }                                                                                              \
            for (int q = 0; q < QR; q++)                                                                   \
                for (int v = 0; v < CV; v++) {                                                             \
                    float *cq = c + q * ldc + v * LANES;                                                   \
                    const __mmask16 m = v == CV - 1 ? last : (__mmask16)0xFFFF;                            \
                    _mm512_mask_storeu_ps(cq, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, cq), acc[q][v]));   \
                }                                                                                          \
        }                                                                                                  \
    }
DW_BLOCK(6, 4)
DW_BLOCK(8, 3)
DW_BLOCK(12, 2)
DW_BLOCK(24, 1)
DW_BLOCK(1, 4)
DW_BLOCK(1, 3)
DW_BLOCK(1, 2)
DW_BLOCK(1, 1)

AVX512
void dro_polyphase_dw_avx512(long m, const float *at, long lda, const float *const *brows, long n0, long n1,
                             float *c, long ldc, long p0, long p1) {
    for (long c0 = n0; c0 < n1; c0 += DW_NC) {
        const long c1 = n1 - c0 < DW_NC ? n1 : c0 + DW_NC;
        for (long i0 = 0; i0 < m; i0 += 4 * LANES) {
            const long mi = m - i0 < 4 * LANES ? m - i0 : 4 * LANES;
            const int cv = (int)((mi + LANES - 1) / LANES);
            const __mmask16 last = lane_mask(mi - (cv - 1) * LANES);
            const int qr = cv == 4 ? 6 : cv == 3 ? 8 : cv == 2 ? 12 : 24;
            long q = p0;
            for (; q + qr <= p1; q += qr) {
                float *cb = c + q * ldc + i0;
                switch (cv) {
                case 4: dw_block_6x4(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                case 3: dw_block_8x3(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                case 2: dw_block_12x2(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                default: dw_block_24x1(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                }
            }
            for (; q < p1; q++) {
                float *cb = c + q * ldc + i0;
                switch (cv) {
                case 4: dw_block_1x4(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                case 3: dw_block_1x3(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                case 2: dw_block_1x2(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                default: dw_block_1x1(at + i0, lda, brows + q, c0, c1, cb, ldc, last); break;
                }
            }
        }
    }
}

#else

void dro_polyphase_rows_gemm_avx512(long m, long k, const float *a, const float *const *rows,
                                    long n0, long n1, float *c, long ldc) {
    (void)m; (void)k; (void)a; (void)rows; (void)n0; (void)n1; (void)c; (void)ldc;
}

void dro_polyphase_rows_gemm_prefetch_avx512(long m, long k, const float *a, const float *const *rows,
                                             long n0, long n1, float *c, long ldc) {
    (void)m; (void)k; (void)a; (void)rows; (void)n0; (void)n1; (void)c; (void)ldc;
}

void dro_polyphase_dw_avx512(long m, const float *at, long lda, const float *const *brows, long n0, long n1,
                             float *c, long ldc, long p0, long p1) {
    (void)m; (void)at; (void)lda; (void)brows; (void)n0; (void)n1; (void)c; (void)ldc; (void)p0; (void)p1;
}

#endif
