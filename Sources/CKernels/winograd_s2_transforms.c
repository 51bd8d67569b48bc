// Polyphase Winograd transforms for stride-2 3×3×3 convolutions (include/winograd_s2.h).
//
// Per axis, y[o] = w0·x[2o−1] + w1·x[2o] + w2·x[2o+1]: the even input phase meets w1 alone (3
// components passed through), the odd phase the two taps w0, w2 (F(3,2): 4 components). Three
// outputs per tile and axis, 7 components, input span x[6t−1 … 6t+5].
// The input gradient is the transposed conv: dx[2i] = w1·dy[i], dx[2i+1] = w2·dy[i] + w0·dy[i+1],
// six dx values per tile from dy[3t … 3t+3], again 3 + 4 components.
//
// The portable build runs each transform axis by axis over a zero-padded copy of the tile row's
// voxels (d, then h, along contiguous w; then w with strided reads). The AVX-512 build of the
// input transforms reads the volume with masked loads instead, keeps the d and h axes in
// registers, and gathers the w axis's strided spans by permutes; the same operations, the same
// values. The weight transforms are in winograd_s2_weights.c.

#include "winograd_s2.h"
#include "avx512_common.h"
#include <stdlib.h>
#include <string.h>

#define WS2_INLINE static inline __attribute__((always_inline))

long dro_ws2_scratch_floats(long tilesW) { return 3 * 49 * (6 * tilesW + 16) + 64; }

/// Prefetches the lines of rows y0…y0+rows−1 of planes z0…z0+planes−1 (inside the volume), voxels
/// x0 … x0+count−1 (clamped): the next call's span, whose short runs in many planes the hardware
/// prefetchers do not follow. `write`: for writing.
WS2_INLINE void ws2_prefetch(const float *plane, long d, long h, long w, long z0, long planes, long y0, long rows,
                             long x0, long count, int write) {
    if (!plane) return;
    long lo = x0 < 0 ? 0 : x0, hi = x0 + count > w ? w : x0 + count;
    if (hi <= lo) return;
    for (long k = 0; k < planes; k++) {
        long z = z0 + k;
        if (z < 0 || z >= d) continue;
        for (long j = 0; j < rows; j++) {
            long y = y0 + j;
            if (y < 0 || y >= h) continue;
            const char *p = (const char *)(plane + (z * h + y) * w + lo), *end = (const char *)(plane + (z * h + y) * w + hi);
            for (p = (const char *)((unsigned long)p & ~63UL); p < end; p += 64) {
                if (write) __builtin_prefetch(p, 1, 3); else __builtin_prefetch(p, 0, 3);
            }
        }
    }
}

WS2_INLINE void ws2_in_geometry(int kind, long *span, long *stride, long *offset) {
    switch (kind) {
    case DRO_WS2_IN_X: *span = 7; *stride = 6; *offset = -1; break;
    case DRO_WS2_IN_DY_DX: *span = 4; *stride = 3; *offset = 0; break;
    default: *span = 3; *stride = 3; *offset = 0; break;
    }
}

/// 7 component rows dst[k·dstStep + i] from the span rows src[j·srcStep + i], i < n.
WS2_INLINE void ws2_axis_in(int kind, const float *restrict src, long srcStep, float *restrict dst, long dstStep,
                            long n) {
    switch (kind) {
    case DRO_WS2_IN_X:
        for (long i = 0; i < n; i++) {
            float p0 = src[i], p1 = src[srcStep + i], p2 = src[2 * srcStep + i], p3 = src[3 * srcStep + i];
            float p4 = src[4 * srcStep + i], p5 = src[5 * srcStep + i], p6 = src[6 * srcStep + i];
            dst[i] = p1; dst[dstStep + i] = p3; dst[2 * dstStep + i] = p5;
            dst[3 * dstStep + i] = p0 - p4; dst[4 * dstStep + i] = p2 + p4;
            dst[5 * dstStep + i] = p4 - p2; dst[6 * dstStep + i] = p6 - p2;
        }
        break;
    case DRO_WS2_IN_DY_DX:
        for (long i = 0; i < n; i++) {
            float r0 = src[i], r1 = src[srcStep + i], r2 = src[2 * srcStep + i], r3 = src[3 * srcStep + i];
            dst[i] = r0; dst[dstStep + i] = r1; dst[2 * dstStep + i] = r2;
            dst[3 * dstStep + i] = r0 - r2; dst[4 * dstStep + i] = r1 + r2;
            dst[5 * dstStep + i] = r2 - r1; dst[6 * dstStep + i] = r3 - r1;
        }
        break;
    default:
        for (long i = 0; i < n; i++) {
            float d0 = src[i], d1 = src[srcStep + i], d2 = src[2 * srcStep + i];
            dst[i] = d0; dst[dstStep + i] = d1; dst[2 * dstStep + i] = d2; dst[3 * dstStep + i] = d0;
            dst[4 * dstStep + i] = (d0 + d1) + d2; dst[5 * dstStep + i] = (d0 - d1) + d2;
            dst[6 * dstStep + i] = d2;
        }
        break;
    }
}

