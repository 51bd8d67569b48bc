// Weight gradient of the U-Net's first convolution (1 input channel, 3×3×3, stride 1, padding 1)
// with AVX-512 F: the AVX2 kernel (conv_single_channel.c) feeds 9 FMAs of 8 lanes with 9 loads
// of the padded input rows per output channel; here 16 lanes, and two output channels share
// the 9 input vectors of one kd (18 accumulators + 9 inputs + 2 dy vectors in 29 zmm), so a
// load feeds 2 FMAs of 16 lanes. Same sums per lane (Float over ≤ 16 rows, then Double).
// The forward: the AVX2 kernel's sums on 16 lanes over two chunks at once (same values bit for bit).
#include "conv_small_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "avx512_common.h"
enum { L16 = 16, TAPS27 = 27, AX = 3, FLUSH16 = 16 };

static long chunks16(dro_conv_dims d) { return (d.inW + L16 - 1) / L16; }
/// Floats per padded row: element 1 + w holds x[w]; chunk c's taps read c·16 + kw … c·16 + kw + 15.
static long stride16(dro_conv_dims d) { return chunks16(d) * L16 + L16; }

/// rows[(kd·3 + kh)·rs + 1 + w] = x[d + kd − 1, h + kh − 1, w], 0 outside the volume.
static void load_rows16(const float *xs, dro_conv_dims dm, long d, long h, float *rows, long rs) {
    for (long kd = 0; kd < AX; kd++)
        for (long kh = 0; kh < AX; kh++) {
            float *r = rows + (kd * AX + kh) * rs;
            long id = d + kd - 1, ih = h + kh - 1;
            memset(r, 0, (size_t)rs * sizeof(float));
            if (id >= 0 && id < dm.inD && ih >= 0 && ih < dm.inH)
                memcpy(r + 1, xs + (id * dm.inH + ih) * dm.inW, (size_t)dm.inW * sizeof(float));
        }
}

/// Output channels co0 … co0 + NB − 1, chunks c (and c + 1 when PAIR) of one output row: the AVX2
/// forward's sums (bias, then one FMA per tap in tap order) on 16 lanes; two chunks share each
/// broadcast weight, so a tap's 8 broadcasts + 2 input loads feed 16 FMAs.
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))
void forward_block(const int NB, const int PAIR, const float *rows, long rs, const float *w, const float *bias,
                   long co0, long c, float *yRow, long voxels, long width) {
    __m512 a0[8], a1[8];
    for (int i = 0; i < NB; i++) {
        a0[i] = _mm512_set1_ps(bias ? bias[co0 + i] : 0.0f);
        a1[i] = a0[i];
    }
    for (int tap = 0; tap < TAPS27; tap++) {
        const float *r = rows + (tap / AX) * rs + tap % AX + c * L16;
        const __m512 xa = _mm512_loadu_ps(r);
        const __m512 xb = PAIR ? _mm512_loadu_ps(r + L16) : xa;
        for (int i = 0; i < NB; i++) {
            const __m512 wv = _mm512_set1_ps(w[(co0 + i) * TAPS27 + tap]);
            a0[i] = _mm512_fmadd_ps(wv, xa, a0[i]);
            if (PAIR) a1[i] = _mm512_fmadd_ps(wv, xb, a1[i]);
        }
    }
    const __mmask16 m0 = lane_mask(width - c * L16), m1 = lane_mask(width - (c + 1) * L16);
    for (int i = 0; i < NB; i++) {
        _mm512_mask_storeu_ps(yRow + (co0 + i) * voxels + c * L16, m0, a0[i]);
        if (PAIR) _mm512_mask_storeu_ps(yRow + (co0 + i) * voxels + (c + 1) * L16, m1, a1[i]);
    }
}

AVX512
void dro_conv1ch_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                dro_conv_dims dm, long cout, long row0, long row1) {
    const long rs = stride16(dm), chunks = chunks16(dm), width = dm.inW;
    const long plane = dm.inH * width, voxels = dm.inD * plane;
    float *rows = malloc((size_t)(AX * AX * rs) * sizeof(float));
    if (!rows) abort();
    for (long row = row0; row < row1; row++) {
        const long n = row / (dm.inD * dm.inH), d = (row / dm.inH) % dm.inD, h = row % dm.inH;
        load_rows16(x + n * voxels, dm, d, h, rows, rs);
        float *yRow = y + n * cout * voxels + d * plane + h * width;
        long co0 = 0;
        for (; co0 + 8 <= cout; co0 += 8) {
            long c = 0;
            for (; c + 2 <= chunks; c += 2) forward_block(8, 1, rows, rs, w, bias, co0, c, yRow, voxels, width);
            if (c < chunks) forward_block(8, 0, rows, rs, w, bias, co0, c, yRow, voxels, width);
        }
        for (; co0 < cout; co0++) {
            long c = 0;
            for (; c + 2 <= chunks; c += 2) forward_block(1, 1, rows, rs, w, bias, co0, c, yRow, voxels, width);
            if (c < chunks) forward_block(1, 0, rows, rs, w, bias, co0, c, yRow, voxels, width);
        }
    }
    free(rows);
}

