// Direct AVX-512 kernels of the U-Net's 2×2×2 stride-2 transposed convolution (upsampling;
// include/conv_small_avx512.h; the 1×1×1 head's kernels are in conv_pointwise_avx512.c).
//
// Transposed conv. The GEMM path computed P [Cout·8, T] = Wᵀ·X and then scattered P over the
// 2× output (and gathered dy into P for the backward): two extra passes over a matrix as large as
// the output. Here, per input row (n, d, h) and output-row pair (a, b): for a block of ≤ 8 output
// channels, the c = 0 and c = 1 taps of 16 input voxels are accumulated over Cin (x broadcast
// along channels, weights broadcast), then interleaved into 32 contiguous output voxels (+ bias)
// and stored — each output written once, no intermediate matrix.
// Backward: the 32 dy values of a (row pair, 16 voxels) are de-interleaved into the c = 0 and
// c = 1 taps in registers; dx of a block of ≤ 16 input channels sums Σ_(co, tap) w · dy_tap in
// registers; the weight gradient sums, per (≤ 4 input channels × 4 taps of one co), x · dy_tap
// lane-wise over a chunk of rows, then reduces the lanes into Double partials (fixed order).
//
// Voxel tails use masked loads and stores (nothing outside the rows is read or written). Whole,
// 64-byte aligned output lines (FloatBuffer allocations are aligned) go out with streaming stores:
// the outputs (up0: 32 MB, the head's dx: 32 MB) do not fit in cache anyway, and a streaming
// store does not read the line first. Sums run
// in another order than OpenBLAS's: results agree with the GEMM path to Float rounding.

#include "conv_small_avx512.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#include "avx512_common.h"

enum { LANES = 16, CT_COB = 8, CT_CIB = 16, CT_DW_CIB = 4 };

/// Interleave indices: lo = e0 o0 e1 o1 … e7 o7, hi = e8 o8 … e15 o15 (o = second operand).
AVX512_INLINE __m512i interleave_lo(void) {
    return _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
}
AVX512_INLINE __m512i interleave_hi(void) {
    return _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
}
/// De-interleave indices over (lo, hi) = 32 values: even = 0, 2, …, 30; odd = 1, 3, …, 31.
AVX512_INLINE __m512i even_index(void) {
    return _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
}
AVX512_INLINE __m512i odd_index(void) {
    return _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
}

/// Prefetches the 4·cout output rows (2W Floats each) of input row `row` in t (y or dy, sample
/// stride ss; for writing when `write`). The rows of one input row lie in 4·cout separate
/// streams (channel, output row pair), more than the hardware prefetchers follow: without this
/// the backward's dy loads waited on memory (perf: most samples on the masked loads).
AVX512_INLINE void prefetch_rows(const float *t, dro_conv_dims d, long cout, long ss, long row, int write) {
    const long W = d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * d.inD * d.inH * W;
    const long n = row / (d.inD * d.inH), r = row % (d.inD * d.inH), dd = r / d.inH, h = r % d.inH;
    const char *base = (const char *)(t + n * ss + (2 * dd) * ohw + (2 * h) * ow);
    for (long co = 0; co < cout; co++)
        for (int pair = 0; pair < 4; pair++) {
            const char *p = base + 4 * (co * ov + (pair >> 1) * ohw + (pair & 1) * ow);
            for (long b = 0; b < 8 * W; b += 64) {
                if (write) __builtin_prefetch(p + b, 1, 3);
                else __builtin_prefetch(p + b, 0, 3);
            }
        }
}

// MARK: transposed conv forward