/// The w axis: tile t's span src[stride·t + j] → dst[k·dstStep + t].
WS2_INLINE void ws2_axis_in_w(int kind, const float *restrict src, float *restrict dst, long dstStep, long tiles) {
    switch (kind) {
    case DRO_WS2_IN_X:
        for (long t = 0; t < tiles; t++) {
            const float *p = src + 6 * t;
            float p0 = p[0], p1 = p[1], p2 = p[2], p3 = p[3], p4 = p[4], p5 = p[5], p6 = p[6];
            dst[t] = p1; dst[dstStep + t] = p3; dst[2 * dstStep + t] = p5;
            dst[3 * dstStep + t] = p0 - p4; dst[4 * dstStep + t] = p2 + p4;
            dst[5 * dstStep + t] = p4 - p2; dst[6 * dstStep + t] = p6 - p2;
        }
        break;
    case DRO_WS2_IN_DY_DX:
        for (long t = 0; t < tiles; t++) {
            const float *p = src + 3 * t;
            float r0 = p[0], r1 = p[1], r2 = p[2], r3 = p[3];
            dst[t] = r0; dst[dstStep + t] = r1; dst[2 * dstStep + t] = r2;
            dst[3 * dstStep + t] = r0 - r2; dst[4 * dstStep + t] = r1 + r2;
            dst[5 * dstStep + t] = r2 - r1; dst[6 * dstStep + t] = r3 - r1;
        }
        break;
    default:
        for (long t = 0; t < tiles; t++) {
            const float *p = src + 3 * t;
            float d0 = p[0], d1 = p[1], d2 = p[2];
            dst[t] = d0; dst[dstStep + t] = d1; dst[2 * dstStep + t] = d2; dst[3 * dstStep + t] = d0;
            dst[4 * dstStep + t] = (d0 + d1) + d2; dst[5 * dstStep + t] = (d0 - d1) + d2;
            dst[6 * dstStep + t] = d2;
        }
        break;
    }
}

#if defined(__x86_64__)
/// Which lanes of 16 tiles' span point j (position stride·t + j of a block) lie in each 32-float
/// pair of registers (R₂ₐ, R₂ₐ₊₁), and where: the permutes that replace a stride-`stride` gather.
typedef struct { __m512i index[7][4]; __mmask16 mask[7][4]; } ws2_lanes;

AVX512_INLINE void ws2_lanes_init(ws2_lanes *l, long span, long stride) {
    for (long j = 0; j < span; j++) {
        for (int a = 0; a < 4; a++) {
            int idx[16]; __mmask16 m = 0;
            for (int t = 0; t < 16; t++) {
                long pos = stride * t + j - 32 * a;
                idx[t] = (int)(pos & 31);
                if (pos >= 0 && pos < 32) m |= (__mmask16)(1u << t);
            }
            l->index[j][a] = _mm512_loadu_si512(idx);
            l->mask[j][a] = m;
        }
    }
}

