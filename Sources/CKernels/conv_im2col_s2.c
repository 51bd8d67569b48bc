// im2col / col2im of the 3×3×3, stride-2, padding-1 convolutions (the U-Net's downsampling
// layers) with AVX2. The Swift path gathers every column row with a scalar strided loop
// (x[2·ow + kw − 1]) compiled for SSE; `dro-bench unet --conv-phases` measured these gathers and
// scatters at 35–45 % of the stride-2 layers' time. Here each input row is copied once into a
// zero-padded line p (p[1 + w] = x[w]), and the three taps kw = 0, 1, 2 of a run of outputs are
// p[2·ow], p[2·ow + 1] and p[2·ow + 2]: the even and odd halves of 16 consecutive floats,
// separated with two shuffles and a lane permute (no gathers, no bounds tests).
#include "conv_kernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/// Floats per AVX2 vector.
#define LANES 8
/// Taps per axis of the kernel, and the stride these kernels are written for.
#define TAPS 3
#define STRIDE 2
#define PADDING 1

/// Length of the padded line: p[0] = 0 (padding), p[1 + w] = x[w], zeros up to the farthest
/// 16-float block a run can touch (base 2·(ow0 + t) + 2 for t < outW + LANES, 2·LANES floats).
static long padded_length(dro_conv_dims d) { return STRIDE * (d.outW + LANES) + 2 * LANES + 4; }

/// even[i] = p[2i], odd[i] = p[2i + 1] for i < 8.
__attribute__((target("avx2,fma")))
static inline void deinterleave(const float *p, __m256 *even, __m256 *odd) {
    __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + LANES);
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // p0 p2 p8 p10 | p4 p6 p12 p14
    __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// Inverse of deinterleave: p[2i] = even[i], p[2i + 1] = odd[i].
__attribute__((target("avx2,fma")))
static inline void interleave(float *p, __m256 even, __m256 odd) {
    __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + LANES, _mm256_permute2f128_ps(lo, hi, 0x31));
}

/// Lanes i with lo ≤ t + i < hi set (all bits), others clear.
__attribute__((target("avx2,fma")))
static inline __m256i lane_mask(long t, long lo, long hi) {
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1));
    return _mm256_and_si256(ge, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx));
}

/// Input row offset (id·inH + ih)·inW read by tap (kd, kh) for output row `row` = od·outH + oh,
/// or −1 when that row lies in the padding.
static inline long source_row(dro_conv_dims d, long row, long kd, long kh) {
    long oh = row % d.outH, od = row / d.outH;
    long id = od * STRIDE - PADDING + kd, ih = oh * STRIDE - PADDING + kh;
    if (id < 0 || id >= d.inD || ih < 0 || ih >= d.inH) return -1;
    return (id * d.inH + ih) * d.inW;
}

__attribute__((target("avx2,fma")))
void dro_im2col_s2k3p1_avx2(const float *x, dro_conv_dims d, long v0, long count,
                            float *col, long group0, long group1) {
    const long inVoxels = d.inD * d.inH * d.inW, end = v0 + count;
    float *p = calloc((size_t)padded_length(d), sizeof(float));
    if (!p) abort();
    for (long grp = group0; grp < group1; grp++) {
        const long ci = grp / (TAPS * TAPS), kd = (grp / TAPS) % TAPS, kh = grp % TAPS;
        float *dst0 = col + (TAPS * grp) * count, *dst1 = dst0 + count, *dst2 = dst1 + count;
        long v = v0, j = 0;
        while (v < end) {  // runs along W within one output row
            const long row = v / d.outW, ow0 = v - row * d.outW;
            const long len = (d.outW - ow0 < end - v) ? d.outW - ow0 : end - v;
            const long src = source_row(d, row, kd, kh);
            if (src < 0) {
                memset(dst0 + j, 0, (size_t)len * sizeof(float));
                memset(dst1 + j, 0, (size_t)len * sizeof(float));
                memset(dst2 + j, 0, (size_t)len * sizeof(float));
            } else {
                memcpy(p + 1, x + ci * inVoxels + src, (size_t)d.inW * sizeof(float));
                for (long t = 0; t < len; t += LANES) {
                    const float *base = p + STRIDE * (ow0 + t);
                    __m256 e0, o1, e2, unused;
                    deinterleave(base, &e0, &o1);        // kw = 0: p[2ow], kw = 1: p[2ow + 1]
                    deinterleave(base + 2, &e2, &unused); // kw = 2: p[2ow + 2]
                    if (len - t >= LANES) {
                        _mm256_storeu_ps(dst0 + j + t, e0);
                        _mm256_storeu_ps(dst1 + j + t, o1);
                        _mm256_storeu_ps(dst2 + j + t, e2);
                    } else {
                        __m256i m = lane_mask(t, 0, len);
                        _mm256_maskstore_ps(dst0 + j + t, m, e0);
                        _mm256_maskstore_ps(dst1 + j + t, m, o1);
                        _mm256_maskstore_ps(dst2 + j + t, m, e2);
                    }
                }
            }
            v += len;
            j += len;
        }
    }
    free(p);
}

