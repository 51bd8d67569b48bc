// AVX-512 Winograd F(4,3) data-side transforms (see include/winograd_f43.h): 16 tiles per
// __m512, the same passes, operations and operation order as the Swift transforms
// (Sources/Tensor/WinogradF43Transforms.swift) and their AVX2 port (winograd_f43_transforms.c),
// so every result is bit-identical to both. Multiplications by 2, 4, 5, 8 stay separate
// multiplies (no FMA contraction).
//
// Differences from the AVX2 port (layout and order of the arithmetic unchanged):
// - the W passes read voxel lines straight from the volume under lane masks (zeros outside it,
//   as the zero-padded line copy gives) and the output's W pass writes the volume under lane
//   masks, so no line is copied or padded;
// - the 16 × 4 (de)interleave of a line's tiles is two rounds of two-source permutes, and the
//   input's fifth and sixth voxels of each tile are the first two shifted by one tile (valignd);
// - scratch rows are `vectorTiles` (a multiple of 8) wide: when 8 tiles of a row remain (all of
//   a 32-voxel row), they go through 256-bit code (the same operations on __m256: a half-empty
//   512-bit vector would cost a full one). Columns written are the same as the AVX2 and Swift
//   versions' (up to vectorTiles), so their chunk-buffer contract holds.

#include "winograd_f43.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#pragma clang fp contract(off)

#define F43_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))
#define F43_INLINE static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512bw,avx512dq")))

typedef struct { __m512 v[6]; } f43_six;
typedef struct { __m512 v[4]; } f43_four;

F43_INLINE __m512 mul(float c, __m512 x) { return _mm512_mul_ps(_mm512_set1_ps(c), x); }
F43_INLINE __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
F43_INLINE __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }

/// Bᵀ d (Swift `bt`).
F43_INLINE f43_six bt(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 d4, __m512 d5) {
    __m512 a = sub(d4, mul(4, d2)), b = sub(d3, mul(4, d1)), c = sub(d4, d2), e = mul(2, sub(d3, d1));
    f43_six r;
    r.v[0] = add(sub(mul(4, d0), mul(5, d2)), d4);
    r.v[1] = add(a, b); r.v[2] = sub(a, b); r.v[3] = add(c, e); r.v[4] = sub(c, e);
    r.v[5] = add(sub(mul(4, d1), mul(5, d3)), d5);
    return r;
}

/// Aᵀ m (Swift `at`).
F43_INLINE f43_four at(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5) {
    __m512 s = add(m1, m2), t = sub(m1, m2), u = add(m3, m4), v = sub(m3, m4);
    f43_four r;
    r.v[0] = add(add(m0, s), u);
    r.v[1] = add(t, mul(2, v));
    r.v[2] = add(s, mul(4, u));
    r.v[3] = add(add(t, mul(8, v)), m5);
    return r;
}

/// A g (Swift `a`).
F43_INLINE f43_six ag(__m512 g0, __m512 g1, __m512 g2, __m512 g3) {
    __m512 s = add(g0, g2), q = add(g1, g3), s4 = add(g0, mul(4, g2)), q4 = add(mul(2, g1), mul(8, g3));
    f43_six r;
    r.v[0] = g0; r.v[1] = add(s, q); r.v[2] = sub(s, q); r.v[3] = add(s4, q4); r.v[4] = sub(s4, q4); r.v[5] = g3;
    return r;
}

F43_INLINE __m512 ld(const float *p) { return _mm512_loadu_ps(p); }
F43_INLINE void st(float *p, __m512 v) { _mm512_storeu_ps(p, v); }

// The same transforms on 8 tiles (__m256), for the last 8 tiles of a row.
typedef struct { __m256 v[6]; } f43_six8;
typedef struct { __m256 v[4]; } f43_four8;

F43_INLINE __m256 mul8(float c, __m256 x) { return _mm256_mul_ps(_mm256_set1_ps(c), x); }
F43_INLINE __m256 add8(__m256 a, __m256 b) { return _mm256_add_ps(a, b); }
F43_INLINE __m256 sub8(__m256 a, __m256 b) { return _mm256_sub_ps(a, b); }

F43_INLINE f43_six8 bt8(__m256 d0, __m256 d1, __m256 d2, __m256 d3, __m256 d4, __m256 d5) {
    __m256 a = sub8(d4, mul8(4, d2)), b = sub8(d3, mul8(4, d1)), c = sub8(d4, d2), e = mul8(2, sub8(d3, d1));
    f43_six8 r;
    r.v[0] = add8(sub8(mul8(4, d0), mul8(5, d2)), d4);
    r.v[1] = add8(a, b); r.v[2] = sub8(a, b); r.v[3] = add8(c, e); r.v[4] = sub8(c, e);
    r.v[5] = add8(sub8(mul8(4, d1), mul8(5, d3)), d5);
    return r;
}