/// The 7 components of the span vectors p (AVX-512 registers): ws2_axis_in's formulas.
AVX512_INLINE void ws2_t_in(int kind, const __m512 *p, __m512 *c) {
    switch (kind) {
    case DRO_WS2_IN_X:
        c[0] = p[1]; c[1] = p[3]; c[2] = p[5]; c[3] = _mm512_sub_ps(p[0], p[4]); c[4] = _mm512_add_ps(p[2], p[4]);
        c[5] = _mm512_sub_ps(p[4], p[2]); c[6] = _mm512_sub_ps(p[6], p[2]);
        break;
    case DRO_WS2_IN_DY_DX:
        c[0] = p[0]; c[1] = p[1]; c[2] = p[2]; c[3] = _mm512_sub_ps(p[0], p[2]); c[4] = _mm512_add_ps(p[1], p[2]);
        c[5] = _mm512_sub_ps(p[2], p[1]); c[6] = _mm512_sub_ps(p[3], p[1]);
        break;
    default:
        c[0] = p[0]; c[1] = p[1]; c[2] = p[2]; c[3] = p[0];
        c[4] = _mm512_add_ps(_mm512_add_ps(p[0], p[1]), p[2]); c[5] = _mm512_add_ps(_mm512_sub_ps(p[0], p[1]), p[2]);
        c[6] = p[2];
        break;
    }
}

/// The voxels a transform reads, with the input activation LeakyReLU(v·scale + shift) where `act`.
typedef struct { int act; __m512 scale, shift, slope; } ws2_activation;

/// Masked load of voxels x … x+15 of a row (0 where a lane is masked off: `m` is 0 for rows
/// outside the volume). With the activation: a multiply, then an add (no FMA), then u·slope where
/// !(u > 0) — `NormRowKernels.affineLeaky`'s operations, bit for bit — and 0 outside again.
AVX512_INLINE __m512 ws2_load(const float *row, __mmask16 m, long x, const ws2_activation *a) {
    __m512 v = _mm512_maskz_loadu_ps(m, row + x);
    if (!a->act) return v;
    __m512 u = _mm512_add_ps(_mm512_mul_ps(v, a->scale), a->shift);
    __mmask16 neg = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_NGT_UQ);
    return _mm512_maskz_mov_ps(m, _mm512_mask_mul_ps(u, neg, u, a->slope));
}

/// Component `cd` of ws2_t_in from the span rows col[k], loading only the rows it reads.
AVX512_INLINE __m512 ws2_component(int kind, int cd, const float *const *col, const __mmask16 *cm, long x,
                                   const ws2_activation *a) {
#define L(k) ws2_load(col[k], cm[k], x, a)
    switch (kind) {
    case DRO_WS2_IN_X:
        switch (cd) {
        case 0: return L(1);
        case 1: return L(3);
        case 2: return L(5);
        case 3: return _mm512_sub_ps(L(0), L(4));
        case 4: return _mm512_add_ps(L(2), L(4));
        case 5: return _mm512_sub_ps(L(4), L(2));
        default: return _mm512_sub_ps(L(6), L(2));
        }
    case DRO_WS2_IN_DY_DX:
        switch (cd) {
        case 0: return L(0);
        case 1: return L(1);
        case 2: return L(2);
        case 3: return _mm512_sub_ps(L(0), L(2));
        case 4: return _mm512_add_ps(L(1), L(2));
        case 5: return _mm512_sub_ps(L(2), L(1));
        default: return _mm512_sub_ps(L(3), L(1));
        }
    default:
        switch (cd) {
        case 0: case 3: return L(0);
        case 1: return L(1);
        case 2: case 6: return L(2);
        case 4: return _mm512_add_ps(_mm512_add_ps(L(0), L(1)), L(2));
        default: return _mm512_add_ps(_mm512_sub_ps(L(0), L(1)), L(2));
        }
    }
#undef L
}