/// partial[i] += Σ of the 16 Float lanes of laneAcc[i] (in Double); laneAcc[i] = 0.
static void flush16(float *laneAcc, double *partial, long count) {
    for (long i = 0; i < count; i++) {
        double s = 0;
        for (int l = 0; l < L16; l++) s += laneAcc[i * L16 + l];
        partial[i] += s;
    }
    memset(laneAcc, 0, (size_t)(count * L16) * sizeof(float));
}

/// Output channels co0 … co0 + NC − 1 (NC = 1 or 2), one kd, one output row.
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))
void grad_block(const int NC, const float *r, long rs, const float *g0, const float *g1, long chunks,
                __mmask16 tail, float *la0, float *la1) {
    __m512 acc[2][9];
    for (int i = 0; i < 9; i++) {
        acc[0][i] = _mm512_loadu_ps(la0 + i * L16);
        if (NC == 2) acc[1][i] = _mm512_loadu_ps(la1 + i * L16);
    }
    for (long c = 0; c < chunks; c++) {
        const __mmask16 m = c + 1 < chunks ? (__mmask16)0xFFFF : tail;
        __m512 xv[9];
        for (int kh = 0; kh < AX; kh++)
            for (int kw = 0; kw < AX; kw++) xv[kh * AX + kw] = _mm512_loadu_ps(r + kh * rs + c * L16 + kw);
        const __m512 gv0 = _mm512_maskz_loadu_ps(m, g0 + c * L16);
        for (int i = 0; i < 9; i++) acc[0][i] = _mm512_fmadd_ps(gv0, xv[i], acc[0][i]);
        if (NC == 2) {
            const __m512 gv1 = _mm512_maskz_loadu_ps(m, g1 + c * L16);
            for (int i = 0; i < 9; i++) acc[1][i] = _mm512_fmadd_ps(gv1, xv[i], acc[1][i]);
        }
    }
    for (int i = 0; i < 9; i++) {
        _mm512_storeu_ps(la0 + i * L16, acc[0][i]);
        if (NC == 2) _mm512_storeu_ps(la1 + i * L16, acc[1][i]);
    }
}

AVX512
void dro_conv1ch_weight_grad_avx512(const float *x, const float *dy, double *partial,
                                    dro_conv_dims dm, long cout, long row0, long row1) {
    const long rs = stride16(dm), chunks = chunks16(dm), width = dm.inW;
    const long plane = dm.inH * width, voxels = dm.inD * plane;
    float *rows = malloc((size_t)(AX * AX * rs) * sizeof(float));
    float *laneAcc = calloc((size_t)(cout * TAPS27 * L16), sizeof(float));
    if (!rows || !laneAcc) abort();
    const long rem = width - (chunks - 1) * L16;
    const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
    for (long row = row0; row < row1; row++) {
        const long n = row / (dm.inD * dm.inH), d = (row / dm.inH) % dm.inD, h = row % dm.inH;
        load_rows16(x + n * voxels, dm, d, h, rows, rs);
        const float *gRow = dy + n * cout * voxels + d * plane + h * width;
        if (row + 1 < row1) {
            // The next row's dy: cout separate streams, prefetched a row ahead.
            const long nn = (row + 1) / (dm.inD * dm.inH), dd = ((row + 1) / dm.inH) % dm.inD, hh = (row + 1) % dm.inH;
            const char *next = (const char *)(dy + nn * cout * voxels + dd * plane + hh * width);
            for (long co = 0; co < cout; co++)
                for (long b = 0; b < width * 4; b += 64) __builtin_prefetch(next + co * voxels * 4 + b, 0, 3);
        }
        for (long kd = 0; kd < AX; kd++) {
            const float *r = rows + kd * AX * rs;
            long co = 0;
            for (; co + 2 <= cout; co += 2)
                grad_block(2, r, rs, gRow + co * voxels, gRow + (co + 1) * voxels, chunks, tail,
                           laneAcc + (co * TAPS27 + kd * 9) * L16, laneAcc + ((co + 1) * TAPS27 + kd * 9) * L16);
            if (co < cout)
                grad_block(1, r, rs, gRow + co * voxels, gRow + co * voxels, chunks, tail,
                           laneAcc + (co * TAPS27 + kd * 9) * L16, laneAcc + (co * TAPS27 + kd * 9) * L16);
        }
        if ((row - row0 + 1) % FLUSH16 == 0) flush16(laneAcc, partial, cout * TAPS27);
    }
    flush16(laneAcc, partial, cout * TAPS27);
    free(rows);
    free(laneAcc);
}
// ---- Weight gradient over groups of up to 4 output rows (same n, d; consecutive h) ----
// Output rows h … h + R − 1 of one kd read input rows h − 1 … h + R (R + 2 of them): each input
// vector (row j, kw) feeds tap (kh = j − r, kw) of every output row r with 0 ≤ j − r < 3, for
// two output channels — up to 2·3 FMAs per load instead of 2, and the 18 lane accumulators are
// loaded and stored once per group instead of once per row. 18 accumulators + 2·R dy vectors + 1
// input vector ≤ 27 zmm at R = 4.
enum { GROUP = 4 };

