// Weight transforms of the polyphase Winograd stride-2 convolution (include/winograd_s2.h): the
// forward's and input gradient's G per axis, and Gᵀ for the weight gradient, vectorised along the
// K channels of one row (the matrices and their derivation: winograd_s2_transforms.c and
// docs/performance.md, "Stride-2 layers as a polyphase Winograd algorithm").

#include "winograd_s2.h"
#include "avx512_common.h"
#include <stdlib.h>

#define WS2_INLINE static inline __attribute__((always_inline))

/// G per axis on rows (w0, w1, w2) of n values each, into 7 rows: the forward's, or the input
/// gradient's (taps w2, w0 on the odd phase).
WS2_INLINE void ws2_g_rows(int dx, const float *restrict w0, const float *restrict w1, const float *restrict w2,
                           float *const *c, long n) {
    float *restrict c0 = c[0], *restrict c1 = c[1], *restrict c2 = c[2], *restrict c3 = c[3], *restrict c4 = c[4],
          *restrict c5 = c[5], *restrict c6 = c[6];
    for (long k = 0; k < n; k++) {
        float a = w0[k], b = w1[k], e = w2[k];
        c0[k] = b; c1[k] = b; c2[k] = b;
        c3[k] = dx ? e : a;
        c4[k] = 0.5f * (a + e);
        c5[k] = dx ? 0.5f * (e - a) : 0.5f * (a - e);
        c6[k] = dx ? a : e;
    }
}

/// Gᵀ of the forward's G per axis on 7 rows of n values: dw0 = c3 + (c4 + c5)/2,
/// dw1 = (c0 + c1) + c2, dw2 = (c4 − c5)/2 + c6.
WS2_INLINE void ws2_gt_rows(const float *const *c, float *restrict g0, float *restrict g1, float *restrict g2, long n) {
    const float *restrict c0 = c[0], *restrict c1 = c[1], *restrict c2 = c[2], *restrict c3 = c[3],
                *restrict c4 = c[4], *restrict c5 = c[5], *restrict c6 = c[6];
    for (long k = 0; k < n; k++) {
        g0[k] = c3[k] + 0.5f * (c4[k] + c5[k]);
        g1[k] = (c0[k] + c1[k]) + c2[k];
        g2[k] = 0.5f * (c4[k] - c5[k]) + c6[k];
    }
}

/// Rows m0..<m1 of u, vectorised along K: per row the 27 taps of its K pairs are gathered into
/// t[tap][k], then the d, h and w axes run over whole K-rows, the last one storing into u.
WS2_INLINE void ws2_weights(int dx, const float *w, long cout, long cin, float *u, long m0, long m1) {
    const long mRows = dx ? cin : cout, kCols = dx ? cout : cin, plane = mRows * kCols;
    (void)mRows;
    float *buffer = malloc(sizeof(float) * (size_t)((27 + 63 + 147) * kCols));
    if (!buffer) return;
    float *t = buffer, *a = t + 27 * kCols, *b = a + 63 * kCols;
    for (long m = m0; m < m1; m++) {
        for (long k = 0; k < kCols; k++) {
            const float *src = w + ((dx ? k : m) * cin + (dx ? m : k)) * 27;
            for (int tap = 0; tap < 27; tap++) t[tap * kCols + k] = src[tap];
        }
        float *rows[7];
        // d axis: a[(cd·9 + kh·3 + kw)][k].
        for (int r = 0; r < 9; r++) {
            for (int cd = 0; cd < 7; cd++) rows[cd] = a + (cd * 9 + r) * kCols;
            ws2_g_rows(dx, t + r * kCols, t + (9 + r) * kCols, t + (18 + r) * kCols, rows, kCols);
        }
        // h axis: b[((cd·7 + ch)·3 + kw)][k].
        for (int cd = 0; cd < 7; cd++)
            for (int kw = 0; kw < 3; kw++) {
                for (int ch = 0; ch < 7; ch++) rows[ch] = b + ((cd * 7 + ch) * 3 + kw) * kCols;
                const float *base = a + cd * 9 * kCols;
                ws2_g_rows(dx, base + kw * kCols, base + (3 + kw) * kCols, base + (6 + kw) * kCols, rows, kCols);
            }
        // w axis into u[ξ][m][k].
        for (int r = 0; r < 49; r++) {
            for (int cw = 0; cw < 7; cw++) rows[cw] = u + (r * 7 + cw) * plane + m * kCols;
            const float *base = b + r * 3 * kCols;
            ws2_g_rows(dx, base, base + kCols, base + 2 * kCols, rows, kCols);
        }
    }
    free(buffer);
}