/// ws2_input_dh without the copy and with the d and h axes in registers: per 16 voxels along w,
/// masked loads straight from the plane's rows (zero outside it), component c_d of every span row,
/// then the 7 c_h of those, stored once. The same operations as ws2_input_dh, so the same values.
AVX512_INLINE const float *ws2_input_dh_avx512(int kind, const float *plane, long d, long h, long w, long tilesW,
                                              long td, long th, float *scratch, long *ldOut, const ws2_activation *a) {
    long span, stride, offset;
    ws2_in_geometry(kind, &span, &stride, &offset);
    const long wp = stride * (tilesW - 1) + span, ld = (wp + 15) & ~15L;
    float *c2 = scratch + 98 * ld;
    const long d0 = stride * td + offset, h0 = stride * th + offset, w0 = offset;
    // Rows outside the volume read a zero row (the start of scratch, unused on this path).
    float *zero = scratch;
    memset(zero, 0, sizeof(float) * (size_t)(ld + 48));
    const float *rows[7][7];
    int inside[7][7];
    for (long k = 0; k < span; k++)
        for (long j = 0; j < span; j++) {
            long z = d0 + k, y = h0 + j;
            inside[k][j] = !(z < 0 || z >= d || y < 0 || y >= h);
            rows[k][j] = inside[k][j] ? plane + (z * h + y) * w : zero + 16 - w0;
        }
    for (long i = 0; i < wp; i += 16) {
        const long x = w0 + i;
        long lo = x < 0 ? -x : 0, hi = 16;
        if (w - x < hi) hi = w - x;
        if (wp - i < hi) hi = wp - i;
        const __mmask16 m = hi > lo ? (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u)) : 0;
#pragma clang loop unroll(full)
        for (int cd = 0; cd < 7; cd++) {
            __m512 c1[7], c[7];
            for (long j = 0; j < span; j++) {
                const float *col[7];
                __mmask16 cm[7];
                for (long k = 0; k < span; k++) { col[k] = rows[k][j]; cm[k] = inside[k][j] ? m : 0; }
                c1[j] = ws2_component(kind, cd, col, cm, x, a);
            }
            ws2_t_in(kind, c1, c);
            for (int ch = 0; ch < 7; ch++) _mm512_storeu_ps(c2 + (cd * 7 + ch) * ld + i, c[ch]);
        }
    }
    *ldOut = ld;
    return c2;
}

/// ws2_axis_in_w with AVX-512: per block of 16 tiles, the span points gathered from 8 loaded
/// registers by permutes (a gather of 16 lanes costs several times more).
AVX512_INLINE void ws2_axis_in_w_avx512(int kind, const ws2_lanes *l, const float *src, float *dst, long dstStep,
                                        long tiles) {
    long span, stride, offset;
    ws2_in_geometry(kind, &span, &stride, &offset);
    for (long t = 0; t < tiles; t += 16) {
        __mmask16 m = lane_mask(tiles - t);
        const float *s = src + stride * t;
        const long n = tiles - t < 16 ? tiles - t : 16;
        const long regs = (stride * (n - 1) + span + 15) / 16;  // registers the block's spans touch (within ld)
        __m512 r[8];
        for (long i = 0; i < 8; i++) r[i] = i < regs ? _mm512_loadu_ps(s + 16 * i) : _mm512_setzero_ps();
        __m512 p[7];
        for (long j = 0; j < span; j++) {
            __m512 v = _mm512_permutex2var_ps(r[0], l->index[j][0], r[1]);
            for (int a = 1; a < 4; a++)
                if (l->mask[j][a])
                    v = _mm512_mask_mov_ps(v, l->mask[j][a], _mm512_permutex2var_ps(r[2 * a], l->index[j][a], r[2 * a + 1]));
            p[j] = v;
        }
        __m512 c[7];
        ws2_t_in(kind, p, c);
        for (int k = 0; k < 7; k++) _mm512_mask_storeu_ps(dst + k * dstStep + t, m, c[k]);
    }
}
#endif