F43_INLINE f43_four8 at8(__m256 m0, __m256 m1, __m256 m2, __m256 m3, __m256 m4, __m256 m5) {
    __m256 s = add8(m1, m2), t = sub8(m1, m2), u = add8(m3, m4), v = sub8(m3, m4);
    f43_four8 r;
    r.v[0] = add8(add8(m0, s), u);
    r.v[1] = add8(t, mul8(2, v));
    r.v[2] = add8(s, mul8(4, u));
    r.v[3] = add8(add8(t, mul8(8, v)), m5);
    return r;
}

F43_INLINE f43_six8 ag8(__m256 g0, __m256 g1, __m256 g2, __m256 g3) {
    __m256 s = add8(g0, g2), q = add8(g1, g3), s4 = add8(g0, mul8(4, g2)), q4 = add8(mul8(2, g1), mul8(8, g3));
    f43_six8 r;
    r.v[0] = g0; r.v[1] = add8(s, q); r.v[2] = sub8(s, q); r.v[3] = add8(s4, q4); r.v[4] = sub8(s4, q4); r.v[5] = g3;
    return r;
}

F43_INLINE __m256 ld8(const float *p) { return _mm256_loadu_ps(p); }
F43_INLINE void st8(float *p, __m256 v) { _mm256_storeu_ps(p, v); }
F43_INLINE __m256 low8(__m512 v) { return _mm512_castps512_ps256(v); }
F43_INLINE __m256 high8(__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
F43_INLINE __m512 join8(__m256 lo, __m256 hi) {
    return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}

/// Lanes k with 0 ≤ start + k < limit.
F43_INLINE __mmask16 lanes_inside(int64_t start, int64_t limit) {
    int64_t lo = start < 0 ? -start : 0, hi = limit - start < 16 ? limit - start : 16;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/// line[start + k] for k < 16, zero where start + k is outside [0, w) (never read there).
F43_INLINE __m512 load_voxels(const float *line, int64_t start, int64_t w) {
    if (start >= 0 && start + 16 <= w) return _mm512_loadu_ps(line + start);
    return _mm512_maskz_loadu_ps(lanes_inside(start, w), line + start);
}

/// Writes v to line[start + k] where start + k < w (start ≥ 0).
F43_INLINE void store_voxels(float *line, int64_t start, int64_t w, __m512 v) {
    if (start + 16 <= w) _mm512_storeu_ps(line + start, v);
    else _mm512_mask_storeu_ps(line + start, lanes_inside(start, w), v);
}

F43_INLINE __m512 permute(__m512 a, __m512i index, __m512 b) { return _mm512_permutex2var_ps(a, index, b); }

/// 16 consecutive 4-float groups a[0..3] (64 floats) → out[k] lane l = value k of group l.
F43_INLINE void deinterleave4(const __m512 a[4], __m512 out[4]) {
    const __m512i k01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i k23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i high = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    __m512 c0 = permute(a[0], k01, a[1]), c1 = permute(a[0], k23, a[1]);   // values 0|1, 2|3 of groups 0…7
    __m512 c2 = permute(a[2], k01, a[3]), c3 = permute(a[2], k23, a[3]);   // the same of groups 8…15
    out[0] = permute(c0, low, c2); out[1] = permute(c0, high, c2);
    out[2] = permute(c1, low, c3); out[3] = permute(c1, high, c3);
}

/// Inverse of deinterleave4: a[j] lane i = value (i mod 4) of group 4j + i / 4.
F43_INLINE void interleave4(const __m512 in[4], __m512 a[4]) {
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i high = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const __m512i first = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
    const __m512i second = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
    __m512 c0 = permute(in[0], low, in[1]), c2 = permute(in[0], high, in[1]);   // values 0|1 of groups 0…7, 8…15
    __m512 c1 = permute(in[2], low, in[3]), c3 = permute(in[2], high, in[3]);   // values 2|3
    a[0] = permute(c0, first, c1); a[1] = permute(c0, second, c1);
    a[2] = permute(c2, first, c3); a[3] = permute(c2, second, c3);
}

/// The same for 8 groups a[0..1] (32 floats) → out[k] lane l = value k of group l.
F43_INLINE void deinterleave4_8(const __m512 a[2], __m256 out[4]) {
    const __m512i k01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i k23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    __m512 c0 = permute(a[0], k01, a[1]), c1 = permute(a[0], k23, a[1]);
    out[0] = low8(c0); out[1] = high8(c0); out[2] = low8(c1); out[3] = high8(c1);
}

/// Inverse of deinterleave4_8.
F43_INLINE void interleave4_8(const __m256 in[4], __m512 a[2]) {
    const __m512i first = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
    const __m512i second = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
    __m512 c0 = join8(in[0], in[1]), c1 = join8(in[2], in[3]);
    a[0] = permute(c0, first, c1); a[1] = permute(c0, second, c1);
}

/// Lane l ← lane l + 1 of v, lane 15 ← next.
F43_INLINE __m512 shift_in(__m512 v, float next) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(next)), _mm512_castps_si512(v), 1));
}

/// Lane l ← lane l + 1 of v, lane 7 ← next.
F43_INLINE __m256 shift_in8(__m256 v, float next) {
    return _mm256_castsi256_ps(_mm256_alignr_epi32(_mm256_castps_si256(_mm256_set1_ps(next)), _mm256_castps_si256(v), 1));
}

