// Private to CKernels: the AVX-512 F(4,3) data-side transforms' shared pieces (tile
// transforms on 16 or 8 tiles, (de)interleaves, masked voxel loads and stores, prefetches, the
// strided Bᵀ / Aᵀ / A passes), included by winograd_f43_transforms_avx512.c (one tile row per
// call) and winograd_f43_row_groups_avx512.c (several short rows per vector). Every function is
// static inline: each file gets its own copy, compiled for AVX-512 without FMA contraction.

#ifndef DRO_WINOGRAD_F43_AVX512_H
#define DRO_WINOGRAD_F43_AVX512_H

#include "winograd_f43.h"

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

/// Bᵀ along a strided axis: 6 inputs s apart at p → 6 outputs o apart at q (16 tiles, or 8).
F43_INLINE void bt_pass(const float *p, int64_t s, float *q, int64_t o) {
    store6(bt(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s)), q, o);
}
F43_INLINE void bt_pass8(const float *p, int64_t s, float *q, int64_t o) {
    store6_8(bt8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s), ld8(p + 4 * s), ld8(p + 5 * s)), q, o);
}

/// Aᵀ along a strided axis: 6 inputs s apart at p → the first `count` outputs o apart at q.
F43_INLINE void at_pass(const float *p, int64_t s, float *q, int64_t o, int64_t count) {
    f43_four r = at(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s), ld(p + 4 * s), ld(p + 5 * s));
    for (int64_t k = 0; k < count; k++) st(q + k * o, r.v[k]);
}
F43_INLINE void at_pass8(const float *p, int64_t s, float *q, int64_t o, int64_t count) {
    f43_four8 r = at8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s), ld8(p + 4 * s), ld8(p + 5 * s));
    for (int64_t k = 0; k < count; k++) st8(q + k * o, r.v[k]);
}

/// A along a strided axis: 4 inputs s apart at p → 6 outputs o apart at q.
F43_INLINE void ag_pass(const float *p, int64_t s, float *q, int64_t o) {
    store6(ag(ld(p), ld(p + s), ld(p + 2 * s), ld(p + 3 * s)), q, o);
}
F43_INLINE void ag_pass8(const float *p, int64_t s, float *q, int64_t o) {
    store6_8(ag8(ld8(p), ld8(p + s), ld8(p + 2 * s), ld8(p + 3 * s)), q, o);
}

#endif

#endif