/// The d and h axes of the tile row: returns the 49 rows c2[(cd·7 + ch)·ld + i] (ld in *ldOut)
/// for the w axis.
WS2_INLINE const float *ws2_input_dh(int kind, const float *plane, long d, long h, long w, long tilesW, long td,
                                     long th, float *scratch, long *ldOut) {
    long span, stride, offset;
    ws2_in_geometry(kind, &span, &stride, &offset);
    const long wp = stride * (tilesW - 1) + span;       // voxels along w the row's tiles read
    const long ld = (wp + 15) & ~15L;
    float *raw = scratch, *c1 = scratch + 49 * ld, *c2 = scratch + 98 * ld;
    const long d0 = stride * td + offset, h0 = stride * th + offset, w0 = offset;
    // Zero-padded copy raw[k][j][i] of the span planes k and rows j.
    const long lo = w0 < 0 ? -w0 : 0;                    // first i inside the plane
    long hi = w - w0; if (hi > wp) hi = wp;             // one past the last
    for (long k = 0; k < span; k++) {
        for (long j = 0; j < span; j++) {
            float *dst = raw + (k * span + j) * ld;
            long z = d0 + k, y = h0 + j;
            if (z < 0 || z >= d || y < 0 || y >= h || hi <= lo) { memset(dst, 0, sizeof(float) * (size_t)wp); continue; }
            if (lo > 0) memset(dst, 0, sizeof(float) * (size_t)lo);
            memcpy(dst + lo, plane + (z * h + y) * w + w0 + lo, sizeof(float) * (size_t)(hi - lo));
            if (hi < wp) memset(dst + hi, 0, sizeof(float) * (size_t)(wp - hi));
        }
    }
    // d axis: c1[cd][j][i] from raw[k][j][i].
    for (long j = 0; j < span; j++) ws2_axis_in(kind, raw + j * ld, span * ld, c1 + j * ld, span * ld, wp);
    // h axis: c2[cd][ch][i] from c1[cd][j][i].
    for (long cd = 0; cd < 7; cd++) ws2_axis_in(kind, c1 + cd * span * ld, ld, c2 + cd * 7 * ld, ld, wp);
    *ldOut = ld;
    return c2;
}

/// The w axis into the chunk: ξ = (cd·7 + ch)·7 + cw.
WS2_INLINE void ws2_prefetch_input(int kind, const float *next, long d, long h, long w, long tilesW, long ntd,
                                   long nth) {
    long span, stride, offset;
    ws2_in_geometry(kind, &span, &stride, &offset);
    ws2_prefetch(next, d, h, w, stride * ntd + offset, span, stride * nth + offset, span, offset,
                 stride * (tilesW - 1) + span, 0);
}

WS2_INLINE void ws2_input_row(int kind, const float *plane, long d, long h, long w, long tilesW, long td, long th,
                              float *out, long xiStride, float *scratch, const float *next, long ntd, long nth) {
    long ld;
    ws2_prefetch_input(kind, next, d, h, w, tilesW, ntd, nth);
    const float *c2 = ws2_input_dh(kind, plane, d, h, w, tilesW, td, th, scratch, &ld);
    for (long r = 0; r < 49; r++) ws2_axis_in_w(kind, c2 + r * ld, out + r * 7 * xiStride, xiStride, tilesW);
}

#if defined(__x86_64__)
AVX512_INLINE void ws2_input_row_avx512(int kind, const float *plane, long d, long h, long w, long tilesW, long td,
                                        long th, float *out, long xiStride, float *scratch, const float *next,
                                        long ntd, long nth, const ws2_activation *a) {
    long ld, span, stride, offset;
    ws2_prefetch_input(kind, next, d, h, w, tilesW, ntd, nth);
    const float *c2 = ws2_input_dh_avx512(kind, plane, d, h, w, tilesW, td, th, scratch, &ld, a);
    ws2_in_geometry(kind, &span, &stride, &offset);
    ws2_lanes lanes;
    ws2_lanes_init(&lanes, span, stride);
    for (long r = 0; r < 49; r++)
        ws2_axis_in_w_avx512(kind, &lanes, c2 + r * ld, out + r * 7 * xiStride, xiStride, tilesW);
}
#endif

/// q output rows dst[i·dstStep + x] from the 7 component rows src[k·srcStep + x], x < n.
WS2_INLINE void ws2_axis_out(int kind, const float *restrict src, long srcStep, float *restrict dst, long dstStep,
                             long n) {
    if (kind == DRO_WS2_OUT_Y) {
        for (long x = 0; x < n; x++) {
            float m0 = src[x], m1 = src[srcStep + x], m2 = src[2 * srcStep + x], m3 = src[3 * srcStep + x];
            float m4 = src[4 * srcStep + x], m5 = src[5 * srcStep + x], m6 = src[6 * srcStep + x];
            dst[x] = ((m0 + m3) + m4) + m5;
            dst[dstStep + x] = (m1 + m4) - m5;
            dst[2 * dstStep + x] = ((m2 + m4) + m5) + m6;
        }
    } else {
        for (long x = 0; x < n; x++) {
            float m0 = src[x], m1 = src[srcStep + x], m2 = src[2 * srcStep + x], m3 = src[3 * srcStep + x];
            float m4 = src[4 * srcStep + x], m5 = src[5 * srcStep + x], m6 = src[6 * srcStep + x];
            dst[x] = m0;
            dst[dstStep + x] = (m3 + m4) + m5;
            dst[2 * dstStep + x] = m1;
            dst[3 * dstStep + x] = m4 - m5;
            dst[4 * dstStep + x] = m2;
            dst[5 * dstStep + x] = (m4 + m5) + m6;
        }
    }
}