/// Output channels [co0, co0 + COB) of the output rows (2d + a, 2h + b), a = pair >> 1,
/// b = pair & 1, from the input row xs (channel stride iv, W voxels); yrow = output channel co0's
/// row (channel stride ov).
AVX512_INLINE void ct_forward_block(const int COB, const float *xs, long iv, long W, long cin, const float *w,
                                    long cout, long co0, int pair, const float *bias, float *yrow, long ov) {
    const __m512i ilo = interleave_lo(), ihi = interleave_hi();
    for (long w0 = 0; w0 < W; w0 += LANES) {
        const long len = W - w0;
        const __mmask16 m = lane_mask(len), mlo = lane_mask(2 * len), mhi = lane_mask(2 * len - LANES);
        __m512 even[CT_COB], odd[CT_COB];
        for (int j = 0; j < COB; j++) { even[j] = _mm512_setzero_ps(); odd[j] = _mm512_setzero_ps(); }
        for (long ci = 0; ci < cin; ci++) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, xs + ci * iv + w0);
            const float *wp = w + (ci * cout + co0) * 8 + 2 * pair;
            for (int j = 0; j < COB; j++) {
                even[j] = _mm512_fmadd_ps(_mm512_set1_ps(wp[8 * j]), xv, even[j]);
                odd[j] = _mm512_fmadd_ps(_mm512_set1_ps(wp[8 * j + 1]), xv, odd[j]);
            }
        }
        for (int j = 0; j < COB; j++) {
            const __m512 bv = _mm512_set1_ps(bias ? bias[co0 + j] : 0.0f);
            const __m512 e = _mm512_add_ps(even[j], bv), o = _mm512_add_ps(odd[j], bv);
            float *out = yrow + j * ov + 2 * w0;
            if (len >= LANES && ((uintptr_t)out & 63) == 0) {
                // Two whole cache lines: streaming stores (no read of the lines before the write).
                _mm512_stream_ps(out, _mm512_permutex2var_ps(e, ilo, o));
                _mm512_stream_ps(out + LANES, _mm512_permutex2var_ps(e, ihi, o));
            } else {
                _mm512_mask_storeu_ps(out, mlo, _mm512_permutex2var_ps(e, ilo, o));
                _mm512_mask_storeu_ps(out + LANES, mhi, _mm512_permutex2var_ps(e, ihi, o));
            }
        }
    }
}

AVX512
void dro_convtranspose_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                      dro_conv_dims d, long cin, long cout, long ySampleStride,
                                      long row0, long row1) {
    const long W = d.inW, iv = d.inD * d.inH * d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * iv;
    for (long row = row0; row < row1; row++) {
        const long n = row / (d.inD * d.inH), r = row % (d.inD * d.inH), dd = r / d.inH, h = r % d.inH;
        const float *xs = x + n * cin * iv + r * W;
        float *ys = y + n * ySampleStride;
        if (row + 1 < row1) prefetch_rows(y, d, cout, ySampleStride, row + 1, 1);
        for (int pair = 0; pair < 4; pair++) {
            const long orow = (2 * dd + (pair >> 1)) * ohw + (2 * h + (pair & 1)) * ow;
            for (long co0 = 0; co0 < cout; co0 += CT_COB) {
                float *yrow = ys + co0 * ov + orow;
                switch (cout - co0 < CT_COB ? cout - co0 : CT_COB) {
#define CT_FWD_CASE(k) case k: ct_forward_block(k, xs, iv, W, cin, w, cout, co0, pair, bias, yrow, ov); break;
                    CT_FWD_CASE(1) CT_FWD_CASE(2) CT_FWD_CASE(3) CT_FWD_CASE(4)
                    CT_FWD_CASE(5) CT_FWD_CASE(6) CT_FWD_CASE(7) CT_FWD_CASE(8)
#undef CT_FWD_CASE
                }
            }
        }
    }
    _mm_sfence();
}

// MARK: transposed conv backward

