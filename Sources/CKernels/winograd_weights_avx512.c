// Winograd weight transforms (F(2,3) and F(4,3)) with AVX-512, written straight into the packed
// panel order the packed forward GEMM reads (winograd_gemm_packed_avx512.c), so no separate
// packing pass runs over U (64 or 216 · Cout · Cin floats, up to 26 MB at 320 channels).
//
// One vector holds the 8 rows of a panel at one column k (lanes = pass rows i … i + 7), so each
// component's result is one contiguous store of mr floats at u + ξ·M·K + i·K + k·mr, and
// consecutive k continue the same stream. The 27 taps of the 8 kernels are gathered (row
// stride Cin·27 floats for the forward, 27 for the flipped input-gradient kernels).
//
// Per lane the operations are those of the Swift transforms (WinogradWeightTransforms.swift,
// WinogradF43WeightTransforms.swift) in the same order: Float additions and one multiplication
// by 0.5 for F(2,3); for F(4,3) Double additions, subtractions and divisions by 4, 6, 12 and 24
// (Swift's prefix minus on SIMD vectors is 0 − x, kept here), rounded to Float once. No
// multiply-add pairs exist to contract, so results are bit-identical (WinogradPackedWeightTests).

#include "winograd_weights.h"
#include "avx512_common.h"

#if defined(__x86_64__)

enum { WW_MR = 8 };

/// Gathers tap t of the mr kernels of one panel column: base[r·stride + tap(t)], zeros past mr.
AVX512_INLINE __m256 ww_gather(const float *base, __m256i index, __mmask8 mask) {
    return _mm256_mmask_i32gather_ps(_mm256_setzero_ps(), mask, index, base, 4);
}