/// rows[(kd·(R + 2) + j)·rs + 1 + w] = x[d + kd − 1, h + j − 1, w], 0 outside the volume.
static void load_group_rows16(const float *xs, dro_conv_dims dm, long d, long h, long R, float *rows, long rs) {
    for (long kd = 0; kd < AX; kd++)
        for (long j = 0; j < R + 2; j++) {
            float *r = rows + (kd * (R + 2) + j) * rs;
            long id = d + kd - 1, ih = h + j - 1;
            memset(r, 0, (size_t)rs * sizeof(float));
            if (id >= 0 && id < dm.inD && ih >= 0 && ih < dm.inH)
                memcpy(r + 1, xs + (id * dm.inH + ih) * dm.inW, (size_t)dm.inW * sizeof(float));
        }
}

/// Output channels co0 (and co0 + 1 when NC = 2), one kd, R output rows; g0/g1 = the first row's
/// dy of each channel (row r at + r·width).
static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))
void grad_group(const int NC, const int R, const int BIAS, const float *r, long rs, const float *g0, const float *g1,
                long width, long chunks, __mmask16 tail, float *la0, float *la1, float *lb0, float *lb1) {
    __m512 acc[2][9], bacc[2];
    for (int i = 0; i < 9; i++) {
        acc[0][i] = _mm512_loadu_ps(la0 + i * L16);
        if (NC == 2) acc[1][i] = _mm512_loadu_ps(la1 + i * L16);
    }
    if (BIAS) {
        bacc[0] = _mm512_loadu_ps(lb0);
        if (NC == 2) bacc[1] = _mm512_loadu_ps(lb1);
    }
    for (long c = 0; c < chunks; c++) {
        const __mmask16 m = c + 1 < chunks ? (__mmask16)0xFFFF : tail;
        __m512 gv[2][GROUP];
        for (int q = 0; q < R; q++) {
            gv[0][q] = _mm512_maskz_loadu_ps(m, g0 + q * width + c * L16);
            if (NC == 2) gv[1][q] = _mm512_maskz_loadu_ps(m, g1 + q * width + c * L16);
            if (BIAS) {
                bacc[0] = _mm512_add_ps(bacc[0], gv[0][q]);
                if (NC == 2) bacc[1] = _mm512_add_ps(bacc[1], gv[1][q]);
            }
        }
        for (int j = 0; j < R + 2; j++)
            for (int kw = 0; kw < AX; kw++) {
                const __m512 xv = _mm512_loadu_ps(r + j * rs + c * L16 + kw);
                for (int q = 0; q < R; q++) {
                    const int kh = j - q;
                    if (kh < 0 || kh >= AX) continue;
                    acc[0][kh * AX + kw] = _mm512_fmadd_ps(gv[0][q], xv, acc[0][kh * AX + kw]);
                    if (NC == 2) acc[1][kh * AX + kw] = _mm512_fmadd_ps(gv[1][q], xv, acc[1][kh * AX + kw]);
                }
            }
    }
    for (int i = 0; i < 9; i++) {
        _mm512_storeu_ps(la0 + i * L16, acc[0][i]);
        if (NC == 2) _mm512_storeu_ps(la1 + i * L16, acc[1][i]);
    }
    if (BIAS) {
        _mm512_storeu_ps(lb0, bacc[0]);
        if (NC == 2) _mm512_storeu_ps(lb1, bacc[1]);
    }
}

