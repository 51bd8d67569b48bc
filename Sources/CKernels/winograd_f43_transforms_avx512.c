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

#include "winograd_f43_avx512.h"
#include <string.h>

#if defined(__x86_64__)
#pragma clang fp contract(off)

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

/// line[0..<w] → act[0..<w] = LeakyReLU(line·scale + shift): a multiply, then an add (no FMA),
/// then u·slope where !(u > 0) — the operations of `NormRowKernels.affineLeaky`, bit for bit.
F43_INLINE void activate_line(const float *line, int64_t w, float *act, float scale, float shift, float slope) {
    __m512 sc = _mm512_set1_ps(scale), sh = _mm512_set1_ps(shift), sl = _mm512_set1_ps(slope);
    __m512 zero = _mm512_setzero_ps();
    for (int64_t x = 0; x < w; x += 16) {
        __mmask16 m = x + 16 <= w ? (__mmask16)0xFFFF : lanes_inside(x, w);
        __m512 u = _mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, line + x), sc), sh);
        __mmask16 neg = _mm512_cmp_ps_mask(u, zero, _CMP_NGT_UQ);
        _mm512_mask_storeu_ps(act + x, m, _mm512_mask_mul_ps(u, neg, u, sl));
    }
}

/// The input row transform; with `activate`, each voxel line is first replaced by
/// LeakyReLU(line·scale + shift) in the scratch's line buffer (zero padding stays zero).
F43_INLINE void input_row(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs, int64_t td, int64_t th,
                          float *out, int64_t xiStride, float *scratch, const float *next, int64_t ntd, int64_t nth,
                          int activate, float scale, float shift, float slope) {
    float *wl = scratch, *hb = scratch + 216 * rs, *act = scratch + 432 * rs;
    for (int64_t zi = 0; zi < 6; zi++) {
        int64_t z = 4 * td - 1 + zi;
        for (int64_t yi = 0; yi < 6; yi++) {
            int64_t y = 4 * th - 1 + yi;
            prefetch_line(next, d, h, w, 4 * ntd - 1 + zi, 4 * nth - 1 + yi, 0);
            float *base = wl + (zi * 6 + yi) * 6 * rs;
            if (z < 0 || z >= d || y < 0 || y >= h) { memset(base, 0, (size_t)(6 * rs) * sizeof(float)); continue; }
            const float *line = plane + (z * h + y) * w;
            if (activate) {
                activate_line(line, w, act, scale, shift, slope);
                line = act;
            }
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

F43_AVX512 void dro_winograd_f43_input_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t rs,
                                                  int64_t td, int64_t th, float *out, int64_t xiStride,
                                                  float *scratch, const float *next, int64_t ntd, int64_t nth) {
    input_row(plane, d, h, w, rs, td, th, out, xiStride, scratch, next, ntd, nth, 0, 0, 0, 0);
}

F43_AVX512 void dro_winograd_f43_input_row_activated_avx512(const float *plane, int64_t d, int64_t h, int64_t w,
                                                            int64_t rs, int64_t td, int64_t th, float *out,
                                                            int64_t xiStride, float *scratch, const float *next,
                                                            int64_t ntd, int64_t nth, float scale, float shift,
                                                            float slope) {
    input_row(plane, d, h, w, rs, td, th, out, xiStride, scratch, next, ntd, nth, 1, scale, shift, slope);
}

// MARK: - Output: Aᵀ m A

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
#endif