F43_INLINE void store6(f43_six r, float *q, int64_t s) {
    for (int k = 0; k < 6; k++) st(q + k * s, r.v[k]);
}

F43_INLINE void store6_8(f43_six8 r, float *q, int64_t s) {
    for (int k = 0; k < 6; k++) st8(q + k * s, r.v[k]);
}

/// Prefetches voxel line (z, y) of `plane` (if inside it) for reading or writing: one line per
/// call, so the next row's prefetches spread over this row's work instead of filling the miss
/// queue at once.
F43_INLINE void prefetch_line(const float *plane, int64_t d, int64_t h, int64_t w, int64_t z, int64_t y, int write) {
    if (!plane || z < 0 || z >= d || y < 0 || y >= h) return;
    const char *line = (const char *)(plane + (z * h + y) * w);
    const char *first = (const char *)((uintptr_t)line & ~(uintptr_t)63), *end = (const char *)(plane + (z * h + y) * w + w);
    for (const char *p = first; p < end; p += 64) {
        if (write) _mm_prefetch(p, _MM_HINT_ET0);
        else _mm_prefetch(p, _MM_HINT_T0);
    }
}

// MARK: - Input: Bᵀ x B

/// W pass of tiles t…t+15 of one line (zero padding of 1 before it): → base[ξw·rs + t].
F43_INLINE void input_w(const float *line, int64_t w, int64_t t, float *base, int64_t rs) {
    __m512 a[4], lo[4];
    for (int i = 0; i < 4; i++) a[i] = load_voxels(line, 4 * t + 16 * i - 1, w);
    deinterleave4(a, lo);   // voxels 0…3 of each tile
    int64_t x = 4 * t + 63;   // voxels 4 and 5 of tile t + 15 (those of the others: lo[0], lo[1] shifted)
    __m512 d4 = shift_in(lo[0], x < w ? line[x] : 0), d5 = shift_in(lo[1], x + 1 < w ? line[x + 1] : 0);
    store6(bt(lo[0], lo[1], lo[2], lo[3], d4, d5), base + t, rs);
}

/// The same for tiles t…t+7.
F43_INLINE void input_w8(const float *line, int64_t w, int64_t t, float *base, int64_t rs) {
    __m512 a[2];
    __m256 lo[4];
    for (int i = 0; i < 2; i++) a[i] = load_voxels(line, 4 * t + 16 * i - 1, w);
    deinterleave4_8(a, lo);
    int64_t x = 4 * t + 31;
    __m256 d4 = shift_in8(lo[0], x < w ? line[x] : 0), d5 = shift_in8(lo[1], x + 1 < w ? line[x + 1] : 0);
    store6_8(bt8(lo[0], lo[1], lo[2], lo[3], d4, d5), base + t, rs);
}

/// Bᵀ along a strided axis: 6 inputs s apart at p → 6 outputs o apart at q (16 tiles, or 8).
F43_INLINE void bt_pass(const float *p, int64_t s, float *q, int64_t o) {
    store6(bt(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s)), q, o);
}
F43_INLINE void bt_pass8(const float *p, int64_t s, float *q, int64_t o) {
    store6_8(bt8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s), ld8(p + 4 * s), ld8(p + 5 * s)), q, o);
}

F43_AVX512 void dro_winograd_f43_input_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs,
                                                  int64_t td, int64_t th, float *out, int64_t xiStride,
                                                  float *scratch, const float *next, int64_t ntd, int64_t nth) {
    float *wl = scratch, *hb = scratch + 216 * rs;
    for (int64_t zi = 0; zi < 6; zi++) {
        int64_t z = 4 * td - 1 + zi;
        for (int64_t yi = 0; yi < 6; yi++) {
            int64_t y = 4 * th - 1 + yi;
            prefetch_line(next, d, h, w, 4 * ntd - 1 + zi, 4 * nth - 1 + yi, 0);
            float *base = wl + (zi * 6 + yi) * 6 * rs;
            if (z < 0 || z >= d || y < 0 || y >= h) { memset(base, 0, (size_t)(6 * rs) * sizeof(float)); continue; }
            const float *line = plane + (z * h + y) * w;
            int64_t t = 0;
            for (; t + 16 <= rs; t += 16) input_w(line, w, t, base, rs);
            if (t < rs) input_w8(line, w, t, base, rs);
        }
    }
    for (int64_t zi = 0; zi < 6; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 36 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            int64_t s = 6 * rs, t = 0;
            for (; t + 16 <= rs; t += 16) bt_pass(src + t, s, dst + t, s);
            if (t < rs) bt_pass8(src + t, s, dst + t, s);
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        int64_t s = 36 * rs, o = 36 * xiStride, t = 0;
        for (; t + 16 <= rs; t += 16) bt_pass(src + t, s, dst + t, o);
        if (t < rs) bt_pass8(src + t, s, dst + t, o);
    }
}

// MARK: - Output: Aᵀ m A