/// The w axis: components src[k·srcStep + t] → dst[q·t + i].
WS2_INLINE void ws2_axis_out_w(int kind, const float *restrict src, long srcStep, float *restrict dst, long tiles) {
    if (kind == DRO_WS2_OUT_Y) {
        for (long t = 0; t < tiles; t++) {
            float m0 = src[t], m1 = src[srcStep + t], m2 = src[2 * srcStep + t], m3 = src[3 * srcStep + t];
            float m4 = src[4 * srcStep + t], m5 = src[5 * srcStep + t], m6 = src[6 * srcStep + t];
            dst[3 * t] = ((m0 + m3) + m4) + m5;
            dst[3 * t + 1] = (m1 + m4) - m5;
            dst[3 * t + 2] = ((m2 + m4) + m5) + m6;
        }
    } else {
        for (long t = 0; t < tiles; t++) {
            float m0 = src[t], m1 = src[srcStep + t], m2 = src[2 * srcStep + t], m3 = src[3 * srcStep + t];
            float m4 = src[4 * srcStep + t], m5 = src[5 * srcStep + t], m6 = src[6 * srcStep + t];
            dst[6 * t] = m0;
            dst[6 * t + 1] = (m3 + m4) + m5;
            dst[6 * t + 2] = m1;
            dst[6 * t + 3] = m4 - m5;
            dst[6 * t + 4] = m2;
            dst[6 * t + 5] = (m4 + m5) + m6;
        }
    }
}

WS2_INLINE void ws2_output_row(int kind, const float *src, long xiStride, float *plane, long d, long h, long w,
                               long tilesW, long td, long th, float bias, int accumulate, float *scratch, float *next,
                               long ntd, long nth) {
    const long q = kind == DRO_WS2_OUT_Y ? 3 : 6;
    ws2_prefetch(next, d, h, w, q * ntd, q, q * nth, q, 0, w, 1);
    const long wq = q * tilesW, ld = (wq + 15) & ~15L;
    float *c1 = scratch, *c2 = scratch + 49 * ld, *c3 = scratch + 98 * ld;
    // w axis: c1[cd][ch][x].
    for (long r = 0; r < 49; r++) ws2_axis_out_w(kind, src + r * 7 * xiStride, xiStride, c1 + r * ld, tilesW);
    // h axis: c2[cd][j][x].
    for (long cd = 0; cd < 7; cd++) ws2_axis_out(kind, c1 + cd * 7 * ld, ld, c2 + cd * q * ld, ld, wq);
    // d axis: c3[i][j][x].
    for (long j = 0; j < q; j++) ws2_axis_out(kind, c2 + j * ld, q * ld, c3 + j * ld, q * ld, wq);
    const long n = w < wq ? w : wq;
    for (long i = 0; i < q; i++) {
        long z = q * td + i;
        if (z >= d) break;
        for (long j = 0; j < q; j++) {
            long y = q * th + j;
            if (y >= h) break;
            const float *s = c3 + (i * q + j) * ld;
            float *o = plane + (z * h + y) * w;
            if (accumulate) { for (long x = 0; x < n; x++) o[x] += s[x]; }
            else { for (long x = 0; x < n; x++) o[x] = s[x] + bias; }
        }
    }
}