/// Input gradient (`flip`): the kernels of column k (output channel k) for the panel's rows are
/// 8·27 contiguous floats, one block per k at a stride of Cin·27 floats, which the hardware
/// prefetchers do not follow; fetch column k's block into L1 ahead of use (no-op past the end).
AVX512_INLINE void ww_prefetch_column(const float *w, long cin, long i, long mr, long k, long k_count) {
    if (k >= k_count) return;
    const char *p = (const char *)(w + (k * cin + i) * 27);
    for (long b = 0; b < mr * 27 * 4 + 64; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
}

// ---- F(2,3): G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1] ---------------------------------------------

AVX512_INLINE void g23(__m256 g0, __m256 g1, __m256 g2, __m256 *r0, __m256 *r1, __m256 *r2, __m256 *r3) {
    const __m256 half = _mm256_set1_ps(0.5f);
    *r0 = g0;
    *r1 = _mm256_mul_ps(half, _mm256_add_ps(_mm256_add_ps(g0, g1), g2));
    *r2 = _mm256_mul_ps(half, _mm256_add_ps(_mm256_sub_ps(g0, g1), g2));
    *r3 = g2;
}

/// The same on 16 lanes: two adjacent columns k, k + 1 of a full panel (lanes 0–7 and 8–15), whose
/// packed results are 16 contiguous floats: one 64-byte store per component instead of two halves.
AVX512_INLINE void g23x2(__m512 g0, __m512 g1, __m512 g2, __m512 *r0, __m512 *r1, __m512 *r2, __m512 *r3) {
    const __m512 half = _mm512_set1_ps(0.5f);
    *r0 = g0;
    *r1 = _mm512_mul_ps(half, _mm512_add_ps(_mm512_add_ps(g0, g1), g2));
    *r2 = _mm512_mul_ps(half, _mm512_add_ps(_mm512_sub_ps(g0, g1), g2));
    *r3 = g2;
}

/// Columns k, k + 1 of the full panel at row i (`index`: 16 gather offsets).
AVX512_INLINE void f23_pair(const float *base, int flip, __m512i index, float *o, long matrix) {
    __m512 g[27], t1[36], t2[48];
    for (int t = 0; t < 27; t++) g[t] = _mm512_i32gather_ps(index, base + (flip ? 26 - t : t), 4);
    for (int zy = 0; zy < 9; zy++)
        g23x2(g[zy * 3], g[zy * 3 + 1], g[zy * 3 + 2], &t1[zy * 4], &t1[zy * 4 + 1], &t1[zy * 4 + 2], &t1[zy * 4 + 3]);
    for (int z = 0; z < 3; z++)
        for (int xiw = 0; xiw < 4; xiw++)
            g23x2(t1[(z * 3) * 4 + xiw], t1[(z * 3 + 1) * 4 + xiw], t1[(z * 3 + 2) * 4 + xiw],
                  &t2[z * 16 + xiw], &t2[z * 16 + 4 + xiw], &t2[z * 16 + 8 + xiw], &t2[z * 16 + 12 + xiw]);
    for (int yw = 0; yw < 16; yw++) {
        __m512 r0, r1, r2, r3;
        g23x2(t2[yw], t2[16 + yw], t2[32 + yw], &r0, &r1, &r2, &r3);
        _mm512_storeu_ps(o + yw * matrix, r0);
        _mm512_storeu_ps(o + (16 + yw) * matrix, r1);
        _mm512_storeu_ps(o + (32 + yw) * matrix, r2);
        _mm512_storeu_ps(o + (48 + yw) * matrix, r3);
    }
}

AVX512 void dro_winograd_f23_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                                      long panel_begin, long panel_end) {
    const long m = flip ? cin : cout, k_count = flip ? cout : cin, matrix = cout * cin;
    const long row_stride = flip ? 27 : cin * 27, column_stride = flip ? cin * 27 : 27;
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32((int)row_stride));
    const __m512i index2 = _mm512_inserti64x4(_mm512_castsi256_si512(index),
                                              _mm256_add_epi32(index, _mm256_set1_epi32((int)column_stride)), 1);
    __m256 g[27], t1[36], t2[48];
    for (long p = panel_begin; p < panel_end; p++) {
        const long i = p * WW_MR, mr = m - i < WW_MR ? m - i : WW_MR;
        const __mmask8 mask = (__mmask8)((1u << mr) - 1u);
        long k = 0;
        if (mr == WW_MR)
            for (; k + 1 < k_count; k += 2) {
                if (flip) {
                    ww_prefetch_column(w, cin, i, mr, k + 4, k_count);
                    ww_prefetch_column(w, cin, i, mr, k + 5, k_count);
                }
                f23_pair(flip ? w + (k * cin + i) * 27 : w + (i * cin + k) * 27, flip, index2,
                         u + i * k_count + k * WW_MR, matrix);
            }
        for (; k < k_count; k++) {
            if (flip) ww_prefetch_column(w, cin, i, mr, k + 4, k_count);
            const float *base = flip ? w + (k * cin + i) * 27 : w + (i * cin + k) * 27;
            for (int t = 0; t < 27; t++) g[t] = ww_gather(base + (flip ? 26 - t : t), index, mask);
            for (int zy = 0; zy < 9; zy++)
                g23(g[zy * 3], g[zy * 3 + 1], g[zy * 3 + 2], &t1[zy * 4], &t1[zy * 4 + 1], &t1[zy * 4 + 2],
                    &t1[zy * 4 + 3]);
            for (int z = 0; z < 3; z++)
                for (int xiw = 0; xiw < 4; xiw++)
                    g23(t1[(z * 3) * 4 + xiw], t1[(z * 3 + 1) * 4 + xiw], t1[(z * 3 + 2) * 4 + xiw],
                        &t2[z * 16 + xiw], &t2[z * 16 + 4 + xiw], &t2[z * 16 + 8 + xiw], &t2[z * 16 + 12 + xiw]);
            float *o = u + i * k_count + k * mr;
            for (int yw = 0; yw < 16; yw++) {
                __m256 r0, r1, r2, r3;
                g23(t2[yw], t2[16 + yw], t2[32 + yw], &r0, &r1, &r2, &r3);
                _mm256_mask_storeu_ps(o + yw * matrix, mask, r0);
                _mm256_mask_storeu_ps(o + (16 + yw) * matrix, mask, r1);
                _mm256_mask_storeu_ps(o + (32 + yw) * matrix, mask, r2);
                _mm256_mask_storeu_ps(o + (48 + yw) * matrix, mask, r3);
            }
        }
    }
}