/// dw[co][ci] += Gᵀ dU G per axis for co in co0..<co1, vectorised along ci.
WS2_INLINE void ws2_weight_gradient(const float *du, long cout, long cin, float *dw, long co0, long co1) {
    const long plane = cout * cin;
    float *buffer = malloc(sizeof(float) * (size_t)((147 + 63 + 27) * cin));
    if (!buffer) return;
    float *a = buffer, *b = a + 147 * cin, *g = b + 63 * cin;
    for (long co = co0; co < co1; co++) {
        const float *rows[7];
        // w axis: a[((cd·7 + ch)·3 + kw)][ci].
        for (int r = 0; r < 49; r++) {
            for (int cw = 0; cw < 7; cw++) rows[cw] = du + (r * 7 + cw) * plane + co * cin;
            float *o = a + r * 3 * cin;
            ws2_gt_rows(rows, o, o + cin, o + 2 * cin, cin);
        }
        // h axis: b[(cd·9 + kh·3 + kw)][ci].
        for (int cd = 0; cd < 7; cd++)
            for (int kw = 0; kw < 3; kw++) {
                for (int ch = 0; ch < 7; ch++) rows[ch] = a + ((cd * 7 + ch) * 3 + kw) * cin;
                float *o = b + (cd * 9 + kw) * cin;
                ws2_gt_rows(rows, o, o + 3 * cin, o + 6 * cin, cin);
            }
        // d axis: g[(kd·9 + r)][ci].
        for (int r = 0; r < 9; r++) {
            for (int cd = 0; cd < 7; cd++) rows[cd] = b + (cd * 9 + r) * cin;
            ws2_gt_rows(rows, g + r * cin, g + (9 + r) * cin, g + (18 + r) * cin, cin);
        }
        for (long ci = 0; ci < cin; ci++) {
            float *dst = dw + (co * cin + ci) * 27;
            for (int tap = 0; tap < 27; tap++) dst[tap] += g[tap * cin + ci];
        }
    }
    free(buffer);
}

void dro_ws2_weights(int dx, const float *w, long cout, long cin, float *u, long m0, long m1) {
    ws2_weights(dx, w, cout, cin, u, m0, m1);
}

void dro_ws2_weight_gradient(const float *du, long cout, long cin, float *dw, long co0, long co1) {
    ws2_weight_gradient(du, cout, cin, dw, co0, co1);
}

#if defined(__x86_64__)
AVX512 void dro_ws2_weights_avx512(int dx, const float *w, long cout, long cin, float *u, long m0, long m1) {
    ws2_weights(dx, w, cout, cin, u, m0, m1);
}

AVX512 void dro_ws2_weight_gradient_avx512(const float *du, long cout, long cin, float *dw, long co0, long co1) {
    ws2_weight_gradient(du, cout, cin, dw, co0, co1);
}
#else
void dro_ws2_weights_avx512(int dx, const float *w, long cout, long cin, float *u, long m0, long m1) {
    ws2_weights(dx, w, cout, cin, u, m0, m1);
}

void dro_ws2_weight_gradient_avx512(const float *du, long cout, long cin, float *dw, long co0, long co1) {
    ws2_weight_gradient(du, cout, cin, dw, co0, co1);
}
#endif
