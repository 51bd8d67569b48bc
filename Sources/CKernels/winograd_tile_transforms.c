// Winograd F(2×2×2, 3×3×3) output transform Aᵀ m A (+ bias) and output-gradient transform
// A g Aᵀ with AVX2: the C twins of `WinogradTileTransforms.outputRow` / `.gradientRow`
// (Sources/Tensor/WinogradTileTransforms.swift), 8 tiles per vector, same operation order.
//
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]   product m (4) → output (2), per axis
//   A  = (Aᵀ)ᵀ                   output gradient (2) → 4, per axis: (g0, g0 + g1, g0 − g1, −g1)
//
// Both are faster than the Swift kernels (WinogradTransformCBenchmarkTests; figures in
// docs/performance.md, "Winograd transforms in C"); the gradient gained more once it stopped
// copying each line into a padded buffer.

#include "winograd_transforms.h"
#include "winograd_avx2.h"
#include <string.h>

/// Output voxel lines of one row of tiles (2 z × 2 y) and voxels per vector of 8 tiles.
#define TILE_LINES 4
#define VOXELS_PER_VECTOR (2 * DRO_WINO_LANES)

#if defined(__x86_64__)

/// Stores the first `count` (1 … 8) lanes of v.
DRO_AVX2_INLINE void store_first(float *p, __m256 v, int64_t count) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), iota), v);
}

/// Voxels 16v … 16v + 15 of one output line: the tiles' two W outputs interleaved, plus bias;
/// only the first `count` voxels are inside the line.
DRO_AVX2_INLINE void put(float *dst, __m256 even, __m256 odd, __m256 bias, int64_t count) {
    __m256 lo = _mm256_unpacklo_ps(even, odd);   // e0 o0 e1 o1 | e4 o4 e5 o5
    __m256 hi = _mm256_unpackhi_ps(even, odd);   // e2 o2 e3 o3 | e6 o6 e7 o7
    __m256 first = _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x20), bias);
    __m256 second = _mm256_add_ps(_mm256_permute2f128_ps(lo, hi, 0x31), bias);
    if (count >= VOXELS_PER_VECTOR) {
        _mm256_storeu_ps(dst, first);
        _mm256_storeu_ps(dst + DRO_WINO_LANES, second);
    } else if (count > DRO_WINO_LANES) {
        _mm256_storeu_ps(dst, first);
        store_first(dst + DRO_WINO_LANES, second, count - DRO_WINO_LANES);
    } else {
        store_first(dst, first, count);
    }
}

DRO_AVX2 void dro_winograd_output_row_avx2(const dro_winograd_geometry *g, const float *src, int64_t s,
                                           float *plane, int64_t td, int64_t th, float bias) {
    const int64_t s4 = 4 * s, w = g->w, vectors = dro_wino_vectors(g->tilesW);
    const int64_t z0 = 2 * td, y0 = 2 * th;
    // Output line (a, b) = (z0 + a, y0 + b); lines outside the volume (odd D or H) are skipped.
    float *line[TILE_LINES];
    int inside[TILE_LINES];
    for (int k = 0; k < TILE_LINES; k++) {
        const int64_t z = z0 + k / 2, y = y0 + k % 2;
        inside[k] = z < g->d && y < g->h;
        line[k] = inside[k] ? plane + (z * g->h + y) * w : plane;
    }
    const __m256 biasv = _mm256_set1_ps(bias);
    for (int64_t v = 0; v < vectors; v++) {
        const float *p = src + DRO_WINO_LANES * v;
        // c[2k], c[2k + 1]: the two W outputs of output line k = 2a + b.
        __m256 c[8];
        for (int xiw = 0; xiw < 4; xiw++) {
            const float *q0 = p + xiw * s, *q1 = q0 + 4 * s4, *q2 = q0 + 8 * s4, *q3 = q0 + 12 * s4;
            // Z for each ξy: (m0 + m1 + m2, m1 − m2 − m3) over ξz.
            __m256 y[4][2];
            for (int xiy = 0; xiy < 4; xiy++) {
                __m256 a0 = _mm256_loadu_ps(q0 + xiy * s4), a1 = _mm256_loadu_ps(q1 + xiy * s4);
                __m256 a2 = _mm256_loadu_ps(q2 + xiy * s4), a3 = _mm256_loadu_ps(q3 + xiy * s4);
                y[xiy][0] = _mm256_add_ps(_mm256_add_ps(a0, a1), a2);
                y[xiy][1] = _mm256_sub_ps(_mm256_sub_ps(a1, a2), a3);
            }
            // Y: t[2a + b] for output z offset a, y offset b.
            __m256 t[4];
            for (int a = 0; a < 2; a++) {
                t[2 * a] = _mm256_add_ps(_mm256_add_ps(y[0][a], y[1][a]), y[2][a]);
                t[2 * a + 1] = _mm256_sub_ps(_mm256_sub_ps(y[1][a], y[2][a]), y[3][a]);
            }
            // W, accumulated in the order of Aᵀ = [1 1 1 0; 0 1 −1 −1] (as the Swift code).
            for (int k = 0; k < TILE_LINES; k++) {
                if (xiw == 0) {
                    c[2 * k] = t[k];
                } else if (xiw == 3) {
                    c[2 * k + 1] = _mm256_sub_ps(c[2 * k + 1], t[k]);
                } else {
                    c[2 * k] = _mm256_add_ps(c[2 * k], t[k]);
                    c[2 * k + 1] = xiw == 1 ? t[k] : _mm256_sub_ps(c[2 * k + 1], t[k]);
                }
            }
        }
        const int64_t count = w - VOXELS_PER_VECTOR * v;
        for (int k = 0; k < TILE_LINES; k++) {
            if (inside[k]) put(line[k] + VOXELS_PER_VECTOR * v, c[2 * k], c[2 * k + 1], biasv, count);
        }
    }
}