/// Aᵀ along a strided axis: 6 inputs s apart at p → the first `count` outputs o apart at q.
F43_INLINE void at_pass(const float *p, int64_t s, float *q, int64_t o, int64_t count) {
    f43_four r = at(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s));
    for (int64_t k = 0; k < count; k++) st(q + k * o, r.v[k]);
}
F43_INLINE void at_pass8(const float *p, int64_t s, float *q, int64_t o, int64_t count) {
    f43_four8 r = at8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s), ld8(p + 4 * s), ld8(p + 5 * s));
    for (int64_t k = 0; k < count; k++) st8(q + k * o, r.v[k]);
}

/// W pass of tiles t…t+15: components p[ξw·rs] → voxels 4t… of the line (+ bias), cropped to w.
F43_INLINE void output_w(const float *p, int64_t rs, float *line, int64_t w, int64_t t, __m512 bias) {
    f43_four r = at(ld(p), ld(p + rs), ld(p + 2 * rs), ld(p + 3 * rs), ld(p + 4 * rs), ld(p + 5 * rs));
    __m512 a[4];
    interleave4(r.v, a);
    for (int j = 0; j < 4; j++) {
        int64_t x = 4 * t + 16 * j;
        if (x >= w) break;
        store_voxels(line, x, w, add(a[j], bias));
    }
}

/// The same for tiles t…t+7.
F43_INLINE void output_w8(const float *p, int64_t rs, float *line, int64_t w, int64_t t, __m512 bias) {
    f43_four8 r = at8(ld8(p), ld8(p + rs), ld8(p + 2 * rs), ld8(p + 3 * rs), ld8(p + 4 * rs), ld8(p + 5 * rs));
    __m512 a[2];
    interleave4_8(r.v, a);
    for (int j = 0; j < 2; j++) {
        int64_t x = 4 * t + 16 * j;
        if (x >= w) break;
        store_voxels(line, x, w, add(a[j], bias));
    }
}

F43_AVX512 void dro_winograd_f43_output_row_avx512(const float *src, int64_t xiStride, float *plane, int64_t d,
                                                   int64_t h, int64_t w, int64_t rs, int64_t td, int64_t th,
                                                   float bias, float *scratch, float *next, int64_t ntd,
                                                   int64_t nth) {
    int64_t depth = d - 4 * td < 4 ? d - 4 * td : 4, height = h - 4 * th < 4 ? h - 4 * th : 4;
    float *ob1 = scratch, *ob2 = scratch + 144 * rs;
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *p0 = src + hw * xiStride;
        float *dst = ob1 + hw * rs;
        int64_t s = 36 * xiStride, o = 36 * rs, t = 0;
        for (; t + 16 <= rs; t += 16) at_pass(p0 + t, s, dst + t, o, depth);
        if (t < rs) at_pass8(p0 + t, s, dst + t, o, depth);
    }
    for (int64_t od = 0; od < depth; od++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *p0 = ob1 + (od * 36 + xw) * rs;
            float *dst = ob2 + (od * 24 + xw) * rs;
            int64_t s = 6 * rs, t = 0;
            for (; t + 16 <= rs; t += 16) at_pass(p0 + t, s, dst + t, s, 4);
            if (t < rs) at_pass8(p0 + t, s, dst + t, s, 4);
        }
    }
    __m512 b = _mm512_set1_ps(bias);
    for (int64_t od = 0; od < depth; od++) {
        for (int64_t oh = 0; oh < height; oh++) {
            prefetch_line(next, d, h, w, 4 * ntd + od, 4 * nth + oh, 1);
            const float *p0 = ob2 + (od * 4 + oh) * 6 * rs;
            float *line = plane + ((4 * td + od) * h + 4 * th + oh) * w;
            int64_t t = 0;
            for (; t + 16 <= rs; t += 16) output_w(p0 + t, rs, line, w, t, b);
            if (t < rs) output_w8(p0 + t, rs, line, w, t, b);
        }
    }
}

// MARK: - Output gradient: A g Aᵀ

/// W pass of tiles t…t+15 of one output-gradient line: → base[ξw·rs + t].
F43_INLINE void gradient_w(const float *line, int64_t w, int64_t t, float *base, int64_t rs) {
    __m512 a[4], g[4];
    for (int i = 0; i < 4; i++) a[i] = load_voxels(line, 4 * t + 16 * i, w);
    deinterleave4(a, g);
    store6(ag(g[0], g[1], g[2], g[3]), base + t, rs);
}

/// The same for tiles t…t+7.
F43_INLINE void gradient_w8(const float *line, int64_t w, int64_t t, float *base, int64_t rs) {
    __m512 a[2];
    __m256 g[4];
    for (int i = 0; i < 2; i++) a[i] = load_voxels(line, 4 * t + 16 * i, w);
    deinterleave4_8(a, g);
    store6_8(ag8(g[0], g[1], g[2], g[3]), base + t, rs);
}

/// A along a strided axis: 4 inputs s apart at p → 6 outputs o apart at q.
F43_INLINE void ag_pass(const float *p, int64_t s, float *q, int64_t o) {
    store6(ag(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s)), q, o);
}
F43_INLINE void ag_pass8(const float *p, int64_t s, float *q, int64_t o) {
    store6_8(ag8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s)), q, o);
}

