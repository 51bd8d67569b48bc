// AVX2 Winograd F(4,3) data-side transforms (see include/winograd_f43.h): a line-for-line port of
// Sources/Tensor/WinogradF43Transforms.swift on __m256 (8 tiles per vector). Multiplications by
// the constants 2, 4, 5, 8 are kept as separate multiplies (no FMA contraction), in the Swift
// code's order, so every result is bit-identical to it. The W pass reads the 4·8 + 2 voxels of
// 8 tiles as four 128-bit pairs (tile l and l + 4) and transposes them within the 128-bit lanes,
// instead of the Swift code's element-wise gathers; the output's W pass does the inverse.

#include "winograd_f43.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang fp contract(off)

#define F43_AVX2 __attribute__((target("avx2,fma")))
#define F43_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

typedef struct { __m256 v[6]; } f43_six;
typedef struct { __m256 v[4]; } f43_four;

F43_INLINE __m256 mul(float c, __m256 x) { return _mm256_mul_ps(_mm256_set1_ps(c), x); }
F43_INLINE __m256 add(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
F43_INLINE __m256 sub(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }

/// Bᵀ d (Swift `bt`).
F43_INLINE f43_six bt(__m256 d0, __m256 d1, __m256 d2, __m256 d3, __m256 d4, __m256 d5) {
    __m256 a = sub(d4, mul(4, d2)), b = sub(d3, mul(4, d1)), c = sub(d4, d2), e = mul(2, sub(d3, d1));
    f43_six r;
    r.v[0] = add(sub(mul(4, d0), mul(5, d2)), d4);
    r.v[1] = add(a, b); r.v[2] = sub(a, b); r.v[3] = add(c, e); r.v[4] = sub(c, e);
    r.v[5] = add(sub(mul(4, d1), mul(5, d3)), d5);
    return r;
}

/// Aᵀ m (Swift `at`).
F43_INLINE f43_four at(__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256 m4, __m256 m5) {
    __m256 s = add(m1, m2), t = sub(m1, m2), u = add(m3, m4), v = sub(m3, m4);
    f43_four r;
    r.v[0] = add(add(m0, s), u);
    r.v[1] = add(t, mul(2, v));
    r.v[2] = add(s, mul(4, u));
    r.v[3] = add(add(t, mul(8, v)), m5);
    return r;
}

/// A g (Swift `a`).
F43_INLINE f43_six ag(__m256 g0, __m256 g1, __m256 g2, __m256 g3) {
    __m256 s = add(g0, g2), q = add(g1, g3), s4 = add(g0, mul(4, g2)), q4 = add(mul(2, g1), mul(8, g3));
    f43_six r;
    r.v[0] = g0; r.v[1] = add(s, q); r.v[2] = sub(s, q); r.v[3] = add(s4, q4); r.v[4] = sub(s4, q4); r.v[5] = g3;
    return r;
}

F43_INLINE __m256 ld(const float *p) { return _mm256_loadu_ps(p); }
F43_INLINE void st(float *p, __m256 v) { _mm256_storeu_ps(p, v); }

/// k-th value (k = 0…3) of each of 8 consecutive 4-float groups at p: out[k] lane l = p[4l + k].
F43_INLINE void deinterleave4(const float *p, __m256 out[4]) {
    __m256 v0 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), _mm_loadu_ps(p + 16), 1);
    __m256 v1 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 4)), _mm_loadu_ps(p + 20), 1);
    __m256 v2 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 8)), _mm_loadu_ps(p + 24), 1);
    __m256 v3 = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p + 12)), _mm_loadu_ps(p + 28), 1);
    __m256 t0 = _mm256_unpacklo_ps(v0, v1), t1 = _mm256_unpackhi_ps(v0, v1);
    __m256 t2 = _mm256_unpacklo_ps(v2, v3), t3 = _mm256_unpackhi_ps(v2, v3);
    out[0] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    out[1] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    out[2] = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    out[3] = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
}

