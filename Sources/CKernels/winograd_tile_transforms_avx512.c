// Winograd F(2×2×2, 3×3×3) output transform Aᵀ m A (+ bias) and output-gradient transform
// A g Aᵀ with AVX-512, 16 tiles per vector: winograd_tile_transforms.c's scheme and operation
// order (bit-identical results), with the even/odd split and the interleave of the two W outputs
// as two-source permutes, voxel lines read and written straight from/to the volume under lane
// masks (no padded copy), and the last vector of a chunk row stored under a lane mask.
//
// Against the AVX2 kernels (WinogradTransformCBenchmarkTests; figures in docs/performance.md,
// "Winograd transforms in C"): the output transform gains, the gradient is level with AVX2
// (both faster than Swift).

#include "winograd_transforms.h"
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>

#define DRO_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))
#define DRO_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512bw,avx512dq")))

/// Tiles per 512-bit vector; output voxel lines of a tile row (2 z × 2 y).
#define LANES 16
#define TILE_LINES 4

/// Lanes k with 0 ≤ start + k < limit.
DRO_AVX512_INLINE __mmask16 lanes_inside(int64_t start, int64_t limit) {
    int64_t lo = start < 0 ? -start : 0, hi = limit - start < LANES ? limit - start : LANES;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

DRO_AVX512_INLINE __m512 load_line(const float *line, int64_t start, int64_t w) {
    if (start >= 0 && start + LANES <= w) return _mm512_loadu_ps(line + start);
    return _mm512_maskz_loadu_ps(lanes_inside(start, w), line + start);
}

DRO_AVX512_INLINE void store_line(float *line, int64_t start, int64_t w, __m512 v) {
    if (start + LANES <= w) _mm512_storeu_ps(line + start, v);
    else _mm512_mask_storeu_ps(line + start, lanes_inside(start, w), v);
}

DRO_AVX512 void dro_winograd_output_row_avx512(const dro_winograd_geometry *g, const float *src, int64_t s,
                                               float *plane, int64_t td, int64_t th, float bias) {
    const __m512i first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i second = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const int64_t s4 = 4 * s, w = g->w, vectors = (g->tilesW + LANES - 1) / LANES;
    float *line[TILE_LINES];
    int inside[TILE_LINES];
    for (int k = 0; k < TILE_LINES; k++) {
        const int64_t z = 2 * td + k / 2, y = 2 * th + k % 2;
        inside[k] = z < g->d && y < g->h;
        line[k] = inside[k] ? plane + (z * g->h + y) * w : plane;
    }
    const __m512 biasv = _mm512_set1_ps(bias);
    for (int64_t v = 0; v < vectors; v++) {
        // Columns beyond the row's rowStride are read under a mask (never past the row's padding).
        const __mmask16 columns = lanes_inside(LANES * v, g->rowStride);
        const float *p = src + LANES * v;
        __m512 c[8];
        for (int xiw = 0; xiw < 4; xiw++) {
            const float *q0 = p + xiw * s, *q1 = q0 + 4 * s4, *q2 = q0 + 8 * s4, *q3 = q0 + 12 * s4;
            __m512 y[4][2];
            for (int xiy = 0; xiy < 4; xiy++) {
                __m512 a0 = _mm512_maskz_loadu_ps(columns, q0 + xiy * s4), a1 = _mm512_maskz_loadu_ps(columns, q1 + xiy * s4);
                __m512 a2 = _mm512_maskz_loadu_ps(columns, q2 + xiy * s4), a3 = _mm512_maskz_loadu_ps(columns, q3 + xiy * s4);
                y[xiy][0] = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
                y[xiy][1] = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
            }
            __m512 t[4];
            for (int a = 0; a < 2; a++) {
                t[2 * a] = _mm512_add_ps(_mm512_add_ps(y[0][a], y[1][a]), y[2][a]);
                t[2 * a + 1] = _mm512_sub_ps(_mm512_sub_ps(y[1][a], y[2][a]), y[3][a]);
            }
            for (int k = 0; k < TILE_LINES; k++) {
                if (xiw == 0) {
                    c[2 * k] = t[k];
                } else if (xiw == 3) {
                    c[2 * k + 1] = _mm512_sub_ps(c[2 * k + 1], t[k]);
                } else {
                    c[2 * k] = _mm512_add_ps(c[2 * k], t[k]);
                    c[2 * k + 1] = xiw == 1 ? t[k] : _mm512_sub_ps(c[2 * k + 1], t[k]);
                }
            }
        }
        const int64_t x0 = 2 * LANES * v;
        for (int k = 0; k < TILE_LINES; k++) {
            if (!inside[k]) continue;
            store_line(line[k], x0, w, _mm512_add_ps(_mm512_permutex2var_ps(c[2 * k], first, c[2 * k + 1]), biasv));
            store_line(line[k], x0 + LANES, w,
                       _mm512_add_ps(_mm512_permutex2var_ps(c[2 * k], second, c[2 * k + 1]), biasv));
        }
    }
}

/// A along one axis: (g0, g0 + g1, g0 − g1, 0 − g1) (Swift's prefix minus is 0 − x).
DRO_AVX512_INLINE void ga(__m512 g0, __m512 g1, __m512 r[4]) {
    r[0] = g0;
    r[1] = _mm512_add_ps(g0, g1);
    r[2] = _mm512_sub_ps(g0, g1);
    r[3] = _mm512_sub_ps(_mm512_setzero_ps(), g1);
}

DRO_AVX512_INLINE void emit(float *o, int64_t s, int xiw, __mmask16 mask, __m512 w00, __m512 w01, __m512 w10, __m512 w11) {
    __m512 y0[4], y1[4];
    ga(w00, w01, y0);
    ga(w10, w11, y1);
    for (int xiy = 0; xiy < 4; xiy++) {
        __m512 r[4];
        ga(y0[xiy], y1[xiy], r);
        for (int xiz = 0; xiz < 4; xiz++) _mm512_mask_storeu_ps(o + (xiz * 16 + xiy * 4 + xiw) * s, mask, r[xiz]);
    }
}

DRO_AVX512 void dro_winograd_gradient_row_avx512(const dro_winograd_geometry *g, const float *plane,
                                                 int64_t td, int64_t th, float *out, int64_t s, float *lines) {
    (void)lines;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const int64_t w = g->w, vectors = (g->tilesW + LANES - 1) / LANES;
    // Output lines (a, b) = (z 2td + a, y 2th + b); lines outside the volume read as zero.
    const float *line[TILE_LINES];
    int64_t extent[TILE_LINES];
    for (int k = 0; k < TILE_LINES; k++) {
        const int64_t z = 2 * td + k / 2, y = 2 * th + k % 2;
        const int in = z < g->d && y < g->h;
        line[k] = in ? plane + (z * g->h + y) * w : plane;
        extent[k] = in ? w : 0;
    }
    for (int64_t v = 0; v < vectors; v++) {
        const __mmask16 mask = lanes_inside(LANES * v, g->rowStride);
        __m512 e[TILE_LINES], od[TILE_LINES];
        for (int k = 0; k < TILE_LINES; k++) {
            __m512 a = load_line(line[k], 2 * LANES * v, extent[k]);
            __m512 b = load_line(line[k], 2 * LANES * v + LANES, extent[k]);
            e[k] = _mm512_permutex2var_ps(a, even, b);
            od[k] = _mm512_permutex2var_ps(a, odd, b);
        }
        float *o = out + LANES * v;
        const __m512 zero = _mm512_setzero_ps();
        emit(o, s, 0, mask, e[0], e[1], e[2], e[3]);
        emit(o, s, 1, mask, _mm512_add_ps(e[0], od[0]), _mm512_add_ps(e[1], od[1]),
             _mm512_add_ps(e[2], od[2]), _mm512_add_ps(e[3], od[3]));
        emit(o, s, 2, mask, _mm512_sub_ps(e[0], od[0]), _mm512_sub_ps(e[1], od[1]),
             _mm512_sub_ps(e[2], od[2]), _mm512_sub_ps(e[3], od[3]));
        emit(o, s, 3, mask, _mm512_sub_ps(zero, od[0]), _mm512_sub_ps(zero, od[1]),
             _mm512_sub_ps(zero, od[2]), _mm512_sub_ps(zero, od[3]));
    }
}

#else

void dro_winograd_output_row_avx512(const dro_winograd_geometry *g, const float *src, int64_t s,
                                    float *plane, int64_t td, int64_t th, float bias) {
    (void)g; (void)src; (void)s; (void)plane; (void)td; (void)th; (void)bias;
}

void dro_winograd_gradient_row_avx512(const dro_winograd_geometry *g, const float *plane,
                                      int64_t td, int64_t th, float *out, int64_t s, float *lines) {
    (void)g; (void)plane; (void)td; (void)th; (void)out; (void)s; (void)lines;
}

#endif