F43_AVX512 void dro_winograd_f43_gradient_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs,
                                                     int64_t td, int64_t th, float *out, int64_t xiStride,
                                                     float *scratch, const float *next, int64_t ntd, int64_t nth) {
    float *wl = scratch, *hb = scratch + 96 * rs;
    for (int64_t zi = 0; zi < 4; zi++) {
        int64_t z = 4 * td + zi;
        for (int64_t yi = 0; yi < 4; yi++) {
            int64_t y = 4 * th + yi;
            prefetch_line(next, d, h, w, 4 * ntd + zi, 4 * nth + yi, 0);
            float *base = wl + (zi * 4 + yi) * 6 * rs;
            if (z >= d || y >= h) { memset(base, 0, (size_t)(6 * rs) * sizeof(float)); continue; }
            const float *line = plane + (z * h + y) * w;
            int64_t t = 0;
            for (; t + 16 <= rs; t += 16) gradient_w(line, w, t, base, rs);
            if (t < rs) gradient_w8(line, w, t, base, rs);
        }
    }
    for (int64_t zi = 0; zi < 4; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 24 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            int64_t s = 6 * rs, t = 0;
            for (; t + 16 <= rs; t += 16) ag_pass(src + t, s, dst + t, s);
            if (t < rs) ag_pass8(src + t, s, dst + t, s);
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        int64_t s = 36 * rs, o = 36 * xiStride, t = 0;
        for (; t + 16 <= rs; t += 16) ag_pass(src + t, s, dst + t, o);
        if (t < rs) ag_pass8(src + t, s, dst + t, o);
    }
}


// MARK: - Row groups: consecutive tile rows of 4 (or 8) tiles in one vector
//
// A group is `count` consecutive tile rows r, r + 1, … of one channel of a volume [n, channels,
// d, h, w] whose tiles fill `lanes` (8: __m256, or 16: __m512) vector lanes, row k in lanes
// [k·tilesW, (k + 1)·tilesW): at tilesW = 4 a one-row vector would be half (or three quarters)
// padding. Each lane's operations are those of the one-row transforms (and of the Swift ones),
// so results are bit-identical; only the W passes differ: each row reads (writes) its own voxel
// lines, and the input's fifth and sixth voxels of a row's last tile come from that row's line,
// not from the next row's first tile the one-lane shift brings in. Rows may differ in sample and
// tile depth (a group crosses a td or sample boundary); lanes of rows ≥ count are transforms of
// zeros (input, gradient) or not written (output). Columns written: [0, lanes) of the group.

typedef struct { const float *plane; int64_t td, th; } f43_row;

/// Planes and tile positions of rows first … first + count − 1 (count ≤ 16) at `channel`.
F43_INLINE void decode_rows(const float *volume, int64_t channels, int64_t channel, int64_t d, int64_t h, int64_t w,
                            int64_t first, int64_t count, f43_row *rows) {
    int64_t tilesD = (d + 3) / 4, tilesH = (h + 3) / 4, per = tilesD * tilesH;
    int64_t n = first / per, rem = first % per, td = rem / tilesH, th = rem % tilesH;
    for (int64_t k = 0; k < count; k++) {
        rows[k].plane = volume + (n * channels + channel) * d * h * w;
        rows[k].td = td; rows[k].th = th;
        if (++th == tilesH) { th = 0; if (++td == tilesD) { td = 0; n++; } }
    }
}

/// Prefetches line (zi, yi) relative to each next row's first line (z0 + zi, y0 + yi).
F43_INLINE void prefetch_rows(const f43_row *next, int64_t nextCount, int64_t d, int64_t h, int64_t w,
                              int64_t dz, int64_t dy, int64_t zi, int64_t yi, int write) {
    for (int64_t k = 0; k < nextCount; k++)
        prefetch_line(next[k].plane, d, h, w, 4 * next[k].td + dz + zi, 4 * next[k].th + dy + yi, write);
}

/// Loads the 16-voxel vectors of line (zi, yi) of every row of a group (row k: vectors
/// [k·tilesW / 4, (k + 1)·tilesW / 4), vector i from voxel 16i + shift), zeros for rows outside
/// the volume there and for rows ≥ count. `last4`, `last5` (input only, shift = −1): voxels
/// 4·tilesW − 1 and 4·tilesW of each row's line (0 outside).
F43_INLINE void load_group(const f43_row *rows, int64_t count, int64_t vectors, int64_t d, int64_t h, int64_t w,
                           int64_t tilesW, int64_t dz, int64_t dy, int64_t zi, int64_t yi, int64_t shift,
                           __m512 *a, float *last4, float *last5) {
    int64_t per = tilesW / 4;
    for (int64_t i = 0; i < vectors; i++) a[i] = _mm512_setzero_ps();
    for (int64_t k = 0; k < count; k++) {
        int64_t z = 4 * rows[k].td + dz + zi, y = 4 * rows[k].th + dy + yi;
        if (last4) { last4[k] = 0; last5[k] = 0; }
        if (z < 0 || z >= d || y < 0 || y >= h) continue;
        const float *line = rows[k].plane + (z * h + y) * w;
        for (int64_t i = 0; i < per; i++) a[k * per + i] = load_voxels(line, 16 * i + shift, w);
        if (last4) {
            int64_t x = 4 * tilesW - 1;
            last4[k] = x < w ? line[x] : 0;
            last5[k] = x + 1 < w ? line[x + 1] : 0;
        }
    }
}