__attribute__((target("avx2,fma")))
void dro_col2im_s2k3p1_avx2(const float *col, dro_conv_dims d, long v0, long count,
                            float *dx, long channel0, long channel1) {
    const long inVoxels = d.inD * d.inH * d.inW, end = v0 + count, plen = padded_length(d);
    float *p = calloc((size_t)plen, sizeof(float));
    if (!p) abort();
    for (long ci = channel0; ci < channel1; ci++) {
        for (long kdh = 0; kdh < TAPS * TAPS; kdh++) {  // (kd, kh) in the Swift path's row order
            const long kd = kdh / TAPS, kh = kdh % TAPS, grp = ci * TAPS * TAPS + kdh;
            const float *src0 = col + (TAPS * grp) * count, *src1 = src0 + count, *src2 = src1 + count;
            long v = v0, j = 0;
            while (v < end) {
                const long row = v / d.outW, ow0 = v - row * d.outW;
                const long len = (d.outW - ow0 < end - v) ? d.outW - ow0 : end - v;
                const long srcRow = source_row(d, row, kd, kh);
                if (srcRow >= 0) {
                    float *dxRow = dx + ci * inVoxels + srcRow;
                    // The padding slots absorb the taps that fall outside the row; never copied back.
                    memset(p, 0, (size_t)plen * sizeof(float));
                    memcpy(p + 1, dxRow, (size_t)d.inW * sizeof(float));
                    // Even slot 2(ow0 + t) takes kw = 0 of output t, then kw = 2 of output t − 1
                    // (the Swift order: kw ascending per (kd, kh)); odd slot 2(ow0 + t) + 1 takes
                    // kw = 1 of output t. Blends leave the slots outside the run untouched.
                    for (long t = 0; t <= len; t += LANES) {
                        float *base = p + STRIDE * (ow0 + t);
                        __m256i m01 = lane_mask(t, 0, len), m2 = lane_mask(t, 1, len + 1);
                        __m256 e, o;
                        deinterleave(base, &e, &o);
                        __m256 c0 = _mm256_maskload_ps(src0 + j + t, m01);
                        __m256 c1 = _mm256_maskload_ps(src1 + j + t, m01);
                        __m256 c2 = _mm256_maskload_ps(src2 + j + t - 1, m2);
                        e = _mm256_blendv_ps(e, _mm256_add_ps(e, c0), _mm256_castsi256_ps(m01));
                        o = _mm256_blendv_ps(o, _mm256_add_ps(o, c1), _mm256_castsi256_ps(m01));
                        e = _mm256_blendv_ps(e, _mm256_add_ps(e, c2), _mm256_castsi256_ps(m2));
                        interleave(base, e, o);
                    }
                    memcpy(dxRow, p + 1, (size_t)d.inW * sizeof(float));
                }
                v += len;
                j += len;
            }
        }
    }
    free(p);
}