/// Inverse of deinterleave4: p[4l + k] = in[k] lane l.
F43_INLINE void interleave4(const __m256 in[4], float *p) {
    __m256 t0 = _mm256_unpacklo_ps(in[0], in[1]), t1 = _mm256_unpackhi_ps(in[0], in[1]);
    __m256 t2 = _mm256_unpacklo_ps(in[2], in[3]), t3 = _mm256_unpackhi_ps(in[2], in[3]);
    __m256 v0 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    __m256 v1 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t0), _mm256_castps_pd(t2)));
    __m256 v2 = _mm256_castpd_ps(_mm256_unpacklo_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    __m256 v3 = _mm256_castpd_ps(_mm256_unpackhi_pd(_mm256_castps_pd(t1), _mm256_castps_pd(t3)));
    _mm_storeu_ps(p, _mm256_castps256_ps128(v0)); _mm_storeu_ps(p + 16, _mm256_extractf128_ps(v0, 1));
    _mm_storeu_ps(p + 4, _mm256_castps256_ps128(v1)); _mm_storeu_ps(p + 20, _mm256_extractf128_ps(v1, 1));
    _mm_storeu_ps(p + 8, _mm256_castps256_ps128(v2)); _mm_storeu_ps(p + 24, _mm256_extractf128_ps(v2, 1));
    _mm_storeu_ps(p + 12, _mm256_castps256_ps128(v3)); _mm_storeu_ps(p + 28, _mm256_extractf128_ps(v3, 1));
}

/// Copies line[0..<w] to pad[offset…] and zeroes the rest of pad[0..<4·rs + 8].
static inline void pad_line(const float *line, int64_t w, int64_t offset, int64_t rs, float *pad) {
    int64_t count = 4 * rs + 8;
    if (offset > 0) memset(pad, 0, (size_t)offset * sizeof(float));
    memcpy(pad + offset, line, (size_t)w * sizeof(float));
    memset(pad + offset + w, 0, (size_t)(count - offset - w) * sizeof(float));
}

F43_INLINE void store6(f43_six r, float *q, int64_t s) {
    for (int k = 0; k < 6; k++) st(q + k * s, r.v[k]);
}

F43_AVX2 void dro_winograd_f43_input_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs,
                                              int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch) {
    float *wl = scratch, *hb = scratch + 216 * rs, *pad = scratch + 432 * rs;
    for (int64_t zi = 0; zi < 6; zi++) {
        int64_t z = 4 * td - 1 + zi;
        for (int64_t yi = 0; yi < 6; yi++) {
            int64_t y = 4 * th - 1 + yi;
            float *base = wl + (zi * 6 + yi) * 6 * rs;
            if (z < 0 || z >= d || y < 0 || y >= h) { memset(base, 0, (size_t)(6 * rs) * sizeof(float)); continue; }
            pad_line(plane + (z * h + y) * w, w, 1, rs, pad);
            for (int64_t t = 0; t < rs; t += 8) {
                __m256 lo[4], hi[4];
                deinterleave4(pad + 4 * t, lo);       // voxels 0…3 of each tile
                deinterleave4(pad + 4 * t + 4, hi);   // voxels 4…7 (= 0…3 of the next tile)
                store6(bt(lo[0], lo[1], lo[2], lo[3], hi[0], hi[1]), base + t, rs);
            }
        }
    }
    for (int64_t zi = 0; zi < 6; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 36 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            int64_t s = 6 * rs;
            for (int64_t t = 0; t < rs; t += 8) {
                const float *p = src + t;
                store6(bt(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s)), dst + t, s);
            }
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        int64_t s = 36 * rs, o = 36 * xiStride;
        for (int64_t t = 0; t < rs; t += 8) {
            const float *p = src + t;
            store6(bt(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s)), dst + t, o);
        }
    }
}

