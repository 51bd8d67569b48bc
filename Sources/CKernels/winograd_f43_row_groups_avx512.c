// AVX-512 Winograd F(4,3) data-side transforms over row groups: several consecutive tile rows
// of 4 (or 8) tiles in one vector (the layout comment below). Split from
// winograd_f43_transforms_avx512.c (the one-row-per-call passes); both include
// winograd_f43_avx512.h and are bit-identical to the Swift transforms.

#include "winograd_f43_avx512.h"
#include <string.h>

#if defined(__x86_64__)
#pragma clang fp contract(off)

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
void dro_winograd_f43_input_row_activated_avx512(const float *plane, int64_t d, int64_t h, int64_t w,
                                                 int64_t vectorTiles, int64_t td, int64_t th, float *out,
                                                 int64_t xiStride, float *scratch, const float *next, int64_t ntd,
                                                 int64_t nth, float scale, float shift, float slope) {
    (void)next; (void)ntd; (void)nth; (void)plane; (void)d; (void)h; (void)w; (void)vectorTiles; (void)td; (void)th; (void)out; (void)xiStride;
    (void)scratch; (void)scale; (void)shift; (void)slope;
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
