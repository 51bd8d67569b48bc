// Vectorised exp and the Dice+CE loss's softmax run (softmax_kernels.h) for AVX-512 F and
// AVX2 + FMA. The same polynomial and reduction in both; only the 2ⁿ scaling differs (exact in both).
#include "softmax_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <math.h>

#include "avx512_common.h"

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

// Clamp bounds: e^−104 < 2^−150 rounds to +0; e^88.73 > FLT_MAX.
static const float EXP_LO = -104.0f, EXP_HI = 88.7228391f;
static const float LOG2E = 1.44269504088896341f;
// ln 2 = C1 + C2, C1 exact in few bits (Cephes).
static const float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
static const float P0 = 1.9875691500E-4f, P1 = 1.3981999507E-3f, P2 = 8.3334519073E-3f,
                   P3 = 4.1665795894E-2f, P4 = 1.6666665459E-1f, P5 = 5.0000001201E-1f;

// ---- AVX-512 ----

/// e^x on 16 lanes. max(lo, x) keeps a NaN x (the second operand is returned for NaN).
AVX512_INLINE __m512 exp16(__m512 x) {
    const __m512 big = _mm512_set1_ps(EXP_HI);
    const __mmask16 over = _mm512_cmp_ps_mask(x, big, _CMP_GT_OQ);
    x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    __m512 q = _mm512_set1_ps(P0);
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P1));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P5));
    const __m512 r2 = _mm512_mul_ps(r, r);
    const __m512 e = _mm512_add_ps(_mm512_fmadd_ps(q, r2, r), _mm512_set1_ps(1.0f));
    return _mm512_mask_mov_ps(_mm512_scalef_ps(e, n), over, _mm512_set1_ps(INFINITY));
}

AVX512
void dro_exp_avx512(const float *x, float *y, long count) {
    for (long i = 0; i < count; i += 16) {
        const __mmask16 m = lane_mask(count - i);
        _mm512_mask_storeu_ps(y + i, m, exp16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

AVX512
void dro_softmax_run_avx512(const float *x, float *p, long stride, long classes, long count,
                            float *mx, float *sum, float *sp) {
    for (long c = 0; c < classes; c++) sp[c] = 0;
    for (long i = 0; i < count; i += 16) {
        const __mmask16 m = lane_mask(count - i);
        __m512 mv = _mm512_maskz_loadu_ps(m, x + i);
        for (long c = 1; c < classes; c++) mv = _mm512_max_ps(_mm512_maskz_loadu_ps(m, x + c * stride + i), mv);
        __m512 s = _mm512_setzero_ps();
        for (long c = 0; c < classes; c++) {
            const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + c * stride + i), mv));
            _mm512_mask_storeu_ps(p + c * stride + i, m, e);
            s = _mm512_add_ps(s, e);
        }
        _mm512_mask_storeu_ps(mx + i, m, mv);
        _mm512_mask_storeu_ps(sum + i, m, s);
    }
    // p ·= 1/sum class by class (the run is in L1), Σ p in 16 lanes.
    for (long c = 0; c < classes; c++) {
        __m512 acc = _mm512_setzero_ps();
        float *pc = p + c * stride;
        for (long i = 0; i < count; i += 16) {
            const __mmask16 m = lane_mask(count - i);
            const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, sum + i));
            const __m512 q = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, pc + i), inv);
            _mm512_mask_storeu_ps(pc + i, m, q);
            acc = _mm512_add_ps(acc, q);
        }
        float lanes[16], t = 0;
        _mm512_storeu_ps(lanes, acc);
        for (int l = 0; l < 16; l++) t += lanes[l];
        sp[c] = t;
    }
}

// ---- AVX2 ----

AVX2_INLINE __m256 exp8(__m256 x) {
    const __m256 over = _mm256_cmp_ps(x, _mm256_set1_ps(EXP_HI), _CMP_GT_OQ);
    x = _mm256_max_ps(_mm256_set1_ps(EXP_LO), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    __m256 q = _mm256_set1_ps(P0);
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(P1));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(P2));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(P3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(P4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(P5));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 e = _mm256_add_ps(_mm256_fmadd_ps(q, r2, r), _mm256_set1_ps(1.0f));
    // 2ⁿ = 2^a · 2^b with a = n >> 1, b = n − a, both in [−76, 64]: normal factors, one rounding
    // at most (the last product, if subnormal). NaN x: n is NaN, its integer garbage is harmless
    // since e is NaN.
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i a = _mm256_srai_epi32(ni, 1), b = _mm256_sub_epi32(ni, a);
    const __m256 fa = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(a, _mm256_set1_epi32(127)), 23));
    const __m256 fb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(127)), 23));
    return _mm256_blendv_ps(_mm256_mul_ps(_mm256_mul_ps(e, fa), fb), _mm256_set1_ps(INFINITY), over);
}

AVX2_INLINE __m256i tail_mask8(long valid) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int n = (int)(valid < 0 ? 0 : (valid > 8 ? 8 : valid));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
}

AVX2
void dro_exp_avx2(const float *x, float *y, long count) {
    for (long i = 0; i < count; i += 8) {
        const __m256i m = tail_mask8(count - i);
        _mm256_maskstore_ps(y + i, m, exp8(_mm256_maskload_ps(x + i, m)));
    }
}

AVX2
void dro_softmax_run_avx2(const float *x, float *p, long stride, long classes, long count,
                          float *mx, float *sum, float *sp) {
    for (long c = 0; c < classes; c++) sp[c] = 0;
    for (long i = 0; i < count; i += 8) {
        const __m256i m = tail_mask8(count - i);
        __m256 mv = _mm256_maskload_ps(x + i, m);
        for (long c = 1; c < classes; c++) mv = _mm256_max_ps(_mm256_maskload_ps(x + c * stride + i, m), mv);
        __m256 s = _mm256_setzero_ps();
        for (long c = 0; c < classes; c++) {
            const __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(x + c * stride + i, m), mv));
            _mm256_maskstore_ps(p + c * stride + i, m, e);
            s = _mm256_add_ps(s, e);
        }
        _mm256_maskstore_ps(mx + i, m, mv);
        _mm256_maskstore_ps(sum + i, m, s);
    }
    for (long c = 0; c < classes; c++) {
        __m256 acc = _mm256_setzero_ps();
        float *pc = p + c * stride;
        for (long i = 0; i < count; i += 8) {
            const __m256i m = tail_mask8(count - i);
            // Masked-off lanes: sum reads as 0 → inv = inf, times the masked-load 0 of p = NaN;
            // blend them to 0 before the lane sums.
            const __m256 inv = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_maskload_ps(sum + i, m));
            const __m256 q = _mm256_and_ps(_mm256_mul_ps(_mm256_maskload_ps(pc + i, m), inv), _mm256_castsi256_ps(m));
            _mm256_maskstore_ps(pc + i, m, q);
            acc = _mm256_add_ps(acc, q);
        }
        float lanes[8], t = 0;
        _mm256_storeu_ps(lanes, acc);
        for (int l = 0; l < 8; l++) t += lanes[l];
        sp[c] = t;
    }
}
#else
void dro_exp_avx512(const float *x, float *y, long count) {}
void dro_exp_avx2(const float *x, float *y, long count) {}
void dro_softmax_run_avx512(const float *x, float *p, long stride, long classes, long count,
                            float *mx, float *sum, float *sp) {}
void dro_softmax_run_avx2(const float *x, float *p, long stride, long classes, long count,
                          float *mx, float *sum, float *sp) {}
#endif