F43_INLINE __mmask16 last_lane(int64_t k, int64_t tilesW) { return (__mmask16)(1u << (k * tilesW + tilesW - 1)); }

F43_INLINE void input_rows_body(const float *volume, int64_t channels, int64_t channel, int64_t d, int64_t h,
                                int64_t w, int64_t tilesW, int64_t lanes, int64_t first, int64_t count, float *out,
                                int64_t xiStride, float *scratch, int64_t nextChannel, int64_t nextFirst,
                                int64_t nextCount) {
    f43_row rows[16], next[16];
    decode_rows(volume, channels, channel, d, h, w, first, count, rows);
    decode_rows(volume, channels, nextChannel, d, h, w, nextFirst, nextCount, next);
    int64_t rs = lanes;
    float *wl = scratch, *hb = scratch + 216 * rs;
    for (int64_t zi = 0; zi < 6; zi++) {
        for (int64_t yi = 0; yi < 6; yi++) {
            prefetch_rows(next, nextCount, d, h, w, -1, -1, zi, yi, 0);
            float *base = wl + (zi * 6 + yi) * 6 * rs;
            __m512 a[4];
            float last4[16], last5[16];
            load_group(rows, count, lanes / 4, d, h, w, tilesW, -1, -1, zi, yi, -1, a, last4, last5);
            if (lanes == 16) {
                __m512 lo[4];
                deinterleave4(a, lo);
                __m512 d4 = shift_in(lo[0], 0), d5 = shift_in(lo[1], 0);
                for (int64_t k = 0; k < count; k++) {
                    d4 = _mm512_mask_mov_ps(d4, last_lane(k, tilesW), _mm512_set1_ps(last4[k]));
                    d5 = _mm512_mask_mov_ps(d5, last_lane(k, tilesW), _mm512_set1_ps(last5[k]));
                }
                store6(bt(lo[0], lo[1], lo[2], lo[3], d4, d5), base, rs);
            } else {
                __m256 lo[4];
                deinterleave4_8(a, lo);
                __m256 d4 = shift_in8(lo[0], 0), d5 = shift_in8(lo[1], 0);
                for (int64_t k = 0; k < count; k++) {
                    d4 = _mm256_mask_mov_ps(d4, (__mmask8)last_lane(k, tilesW), _mm256_set1_ps(last4[k]));
                    d5 = _mm256_mask_mov_ps(d5, (__mmask8)last_lane(k, tilesW), _mm256_set1_ps(last5[k]));
                }
                store6_8(bt8(lo[0], lo[1], lo[2], lo[3], d4, d5), base, rs);
            }
        }
    }
    for (int64_t zi = 0; zi < 6; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 36 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            if (lanes == 16) bt_pass(src, 6 * rs, dst, 6 * rs);
            else bt_pass8(src, 6 * rs, dst, 6 * rs);
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        if (lanes == 16) bt_pass(src, 36 * rs, dst, 36 * xiStride);
        else bt_pass8(src, 36 * rs, dst, 36 * xiStride);
    }
}

F43_AVX512 void dro_winograd_f43_input_rows_avx512(const float *volume, int64_t channels, int64_t channel, int64_t d,
                                                   int64_t h, int64_t w, int64_t tilesW, int64_t lanes, int64_t first,
                                                   int64_t count, float *out, int64_t xiStride, float *scratch,
                                                   int64_t nextChannel, int64_t nextFirst, int64_t nextCount) {
    // Constant tilesW and lanes: the group loops unroll.
    if (tilesW == 4 && lanes == 8)
        input_rows_body(volume, channels, channel, d, h, w, 4, 8, first, count, out, xiStride, scratch, nextChannel,
                        nextFirst, nextCount);
    else if (tilesW == 4)
        input_rows_body(volume, channels, channel, d, h, w, 4, 16, first, count, out, xiStride, scratch, nextChannel,
                        nextFirst, nextCount);
    else
        input_rows_body(volume, channels, channel, d, h, w, 8, 16, first, count, out, xiStride, scratch, nextChannel,
                        nextFirst, nextCount);
}