/// A along one axis: (g0, g0 + g1, g0 − g1, −g1), −g1 as 0 − g1 like Swift's prefix minus.
DRO_AVX2_INLINE void ga(__m256 g0, __m256 g1, __m256 r[4]) {
    r[0] = g0;
    r[1] = _mm256_add_ps(g0, g1);
    r[2] = _mm256_sub_ps(g0, g1);
    r[3] = dro_wino_negate(g1);
}

/// Y and Z of component ξw (W already applied to the four lines) for one vector of tiles.
DRO_AVX2_INLINE void emit(float *o, int64_t s, int xiw, int half, __m256 w00, __m256 w01, __m256 w10, __m256 w11) {
    __m256 y0[4], y1[4];
    ga(w00, w01, y0);
    ga(w10, w11, y1);
    for (int xiy = 0; xiy < 4; xiy++) {
        __m256 r[4];
        ga(y0[xiy], y1[xiy], r);
        for (int xiz = 0; xiz < 4; xiz++) dro_wino_store(o + (xiz * 16 + xiy * 4 + xiw) * s, r[xiz], half);
    }
}

DRO_AVX2 void dro_winograd_gradient_row_avx2(const dro_winograd_geometry *g, const float *plane,
                                             int64_t td, int64_t th, float *out, int64_t s, float *lines) {
    const int64_t w = g->w, vectors = dro_wino_vectors(g->tilesW);
    (void)lines;
    // Output lines (a, b) = (z 2td + a, y 2th + b), read straight from the plane (masked at the
    // line's end); lines outside the volume (odd D or H) read as zero.
    const float *line[TILE_LINES];
    int64_t extent[TILE_LINES];
    for (int k = 0; k < TILE_LINES; k++) {
        const int64_t z = 2 * td + k / 2, y = 2 * th + k % 2;
        const int in = z < g->d && y < g->h;
        line[k] = in ? plane + (z * g->h + y) * w : plane;
        extent[k] = in ? w : 0;
    }
    for (int64_t v = 0; v < vectors; v++) {
        const int half = DRO_WINO_LANES * (v + 1) > g->rowStride;
        const int64_t x0 = VOXELS_PER_VECTOR * v;
        __m256 e[TILE_LINES], od[TILE_LINES];
        for (int k = 0; k < TILE_LINES; k++) {
            __m256 a = dro_wino_load_line(line[k], x0, extent[k]);
            __m256 b = dro_wino_load_line(line[k], x0 + DRO_WINO_LANES, extent[k]);
            e[k] = dro_wino_even(a, b);
            od[k] = dro_wino_odd(a, b);
        }
        float *o = out + DRO_WINO_LANES * v;
        // W (g0, g0 + g1, g0 − g1, −g1) of the four lines, then Y and Z.
        emit(o, s, 0, half, e[0], e[1], e[2], e[3]);
        emit(o, s, 1, half, _mm256_add_ps(e[0], od[0]), _mm256_add_ps(e[1], od[1]),
             _mm256_add_ps(e[2], od[2]), _mm256_add_ps(e[3], od[3]));
        emit(o, s, 2, half, _mm256_sub_ps(e[0], od[0]), _mm256_sub_ps(e[1], od[1]),
             _mm256_sub_ps(e[2], od[2]), _mm256_sub_ps(e[3], od[3]));
        emit(o, s, 3, half, dro_wino_negate(od[0]), dro_wino_negate(od[1]),
             dro_wino_negate(od[2]), dro_wino_negate(od[3]));
    }
}

#else

void dro_winograd_output_row_avx2(const dro_winograd_geometry *g, const float *src, int64_t s,
                                  float *plane, int64_t td, int64_t th, float bias) {
    (void)g; (void)src; (void)s; (void)plane; (void)td; (void)th; (void)bias;
}

void dro_winograd_gradient_row_avx2(const dro_winograd_geometry *g, const float *plane,
                                    int64_t td, int64_t th, float *out, int64_t s, float *lines) {
    (void)g; (void)plane; (void)td; (void)th; (void)out; (void)s; (void)lines;
}

#endif