static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))
void grad_group_channels(const int R, const float *rows, long rs, const float *gRow, long cout, long voxels,
                         long width, long chunks, __mmask16 tail, float *laneAcc, long bias) {
    // Bias lanes (bias ≠ 0): laneAcc[(cout·27 + co)·16 …], summed with the kd = 0 pass.
    float *lb = laneAcc + cout * TAPS27 * L16;
    // Channel pairs outer, kd inner: a pair's 2·R dy rows are read from memory once and stay in
    // L1 for the three kd. (Channel planes lie a multiple of 4 KiB apart at 96³ — 96³·4 bytes =
    // 864·4096 — so the same rows of all channels map to the same L1 and L2 sets: with the
    // channels inner, 32 channels' rows evicted each other between kd.) The next pair's rows are
    // prefetched.
    long co = 0;
    for (; co + 2 <= cout; co += 2) {
        if (co + 2 < cout)
            for (long q = 0; q < 2 * R; q++) {
                const char *next = (const char *)(gRow + (co + 2 + q / R) * voxels + (q % R) * width);
                for (long b = 0; b < width * 4; b += 64) __builtin_prefetch(next + b, 0, 3);
            }
        for (long kd = 0; kd < AX; kd++) {
            const float *r = rows + kd * (R + 2) * rs, *g0 = gRow + co * voxels, *g1 = g0 + voxels;
            float *la0 = laneAcc + (co * TAPS27 + kd * 9) * L16, *la1 = laneAcc + ((co + 1) * TAPS27 + kd * 9) * L16;
            if (bias && kd == 0)
                grad_group(2, R, 1, r, rs, g0, g1, width, chunks, tail, la0, la1, lb + co * L16, lb + (co + 1) * L16);
            else
                grad_group(2, R, 0, r, rs, g0, g1, width, chunks, tail, la0, la1, 0, 0);
        }
    }
    if (co < cout)
        for (long kd = 0; kd < AX; kd++) {
            const float *r = rows + kd * (R + 2) * rs, *g0 = gRow + co * voxels;
            float *la0 = laneAcc + (co * TAPS27 + kd * 9) * L16;
            if (bias && kd == 0)
                grad_group(1, R, 1, r, rs, g0, g0, width, chunks, tail, la0, la0, lb + co * L16, lb + co * L16);
            else
                grad_group(1, R, 0, r, rs, g0, g0, width, chunks, tail, la0, la0, 0, 0);
        }
}

AVX512
void dro_conv1ch_weight_grad_rows_avx512(const float *x, const float *dy, double *partial,
                                         dro_conv_dims dm, long cout, long row0, long row1, long bias) {
    const long rs = stride16(dm), chunks = chunks16(dm), width = dm.inW;
    const long plane = dm.inH * width, voxels = dm.inD * plane;
    const long sums = cout * TAPS27 + (bias ? cout : 0);
    float *rows = malloc((size_t)(AX * (GROUP + 2) * rs) * sizeof(float));
    float *laneAcc = calloc((size_t)(sums * L16), sizeof(float));
    if (!rows || !laneAcc) abort();
    const long rem = width - (chunks - 1) * L16;
    const __mmask16 tail = (__mmask16)((1u << rem) - 1u);
    long sinceFlush = 0;
    for (long row = row0; row < row1;) {
        const long n = row / (dm.inD * dm.inH), d = (row / dm.inH) % dm.inD, h = row % dm.inH;
        long R = row1 - row;
        if (R > GROUP) R = GROUP;
        if (R > dm.inH - h) R = dm.inH - h;
        load_group_rows16(x + n * voxels, dm, d, h, R, rows, rs);
        const float *gRow = dy + n * cout * voxels + d * plane + h * width;
        switch (R) {
        case 4: grad_group_channels(4, rows, rs, gRow, cout, voxels, width, chunks, tail, laneAcc, bias); break;
        case 3: grad_group_channels(3, rows, rs, gRow, cout, voxels, width, chunks, tail, laneAcc, bias); break;
        case 2: grad_group_channels(2, rows, rs, gRow, cout, voxels, width, chunks, tail, laneAcc, bias); break;
        default: grad_group_channels(1, rows, rs, gRow, cout, voxels, width, chunks, tail, laneAcc, bias); break;
        }
        row += R;
        sinceFlush += R;
        // Float lane sums over ≤ 16 rows (as the one-row kernels), then Double.
        if (sinceFlush + GROUP > FLUSH16) { flush16(laneAcc, partial, sums); sinceFlush = 0; }
    }
    flush16(laneAcc, partial, sums);
    free(rows);
    free(laneAcc);
}
#else
void dro_conv1ch_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                dro_conv_dims dm, long cout, long row0, long row1) {}
void dro_conv1ch_weight_grad_rows_avx512(const float *x, const float *dy, double *partial,
                                         dro_conv_dims dm, long cout, long row0, long row1, long bias) {}
void dro_conv1ch_weight_grad_avx512(const float *x, const float *dy, double *partial,
                                    dro_conv_dims dm, long cout, long row0, long row1) {}
#endif