F43_INLINE void output_rows_body(const float *src, int64_t xiStride, float *volume, int64_t channels, int64_t channel,
                                 int64_t d, int64_t h, int64_t w, int64_t tilesW, int64_t lanes, int64_t first,
                                 int64_t count, float bias, float *scratch, int64_t nextChannel, int64_t nextFirst,
                                 int64_t nextCount) {
    f43_row rows[16], next[16];
    decode_rows(volume, channels, channel, d, h, w, first, count, rows);
    decode_rows(volume, channels, nextChannel, d, h, w, nextFirst, nextCount, next);
    int64_t depth[16], height[16], depthMax = 0, heightMax = 0;
    for (int64_t k = 0; k < count; k++) {
        depth[k] = d - 4 * rows[k].td < 4 ? d - 4 * rows[k].td : 4;
        height[k] = h - 4 * rows[k].th < 4 ? h - 4 * rows[k].th : 4;
        if (depth[k] > depthMax) depthMax = depth[k];
        if (height[k] > heightMax) heightMax = height[k];
    }
    int64_t rs = lanes, per = tilesW / 4;
    float *ob1 = scratch, *ob2 = scratch + 144 * rs;
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *p0 = src + hw * xiStride;
        float *dst = ob1 + hw * rs;
        if (lanes == 16) at_pass(p0, 36 * xiStride, dst, 36 * rs, depthMax);
        else at_pass8(p0, 36 * xiStride, dst, 36 * rs, depthMax);
    }
    for (int64_t od = 0; od < depthMax; od++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *p0 = ob1 + (od * 36 + xw) * rs;
            float *dst = ob2 + (od * 24 + xw) * rs;
            if (lanes == 16) at_pass(p0, 6 * rs, dst, 6 * rs, 4);
            else at_pass8(p0, 6 * rs, dst, 6 * rs, 4);
        }
    }
    __m512 b = _mm512_set1_ps(bias);
    for (int64_t od = 0; od < depthMax; od++) {
        for (int64_t oh = 0; oh < heightMax; oh++) {
            prefetch_rows(next, nextCount, d, h, w, 0, 0, od, oh, 1);
            const float *p = ob2 + (od * 4 + oh) * 6 * rs;
            __m512 a[4];
            if (lanes == 16) {
                f43_four r = at(ld(p), ld(p + rs), ld(p + 2 * rs), ld(p + 3 * rs), ld(p + 4 * rs), ld(p + 5 * rs));
                interleave4(r.v, a);
            } else {
                f43_four8 r = at8(ld8(p), ld8(p + rs), ld8(p + 2 * rs), ld8(p + 3 * rs), ld8(p + 4 * rs),
                                  ld8(p + 5 * rs));
                interleave4_8(r.v, a);
            }
            for (int64_t k = 0; k < count; k++) {
                if (od >= depth[k] || oh >= height[k]) continue;
                float *line = (float *)rows[k].plane + ((4 * rows[k].td + od) * h + 4 * rows[k].th + oh) * w;
                for (int64_t i = 0; i < per; i++) {
                    int64_t x = 16 * i;
                    if (x >= w) break;
                    store_voxels(line, x, w, add(a[k * per + i], b));
                }
            }
        }
    }
}

F43_AVX512 void dro_winograd_f43_output_rows_avx512(const float *src, int64_t xiStride, float *volume, int64_t channels,
                                                    int64_t channel, int64_t d, int64_t h, int64_t w, int64_t tilesW,
                                                    int64_t lanes, int64_t first, int64_t count, float bias,
                                                    float *scratch, int64_t nextChannel, int64_t nextFirst,
                                                    int64_t nextCount) {
    // Constant tilesW and lanes: the group loops unroll.
    if (tilesW == 4 && lanes == 8)
        output_rows_body(src, xiStride, volume, channels, channel, d, h, w, 4, 8, first, count, bias, scratch,
                         nextChannel, nextFirst, nextCount);
    else if (tilesW == 4)
        output_rows_body(src, xiStride, volume, channels, channel, d, h, w, 4, 16, first, count, bias, scratch,
                         nextChannel, nextFirst, nextCount);
    else
        output_rows_body(src, xiStride, volume, channels, channel, d, h, w, 8, 16, first, count, bias, scratch,
                         nextChannel, nextFirst, nextCount);
}

F43_INLINE void gradient_rows_body(const float *volume, int64_t channels, int64_t channel, int64_t d, int64_t h,
                                   int64_t w, int64_t tilesW, int64_t lanes, int64_t first, int64_t count, float *out,
                                   int64_t xiStride, float *scratch, int64_t nextChannel, int64_t nextFirst,
                                   int64_t nextCount) {
    f43_row rows[16], next[16];
    decode_rows(volume, channels, channel, d, h, w, first, count, rows);
    decode_rows(volume, channels, nextChannel, d, h, w, nextFirst, nextCount, next);
    int64_t rs = lanes;
    float *wl = scratch, *hb = scratch + 96 * rs;
    for (int64_t zi = 0; zi < 4; zi++) {
        for (int64_t yi = 0; yi < 4; yi++) {
            prefetch_rows(next, nextCount, d, h, w, 0, 0, zi, yi, 0);
            float *base = wl + (zi * 4 + yi) * 6 * rs;
            __m512 a[4];
            load_group(rows, count, lanes / 4, d, h, w, tilesW, 0, 0, zi, yi, 0, a, NULL, NULL);
            if (lanes == 16) {
                __m512 g[4];
                deinterleave4(a, g);
                store6(ag(g[0], g[1], g[2], g[3]), base, rs);
            } else {
                __m256 g[4];
                deinterleave4_8(a, g);
                store6_8(ag8(g[0], g[1], g[2], g[3]), base, rs);
            }
        }
    }
    for (int64_t zi = 0; zi < 4; zi++) {
        for (int64_t xw = 0; xw < 6; xw++) {
            const float *src = wl + (zi * 24 + xw) * rs;
            float *dst = hb + (zi * 36 + xw) * rs;
            if (lanes == 16) ag_pass(src, 6 * rs, dst, 6 * rs);
            else ag_pass8(src, 6 * rs, dst, 6 * rs);
        }
    }
    for (int64_t hw = 0; hw < 36; hw++) {
        const float *src = hb + hw * rs;
        float *dst = out + hw * xiStride;
        if (lanes == 16) ag_pass(src, 36 * rs, dst, 36 * xiStride);
        else ag_pass8(src, 36 * rs, dst, 36 * xiStride);
    }
}

