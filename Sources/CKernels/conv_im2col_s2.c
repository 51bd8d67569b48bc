// im2col / col2im of the 3×3×3, stride-2, padding-1 convolutions (the U-Net's downsampling
// layers) with AVX2. The Swift path gathers every column row with a scalar strided loop
// (x[2·ow + kw − 1]) compiled for SSE; `dro-bench unet --conv-phases` found these gathers and
// scatters a large share of the stride-2 layers' time (docs/performance.md, "Im2col, transposed
// and head layers"). Here an input row is seen through "slots" s = w + 1 (slot 0 and slots
// past W are the zero padding), and the three taps kw = 0, 1, 2 of a run of outputs are slots
// 2·ow, 2·ow + 1 and 2·ow + 2: the even and odd halves of 16 consecutive slots, read with masked
// loads (padding lanes read as 0, nothing outside the row is touched) and separated with two
// shuffles and a lane permute — no gathers, no bounds tests.
#include "conv_kernels.h"
#include <immintrin.h>
#include <string.h>

/// Floats per AVX2 vector.
#define LANES 8
/// Taps per axis of the kernel, and the stride and padding these kernels are written for.
#define TAPS 3
#define STRIDE 2
#define PADDING 1

/// Lanes i with lo ≤ t + i < hi set (all bits), others clear.
__attribute__((target("avx2,fma")))
static inline __m256i lane_mask(long t, long lo, long hi) {
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)lo - 1));
    return _mm256_and_si256(ge, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx));
}

/// even[i] = v[2i], odd[i] = v[2i + 1] of the 16 floats a (0–7), b (8–15).
__attribute__((target("avx2,fma")))
static inline void deinterleave(__m256 a, __m256 b, __m256 *even, __m256 *odd) {
    __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // v0 v2 v8 v10 | v4 v6 v12 v14
    __m256 o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// Inverse of deinterleave: a = v[0..8), b = v[8..16) with v[2i] = even[i], v[2i + 1] = odd[i].
__attribute__((target("avx2,fma")))
static inline void interleave(__m256 even, __m256 odd, __m256 *a, __m256 *b) {
    __m256 lo = _mm256_unpacklo_ps(even, odd), hi = _mm256_unpackhi_ps(even, odd);
    *a = _mm256_permute2f128_ps(lo, hi, 0x20);
    *b = _mm256_permute2f128_ps(lo, hi, 0x31);
}

/// Even and odd slots of slots [first, first + 16) of a row (slot s = element s − 1 of
/// `row`), slots outside [1, width] read as 0 and never touched in memory.
__attribute__((target("avx2,fma")))
static inline void load_slots(const float *row, long width, long first, __m256 *even, __m256 *odd) {
    __m256 a = _mm256_maskload_ps(row - 1 + first, lane_mask(first, 1, width + 1));
    __m256 b = _mm256_maskload_ps(row - 1 + first + LANES, lane_mask(first + LANES, 1, width + 1));
    deinterleave(a, b, even, odd);
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
                const float *xRow = x + ci * inVoxels + src;
                for (long t = 0; t < len; t += LANES) {
                    const long slot = STRIDE * (ow0 + t);
                    __m256 e0, o1, e2, unused;
                    load_slots(xRow, d.inW, slot, &e0, &o1);          // kw = 0: slot 2ow, kw = 1: 2ow + 1
                    load_slots(xRow, d.inW, slot + 2, &e2, &unused);  // kw = 2: slot 2ow + 2
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
}

__attribute__((target("avx2,fma")))
void dro_col2im_s2k3p1_avx2(const float *col, dro_conv_dims d, long v0, long count,
                            float *dx, long channel0, long channel1) {
    const long inVoxels = d.inD * d.inH * d.inW, end = v0 + count;
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
                    float *slots = dx + ci * inVoxels + srcRow - 1;  // slot s = element s − 1
                    // Slots this run writes: inside the row and inside [2·ow0, 2·(ow0 + len)].
                    const long sLo = STRIDE * ow0 > 1 ? STRIDE * ow0 : 1;
                    const long sHi = STRIDE * (ow0 + len) < d.inW ? STRIDE * (ow0 + len) : d.inW;
                    // Even slot 2(ow0 + t) takes kw = 0 of output t, then kw = 2 of output t − 1
                    // (the Swift order: kw ascending per (kd, kh)); odd slot 2(ow0 + t) + 1 takes
                    // kw = 1 of output t. Blends leave the slots outside the run untouched.
                    for (long t = 0; t <= len; t += LANES) {
                        const long slot = STRIDE * (ow0 + t);
                        const __m256i mA = lane_mask(slot, sLo, sHi + 1), mB = lane_mask(slot + LANES, sLo, sHi + 1);
                        __m256i m01 = lane_mask(t, 0, len), m2 = lane_mask(t, 1, len + 1);
                        __m256 e, o, a, b;
                        deinterleave(_mm256_maskload_ps(slots + slot, mA), _mm256_maskload_ps(slots + slot + LANES, mB), &e, &o);
                        __m256 c0 = _mm256_maskload_ps(src0 + j + t, m01);
                        __m256 c1 = _mm256_maskload_ps(src1 + j + t, m01);
                        __m256 c2 = _mm256_maskload_ps(src2 + j + t - 1, m2);
                        e = _mm256_blendv_ps(e, _mm256_add_ps(e, c0), _mm256_castsi256_ps(m01));
                        o = _mm256_blendv_ps(o, _mm256_add_ps(o, c1), _mm256_castsi256_ps(m01));
                        e = _mm256_blendv_ps(e, _mm256_add_ps(e, c2), _mm256_castsi256_ps(m2));
                        interleave(e, o, &a, &b);
                        _mm256_maskstore_ps(slots + slot, mA, a);
                        _mm256_maskstore_ps(slots + slot + LANES, mB, b);
                    }
                }
                v += len;
                j += len;
            }
        }
    }
}