/// dx of input channels [ci0, ci0 + CIB) for one input row: dxrow = channel ci0's row (stride iv);
/// dyrow = output channel 0's row (2d, 2h) of the sample (channel stride ov, rows ow, planes ohw).
AVX512_INLINE void ct_dx_block(const int CIB, const float *dyrow, long ov, long ow, long ohw, long W,
                               const float *w, long cout, long ci0, float *dxrow, long iv) {
    const __m512i ie = even_index(), io = odd_index();
    for (long w0 = 0; w0 < W; w0 += LANES) {
        const long len = W - w0;
        const __mmask16 m = lane_mask(len), mlo = lane_mask(2 * len), mhi = lane_mask(2 * len - LANES);
        __m512 acc[CT_CIB];
        for (int i = 0; i < CIB; i++) acc[i] = _mm512_setzero_ps();
        for (long co = 0; co < cout; co++) {
            const float *wp = w + (ci0 * cout + co) * 8;
            for (int pair = 0; pair < 4; pair++) {
                // Taps (a, b, 0) and (a, b, 1): only these two de-interleaved vectors are live.
                const float *p = dyrow + co * ov + (pair >> 1) * ohw + (pair & 1) * ow + 2 * w0;
                const __m512 lo = _mm512_maskz_loadu_ps(mlo, p), hi = _mm512_maskz_loadu_ps(mhi, p + LANES);
                const __m512 te = _mm512_permutex2var_ps(lo, ie, hi), to = _mm512_permutex2var_ps(lo, io, hi);
                for (int i = 0; i < CIB; i++)
                    acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(wp[i * cout * 8 + 2 * pair]), te, acc[i]);
                for (int i = 0; i < CIB; i++)
                    acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(wp[i * cout * 8 + 2 * pair + 1]), to, acc[i]);
            }
        }
        for (int i = 0; i < CIB; i++) _mm512_mask_storeu_ps(dxrow + i * iv + w0, m, acc[i]);
    }
}

/// Weight (and, when db is non-NULL, bias) gradient of input channels [ci0, ci0 + CIB), output
/// channel co, taps 4·half … 4·half + 3 (pairs 2·half, 2·half + 1) over the input rows
/// [row0, row1) of the chunk.
AVX512_INLINE void ct_dw_block(const int CIB, const float *x, const float *dy, dro_conv_dims d, long cin, long cout,
                               long dySampleStride, long row0, long row1, long ci0, long co, int half,
                               double *dw, double *db) {
    const long W = d.inW, iv = d.inD * d.inH * d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * iv;
    const __m512i ie = even_index(), io = odd_index();
    __m512 acc[CT_DW_CIB][4];
    __m512 bacc = _mm512_setzero_ps();
    for (int i = 0; i < CIB; i++)
        for (int k = 0; k < 4; k++) acc[i][k] = _mm512_setzero_ps();
    for (long row = row0; row < row1; row++) {
        const long n = row / (d.inD * d.inH), r = row % (d.inD * d.inH), dd = r / d.inH, h = r % d.inH;
        const float *xs = x + (n * cin + ci0) * iv + r * W;
        const float *dys = dy + n * dySampleStride + co * ov + (2 * dd) * ohw + (2 * h) * ow;
        for (long w0 = 0; w0 < W; w0 += LANES) {
            const long len = W - w0;
            const __mmask16 m = lane_mask(len), mlo = lane_mask(2 * len), mhi = lane_mask(2 * len - LANES);
            __m512 t[4];
            for (int q = 0; q < 2; q++) {
                const int pair = 2 * half + q;
                const float *p = dys + (pair >> 1) * ohw + (pair & 1) * ow + 2 * w0;
                const __m512 lo = _mm512_maskz_loadu_ps(mlo, p), hi = _mm512_maskz_loadu_ps(mhi, p + LANES);
                t[2 * q] = _mm512_permutex2var_ps(lo, ie, hi);
                t[2 * q + 1] = _mm512_permutex2var_ps(lo, io, hi);
            }
            if (db) bacc = _mm512_add_ps(bacc, _mm512_add_ps(_mm512_add_ps(t[0], t[1]), _mm512_add_ps(t[2], t[3])));
            for (int i = 0; i < CIB; i++) {
                const __m512 xv = _mm512_maskz_loadu_ps(m, xs + i * iv + w0);
                for (int k = 0; k < 4; k++) acc[i][k] = _mm512_fmadd_ps(xv, t[k], acc[i][k]);
            }
        }
    }
    for (int i = 0; i < CIB; i++)
        for (int k = 0; k < 4; k++)
            dw[((ci0 + i) * cout + co) * 8 + 4 * half + k] += (double)_mm512_reduce_add_ps(acc[i][k]);
    if (db) db[co] += (double)_mm512_reduce_add_ps(bacc);
}