// ---- F(4,3): G (6×3) of Lavin & Gray, in Double ---------------------------------------------

AVX512_INLINE void g43(__m512d g0, __m512d g1, __m512d g2, __m512d r[6]) {
    const __m512d zero = _mm512_setzero_pd();
    const __m512d c4 = _mm512_set1_pd(4.0), c6 = _mm512_set1_pd(6.0);
    const __m512d c12 = _mm512_set1_pd(12.0), c24 = _mm512_set1_pd(24.0);
    const __m512d a = _mm512_add_pd(g0, g2);
    const __m512d q0 = _mm512_div_pd(g0, c24), q1 = _mm512_div_pd(g1, c12), q2 = _mm512_div_pd(g2, c6);
    r[0] = _mm512_div_pd(g0, c4);
    r[1] = _mm512_div_pd(_mm512_sub_pd(zero, _mm512_add_pd(a, g1)), c6);
    r[2] = _mm512_div_pd(_mm512_sub_pd(zero, _mm512_sub_pd(a, g1)), c6);
    r[3] = _mm512_add_pd(_mm512_add_pd(q0, q1), q2);
    r[4] = _mm512_add_pd(_mm512_sub_pd(q0, q1), q2);
    r[5] = g2;
}

AVX512 void dro_winograd_f43_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                                      long panel_begin, long panel_end) {
    const long m = flip ? cin : cout, k_count = flip ? cout : cin, matrix = cout * cin;
    const long row_stride = flip ? 27 : cin * 27;
    const __m256i index = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                             _mm256_set1_epi32((int)row_stride));
    __m512d g[27], a[54], b[108];
    for (long p = panel_begin; p < panel_end; p++) {
        const long i = p * WW_MR, mr = m - i < WW_MR ? m - i : WW_MR;
        const __mmask8 mask = (__mmask8)((1u << mr) - 1u);
        for (long k = 0; k < k_count; k++) {
            if (flip) ww_prefetch_column(w, cin, i, mr, k + 2, k_count);
            const float *base = flip ? w + (k * cin + i) * 27 : w + (i * cin + k) * 27;
            for (int t = 0; t < 27; t++) g[t] = _mm512_cvtps_pd(ww_gather(base + (flip ? 26 - t : t), index, mask));
            // a[(kd·3 + kh)·6 + ξw], b[(kd·6 + ξh)·6 + ξw], as the Swift transform.
            for (int line = 0; line < 9; line++) g43(g[3 * line], g[3 * line + 1], g[3 * line + 2], a + line * 6);
            for (int kd = 0; kd < 3; kd++)
                for (int xw = 0; xw < 6; xw++) {
                    __m512d r[6];
                    const __m512d *q = a + kd * 18 + xw;
                    g43(q[0], q[6], q[12], r);
                    for (int j = 0; j < 6; j++) b[kd * 36 + xw + 6 * j] = r[j];
                }
            float *o = u + i * k_count + k * mr;
            for (int hw = 0; hw < 36; hw++) {
                __m512d r[6];
                g43(b[hw], b[36 + hw], b[72 + hw], r);
                for (int j = 0; j < 6; j++)
                    _mm256_mask_storeu_ps(o + (j * 36 + hw) * matrix, mask, _mm512_cvtpd_ps(r[j]));
            }
        }
    }
}

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_f23_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                            long panel_begin, long panel_end) {
    (void)w; (void)cout; (void)cin; (void)flip; (void)u; (void)panel_begin; (void)panel_end;
}

void dro_winograd_f43_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                            long panel_begin, long panel_end) {
    (void)w; (void)cout; (void)cin; (void)flip; (void)u; (void)panel_begin; (void)panel_end;
}

#endif