F43_AVX512 void dro_winograd_f43_gradient_rows_avx512(const float *volume, int64_t channels, int64_t channel,
                                                      int64_t d, int64_t h, int64_t w, int64_t tilesW, int64_t lanes,
                                                      int64_t first, int64_t count, float *out, int64_t xiStride,
                                                      float *scratch, int64_t nextChannel, int64_t nextFirst,
                                                      int64_t nextCount) {
    // Constant tilesW and lanes: the group loops unroll.
    if (tilesW == 4 && lanes == 8)
        gradient_rows_body(volume, channels, channel, d, h, w, 4, 8, first, count, out, xiStride, scratch,
                           nextChannel, nextFirst, nextCount);
    else if (tilesW == 4)
        gradient_rows_body(volume, channels, channel, d, h, w, 4, 16, first, count, out, xiStride, scratch,
                           nextChannel, nextFirst, nextCount);
    else
        gradient_rows_body(volume, channels, channel, d, h, w, 8, 16, first, count, out, xiStride, scratch,
                           nextChannel, nextFirst, nextCount);
}

#else

void dro_winograd_f43_input_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                       int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch,
                                       const float *next, int64_t ntd, int64_t nth) {
    (void)next; (void)ntd; (void)nth; (void)plane; (void)d; (void)h; (void)w; (void)vectorTiles; (void)td; (void)th; (void)out; (void)xiStride;
    (void)scratch;
}
void dro_winograd_f43_output_row_avx512(const float *src, int64_t xiStride, float *plane, int64_t d, int64_t h,
                                        int64_t w, int64_t vectorTiles, int64_t td, int64_t th, float bias,
                                        float *scratch, float *next, int64_t ntd, int64_t nth) {
    (void)next; (void)ntd; (void)nth; (void)src; (void)xiStride; (void)plane; (void)d; (void)h; (void)w; (void)vectorTiles; (void)td; (void)th;
    (void)bias; (void)scratch;
}
void dro_winograd_f43_gradient_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                          int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch,
                                          const float *next, int64_t ntd, int64_t nth) {
    (void)next; (void)ntd; (void)nth; (void)plane; (void)d; (void)h; (void)w; (void)vectorTiles; (void)td; (void)th; (void)out; (void)xiStride;
    (void)scratch;
}

void dro_winograd_f43_input_rows_avx512(const float *volume, int64_t channels, int64_t channel, int64_t d, int64_t h,
                                        int64_t w, int64_t tilesW, int64_t lanes, int64_t first, int64_t count,
                                        float *out, int64_t xiStride, float *scratch, int64_t nextChannel,
                                        int64_t nextFirst, int64_t nextCount) {
    (void)volume; (void)channels; (void)channel; (void)d; (void)h; (void)w; (void)tilesW; (void)lanes; (void)first;
    (void)count; (void)out; (void)xiStride; (void)scratch; (void)nextChannel; (void)nextFirst; (void)nextCount;
}
void dro_winograd_f43_output_rows_avx512(const float *src, int64_t xiStride, float *volume, int64_t channels,
                                         int64_t channel, int64_t d, int64_t h, int64_t w, int64_t tilesW,
                                         int64_t lanes, int64_t first, int64_t count, float bias, float *scratch,
                                         int64_t nextChannel, int64_t nextFirst, int64_t nextCount) {
    (void)src; (void)xiStride; (void)volume; (void)channels; (void)channel; (void)d; (void)h; (void)w; (void)tilesW;
    (void)lanes; (void)first; (void)count; (void)bias; (void)scratch; (void)nextChannel; (void)nextFirst;
    (void)nextCount;
}
void dro_winograd_f43_gradient_rows_avx512(const float *volume, int64_t channels, int64_t channel, int64_t d,
                                           int64_t h, int64_t w, int64_t tilesW, int64_t lanes, int64_t first,
                                           int64_t count, float *out, int64_t xiStride, float *scratch,
                                           int64_t nextChannel, int64_t nextFirst, int64_t nextCount) {
    (void)volume; (void)channels; (void)channel; (void)d; (void)h; (void)w; (void)tilesW; (void)lanes; (void)first;
    (void)count; (void)out; (void)xiStride; (void)scratch; (void)nextChannel; (void)nextFirst; (void)nextCount;
}
#endif