AVX512
void dro_convtranspose_backward_avx512(const float *x, const float *w, const float *dy, float *dx,
                                       double *dwPartial, double *dbPartial, dro_conv_dims d,
                                       long cin, long cout, long dySampleStride, long row0, long row1) {
    const long W = d.inW, iv = d.inD * d.inH * d.inW, ow = 2 * W, ohw = 4 * d.inH * W, ov = 8 * iv;
    // Chunk: whole rows, ~512 input voxels (its dy, cout·4·1024 Floats, stays in L2 between the
    // dx pass and the weight-gradient pass; the lanes are reduced once per chunk).
    const long chunkRows = W >= 512 ? 1 : 512 / W;
    for (long c0 = row0; c0 < row1; c0 += chunkRows) {
        const long c1 = c0 + chunkRows < row1 ? c0 + chunkRows : row1;
        if (dx) {
            for (long row = c0; row < c1; row++) {
                const long n = row / (d.inD * d.inH), r = row % (d.inD * d.inH), dd = r / d.inH, h = r % d.inH;
                const float *dyrow = dy + n * dySampleStride + (2 * dd) * ohw + (2 * h) * ow;
                if (row + 1 < row1) prefetch_rows(dy, d, cout, dySampleStride, row + 1, 0);
                for (long ci0 = 0; ci0 < cin; ci0 += CT_CIB) {
                    float *dxrow = dx + (n * cin + ci0) * iv + r * W;
                    switch (cin - ci0 < CT_CIB ? cin - ci0 : CT_CIB) {
#define CT_DX_CASE(k) case k: ct_dx_block(k, dyrow, ov, ow, ohw, W, w, cout, ci0, dxrow, iv); break;
                        CT_DX_CASE(1) CT_DX_CASE(2) CT_DX_CASE(3) CT_DX_CASE(4)
                        CT_DX_CASE(5) CT_DX_CASE(6) CT_DX_CASE(7) CT_DX_CASE(8)
                        CT_DX_CASE(9) CT_DX_CASE(10) CT_DX_CASE(11) CT_DX_CASE(12)
                        CT_DX_CASE(13) CT_DX_CASE(14) CT_DX_CASE(15) CT_DX_CASE(16)
#undef CT_DX_CASE
                    }
                }
            }
        }
        for (long ci0 = 0; ci0 < cin; ci0 += CT_DW_CIB) {
            for (long co = 0; co < cout; co++) {
                for (int half = 0; half < 2; half++) {
                    double *db = ci0 == 0 ? dbPartial : 0;
                    switch (cin - ci0 < CT_DW_CIB ? cin - ci0 : CT_DW_CIB) {
#define CT_DW_CASE(k) case k: ct_dw_block(k, x, dy, d, cin, cout, dySampleStride, c0, c1, ci0, co, half, dwPartial, db); break;
                        CT_DW_CASE(1) CT_DW_CASE(2) CT_DW_CASE(3) CT_DW_CASE(4)
#undef CT_DW_CASE
                    }
                }
            }
        }
    }
}

#else
// Not x86-64: the Swift callers never call these (CPUFeatures.avx512 is false); stubs to link.
void dro_convtranspose_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                      dro_conv_dims dims, long cin, long cout, long ySampleStride,
                                      long row0, long row1) {}
void dro_convtranspose_backward_avx512(const float *x, const float *w, const float *dy, float *dx,
                                       double *dwPartial, double *dbPartial, dro_conv_dims dims,
                                       long cin, long cout, long dySampleStride, long row0, long row1) {}
#endif