void dro_ws2_input_row(int kind, const float *plane, long d, long h, long w, long tilesW, long td, long th,
                       float *out, long xiStride, float *scratch, const float *next, long ntd, long nth) {
    switch (kind) {
    case DRO_WS2_IN_X: ws2_input_row(DRO_WS2_IN_X, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth); break;
    case DRO_WS2_IN_DY_DX: ws2_input_row(DRO_WS2_IN_DY_DX, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth); break;
    default: ws2_input_row(DRO_WS2_IN_DY_DW, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth); break;
    }
}

void dro_ws2_output_row(int kind, const float *src, long xiStride, float *plane, long d, long h, long w,
                        long tilesW, long td, long th, float bias, int accumulate, float *scratch, float *next, long ntd,
                        long nth) {
    if (kind == DRO_WS2_OUT_Y) ws2_output_row(DRO_WS2_OUT_Y, src, xiStride, plane, d, h, w, tilesW, td, th, bias, accumulate, scratch, next, ntd, nth);
    else ws2_output_row(DRO_WS2_OUT_DX, src, xiStride, plane, d, h, w, tilesW, td, th, bias, accumulate, scratch, next, ntd, nth);
}

#if defined(__x86_64__)
AVX512 void dro_ws2_input_row_avx512(int kind, const float *plane, long d, long h, long w, long tilesW, long td,
                                     long th, float *out, long xiStride, float *scratch, const float *next, long ntd,
                                     long nth) {
    const ws2_activation none = { 0, _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps() };
    switch (kind) {
    case DRO_WS2_IN_X: ws2_input_row_avx512(DRO_WS2_IN_X, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth, &none); break;
    case DRO_WS2_IN_DY_DX: ws2_input_row_avx512(DRO_WS2_IN_DY_DX, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth, &none); break;
    default: ws2_input_row_avx512(DRO_WS2_IN_DY_DW, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth, &none); break;
    }
}

AVX512 void dro_ws2_input_row_activated_avx512(const float *plane, long d, long h, long w, long tilesW, long td,
                                               long th, float *out, long xiStride, float *scratch, const float *next,
                                               long ntd, long nth, float scale, float shift, float slope) {
    const ws2_activation act = { 1, _mm512_set1_ps(scale), _mm512_set1_ps(shift), _mm512_set1_ps(slope) };
    ws2_input_row_avx512(DRO_WS2_IN_X, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth, &act);
}

AVX512 void dro_ws2_output_row_avx512(int kind, const float *src, long xiStride, float *plane, long d, long h,
                                      long w, long tilesW, long td, long th, float bias, int accumulate,
                                      float *scratch, float *next, long ntd, long nth) {
    if (kind == DRO_WS2_OUT_Y) ws2_output_row(DRO_WS2_OUT_Y, src, xiStride, plane, d, h, w, tilesW, td, th, bias, accumulate, scratch, next, ntd, nth);
    else ws2_output_row(DRO_WS2_OUT_DX, src, xiStride, plane, d, h, w, tilesW, td, th, bias, accumulate, scratch, next, ntd, nth);
}
#else
void dro_ws2_input_row_activated_avx512(const float *plane, long d, long h, long w, long tilesW, long td,
                                        long th, float *out, long xiStride, float *scratch, const float *next,
                                        long ntd, long nth, float scale, float shift, float slope) {
    (void)plane; (void)d; (void)h; (void)w; (void)tilesW; (void)td; (void)th; (void)out; (void)xiStride;
    (void)scratch; (void)next; (void)ntd; (void)nth; (void)scale; (void)shift; (void)slope;
    abort();   // callers check for AVX-512 first
}
void dro_ws2_input_row_avx512(int kind, const float *plane, long d, long h, long w, long tilesW, long td, long th,
                              float *out, long xiStride, float *scratch, const float *next, long ntd, long nth) {
    dro_ws2_input_row(kind, plane, d, h, w, tilesW, td, th, out, xiStride, scratch, next, ntd, nth);
}
void dro_ws2_output_row_avx512(int kind, const float *src, long xiStride, float *plane, long d, long h, long w,
                               long tilesW, long td, long th, float bias, int accumulate, float *scratch, float *next,
                               long ntd, long nth) {
    dro_ws2_output_row(kind, src, xiStride, plane, d, h, w, tilesW, td, th, bias, accumulate, scratch, next, ntd, nth);
}
#endif