F43_AVX2 void dro_winograd_f43_output_row_avx2(const float *src, int64_t xiStride, float *plane, int64_t d, int64_t h,
                                               int64_t w, int64_t rs, int64_t td, int64_t th, float bias,
                                               float *scratch) {
    int64_t depth = d - 4 * td < 4 ? d - 4 * td : 4, height = h - 4 * th < 4 ? h - 4 * th : 4;
    float *ob1 = scratch, *ob2 = scratch + 144 * rs, *line = scratch + 240 * rs;
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *p0 = src + hw * xiStride;
        float *dst = ob1 + hw * rs;
        int64_t s = 36 * xiStride, o = 36 * rs;
        for (int64_t t = 0; t < rs; t += 8) {
            const float *p = p0 + t;
            f43_four r = at(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s));
            for (int64_t k = 0; k < depth; k++) st(dst + t + k * o, r.v[k]);
        }
    }
    for (int64_t od = 0; od < depth; od++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *p0 = ob1 + (od * 36 + xw) * rs;
            float *dst = ob2 + (od * 24 + xw) * rs;
            int64_t s = 6 * rs;
            for (int64_t t = 0; t < rs; t += 8) {
                const float *p = p0 + t;
                f43_four r = at(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s));
                for (int k = 0; k < 4; k++) st(dst + t + k * s, r.v[k]);
            }
        }
    }
    __m256 b = _mm256_set1_ps(bias);
    for (int64_t od = 0; od < depth; od++) {
        for (int64_t oh = 0; oh < height; oh++) {
            const float *p0 = ob2 + (od * 4 + oh) * 6 * rs;
            for (int64_t t = 0; t < rs; t += 8) {
                const float *p = p0 + t;
                f43_four r = at(ld(p), ld(p + rs), ld(p + 2 * rs), ld(p + 3 * rs), ld(p + 4 * rs), ld(p + 5 * rs));
                interleave4(r.v, line + 4 * t);
            }
            float *dst = plane + ((4 * td + od) * h + 4 * th + oh) * w;
            int64_t x = 0;
            for (; x + 8 <= w; x += 8) st(dst + x, add(ld(line + x), b));
            for (; x < w; x++) dst[x] = line[x] + bias;
        }
    }
}

F43_AVX2 void dro_winograd_f43_gradient_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs,
                                                 int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch) {
    float *wl = scratch, *hb = scratch + 96 * rs, *pad = scratch + 432 * rs;
    for (int64_t zi = 0; zi < 4; zi++) {
        int64_t z = 4 * td + zi;
        for (int64_t yi = 0; yi < 4; yi++) {
            int64_t y = 4 * th + yi;
            float *base = wl + (zi * 4 + yi) * 6 * rs;
            if (z >= d || y >= h) { memset(base, 0, (size_t)(6 * rs) * sizeof(float)); continue; }
            pad_line(plane + (z * h + y) * w, w, 0, rs, pad);
            for (int64_t t = 0; t < rs; t += 8) {
                __m256 g[4];
                deinterleave4(pad + 4 * t, g);
                store6(ag(g[0], g[1], g[2], g[3]), base + t, rs);
            }
        }
    }
    for (int64_t zi = 0; zi < 4; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 24 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            int64_t s = 6 * rs;
            for (int64_t t = 0; t < rs; t += 8) {
                const float *p = src + t;
                store6(ag(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s)), dst + t, s);
            }
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        int64_t s = 36 * rs, o = 36 * xiStride;
        for (int64_t t = 0; t < rs; t += 8) {
            const float *p = src + t;
            store6(ag(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s)), dst + t, o);
        }
    }
}

#else

void dro_winograd_f43_input_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                     int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch) {}
void dro_winograd_f43_output_row_avx2(const float *src, int64_t xiStride, float *plane, int64_t d, int64_t h,
                                      int64_t w, int64_t vectorTiles, int64_t td, int64_t th, float bias,
                                      float *scratch) {}
void dro_winograd_f43_gradient_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                        int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch) {}

#endif
