// Direct AVX-512 kernels of the U-Net's 1×1×1 head with few classes (include/conv_small_avx512.h).
//
// Pointwise head (cout ≤ 16): the forward keeps cout × 32 (cout ≤ 4) or cout × 16 voxels in
// registers and streams x once;
// the backward computes dx, dW and db in one pass over x and dy, per chunk of 4096 voxels
// (the chunk of dy, ≤ 256 KB, stays in L2 while every input channel's 16 KB run passes: long
// runs per x stream plus a software prefetch 2 KB ahead; with 512-voxel chunks perf put a third
// of the kernel's samples on the x loads).
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

enum { LANES = 16, PW_CHUNK = 4096, PW_MAX_COUT = 16, PW_PREFETCH = 512 };

// MARK: pointwise (1×1×1) head

/// Output channels [0, C) of voxels [v0, v1), VB vectors of 16 voxels per step: C·VB accumulators
/// + VB x vectors in registers. C ≥ 5: VB = 1 (≤ 17 registers at C = 16) with x of each input
/// channel prefetched 2 KB ahead (cin separate streams, more than the hardware prefetchers
/// follow): 0.6× the two-vector loop without prefetch at C = 8, 9 (cin 32, 96³, thread CPU time).
/// C ≤ 4: VB = 2 without prefetch, the first version, which stayed faster on the reference
/// network's head (16 → 4 at 64³: the one-vector loop measured 1.17–1.26× there). Every output is
/// bias + Σ_ci w·x in ci order with FMA whatever VB.
AVX512_INLINE void pw_forward_block(const int C, const int VB, const float *x, const float *w, const float *bias,
                                    float *y, long cin, long voxels, long v0, long v1) {
    for (long v = v0; v < v1; v += VB * LANES) {
        __mmask16 m[2];
        __m512 a[2][PW_MAX_COUT];
        for (int b = 0; b < VB; b++) m[b] = lane_mask(v1 - v - b * LANES);
        for (int c = 0; c < C; c++)
            for (int b = 0; b < VB; b++) a[b][c] = _mm512_set1_ps(bias ? bias[c] : 0.0f);
        for (long ci = 0; ci < cin; ci++) {
            __m512 xv[2];
            if (VB == 1) __builtin_prefetch(x + ci * voxels + v + PW_PREFETCH, 0, 3);
            for (int b = 0; b < VB; b++) xv[b] = _mm512_maskz_loadu_ps(m[b], x + ci * voxels + v + b * LANES);
            for (int c = 0; c < C; c++) {
                const __m512 wv = _mm512_set1_ps(w[c * cin + ci]);
                for (int b = 0; b < VB; b++) a[b][c] = _mm512_fmadd_ps(wv, xv[b], a[b][c]);
            }
        }
        for (int c = 0; c < C; c++) {
            float *out = y + c * voxels + v;
            if (m[VB - 1] == 0xFFFF && ((uintptr_t)out & 63) == 0) {
                for (int b = 0; b < VB; b++) _mm512_stream_ps(out + b * LANES, a[b][c]);
            } else {
                for (int b = 0; b < VB; b++) _mm512_mask_storeu_ps(out + b * LANES, m[b], a[b][c]);
            }
        }
    }
}

AVX512
void dro_pointwise_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                  long cin, long cout, long voxels, long v0, long v1) {
    switch (cout) {
#define PW_FWD_CASE(k, vb) case k: pw_forward_block(k, vb, x, w, bias, y, cin, voxels, v0, v1); break;
        PW_FWD_CASE(1, 2) PW_FWD_CASE(2, 2) PW_FWD_CASE(3, 2) PW_FWD_CASE(4, 2)
        PW_FWD_CASE(5, 1) PW_FWD_CASE(6, 1) PW_FWD_CASE(7, 1) PW_FWD_CASE(8, 1)
        PW_FWD_CASE(9, 1) PW_FWD_CASE(10, 1) PW_FWD_CASE(11, 1) PW_FWD_CASE(12, 1)
        PW_FWD_CASE(13, 1) PW_FWD_CASE(14, 1) PW_FWD_CASE(15, 1) PW_FWD_CASE(16, 1)
#undef PW_FWD_CASE
    }
    _mm_sfence();
}

AVX512_INLINE void pw_backward_block(const int C, const float *x, const float *w, const float *dyIn, float *dx,
                                     long accumulate, double *dw, double *db, long cin, long voxels,
                                     long v0, long v1, float *packed) {
    for (long c0 = v0; c0 < v1; c0 += PW_CHUNK) {
        const long c1 = c0 + PW_CHUNK < v1 ? c0 + PW_CHUNK : v1;
        // packed (non-NULL): the chunk's dy rows are copied to one contiguous buffer first (in the
        // pass db makes anyway). The C rows lie a multiple of 4 KiB apart when the volume is (96³:
        // 864·4096 bytes): read in place they share L1 and L2 sets, and 9 rows of one chunk did
        // not stay in an 8-way L2 while the input channels passed. Same values, same sums.
        const float *dy = dyIn;
        long dyStride = voxels;
        if (packed) {
            for (int c = 0; c < C; c++)
                for (long v = c0; v < c1; v += LANES) {
                    const __mmask16 m = lane_mask(c1 - v);
                    _mm512_mask_storeu_ps(packed + c * PW_CHUNK + (v - c0), m,
                                          _mm512_maskz_loadu_ps(m, dyIn + c * voxels + v));
                }
            dy = packed - c0;
            dyStride = PW_CHUNK;
        }
        if (db) {
            for (int c = 0; c < C; c++) {
                __m512 s = _mm512_setzero_ps();
                for (long v = c0; v < c1; v += LANES)
                    s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(lane_mask(c1 - v), dy + c * dyStride + v));
                db[c] += (double)_mm512_reduce_add_ps(s);
            }
        }
        // Input channels in pairs: each dy vector loaded once feeds both channels' dW and dx
        // (dy of the chunk comes from L2: half the loads), two independent dx FMA chains. The
        // sums per (c, ci) and per dx element are those of the one-channel loop below, bit for
        // bit. Measured 0.65–0.8× of the one-channel loop at C = 4, 8, 9, 16 (thread CPU time).
        long ci = 0;
        for (; ci + 2 <= cin; ci += 2) {
            __m512 acc0[PW_MAX_COUT], acc1[PW_MAX_COUT];
            for (int c = 0; c < C; c++) { acc0[c] = _mm512_setzero_ps(); acc1[c] = _mm512_setzero_ps(); }
            const float *xr0 = x + ci * voxels, *xr1 = xr0 + voxels, *wc = w + ci;
            float *dxr0 = dx ? dx + ci * voxels : 0, *dxr1 = dx ? dxr0 + voxels : 0;
            for (long v = c0; v < c1; v += LANES) {
                const __mmask16 m = lane_mask(c1 - v);
                __builtin_prefetch(xr0 + v + PW_PREFETCH, 0, 3);
                __builtin_prefetch(xr1 + v + PW_PREFETCH, 0, 3);
                const __m512 xv0 = _mm512_maskz_loadu_ps(m, xr0 + v), xv1 = _mm512_maskz_loadu_ps(m, xr1 + v);
                __m512 g0 = _mm512_setzero_ps(), g1 = _mm512_setzero_ps();
                for (int c = 0; c < C; c++) {
                    const __m512 dv = _mm512_maskz_loadu_ps(m, dy + c * dyStride + v);
                    acc0[c] = _mm512_fmadd_ps(dv, xv0, acc0[c]);
                    acc1[c] = _mm512_fmadd_ps(dv, xv1, acc1[c]);
                    g0 = _mm512_fmadd_ps(_mm512_set1_ps(wc[c * cin]), dv, g0);
                    g1 = _mm512_fmadd_ps(_mm512_set1_ps(wc[c * cin + 1]), dv, g1);
                }
                if (dxr0) {
                    if (accumulate) {
                        g0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dxr0 + v), g0);
                        g1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dxr1 + v), g1);
                    }
                    if (!accumulate && m == 0xFFFF && ((uintptr_t)(dxr0 + v) & 63) == 0
                        && ((uintptr_t)(dxr1 + v) & 63) == 0) {
                        _mm512_stream_ps(dxr0 + v, g0);
                        _mm512_stream_ps(dxr1 + v, g1);
                    } else {
                        _mm512_mask_storeu_ps(dxr0 + v, m, g0);
                        _mm512_mask_storeu_ps(dxr1 + v, m, g1);
                    }
                }
            }
            for (int c = 0; c < C; c++) {
                dw[c * cin + ci] += (double)_mm512_reduce_add_ps(acc0[c]);
                dw[c * cin + ci + 1] += (double)_mm512_reduce_add_ps(acc1[c]);
            }
        }
        for (; ci < cin; ci++) {
            __m512 acc[PW_MAX_COUT];
            __m512 wv[PW_MAX_COUT];
            for (int c = 0; c < C; c++) { acc[c] = _mm512_setzero_ps(); wv[c] = _mm512_set1_ps(w[c * cin + ci]); }
            const float *xr = x + ci * voxels;
            float *dxr = dx ? dx + ci * voxels : 0;
            for (long v = c0; v < c1; v += LANES) {
                const __mmask16 m = lane_mask(c1 - v);
                // x: 16 input-channel streams at once, each for one chunk: prefetch ahead within it.
                __builtin_prefetch(xr + v + 512, 0, 3);
                const __m512 xv = _mm512_maskz_loadu_ps(m, xr + v);
                __m512 g = _mm512_setzero_ps();
                for (int c = 0; c < C; c++) {
                    const __m512 dv = _mm512_maskz_loadu_ps(m, dy + c * dyStride + v);
                    acc[c] = _mm512_fmadd_ps(dv, xv, acc[c]);
                    g = _mm512_fmadd_ps(wv[c], dv, g);
                }
                if (dxr) {
                    if (accumulate) g = _mm512_add_ps(_mm512_maskz_loadu_ps(m, dxr + v), g);
                    if (!accumulate && m == 0xFFFF && ((uintptr_t)(dxr + v) & 63) == 0) _mm512_stream_ps(dxr + v, g);
                    else _mm512_mask_storeu_ps(dxr + v, m, g);
                }
            }
            for (int c = 0; c < C; c++) dw[c * cin + ci] += (double)_mm512_reduce_add_ps(acc[c]);
        }
    }
}

AVX512
void dro_pointwise_backward_avx512(const float *x, const float *w, const float *dy, float *dx, long accumulate,
                                   double *dwPartial, double *dbPartial, long cin, long cout, long voxels,
                                   long v0, long v1, float *packed) {
    switch (cout) {
#define PW_BWD_CASE(k) case k: pw_backward_block(k, x, w, dy, dx, accumulate, dwPartial, dbPartial, cin, voxels, v0, v1, packed); break;
        PW_BWD_CASE(1) PW_BWD_CASE(2) PW_BWD_CASE(3) PW_BWD_CASE(4)
        PW_BWD_CASE(5) PW_BWD_CASE(6) PW_BWD_CASE(7) PW_BWD_CASE(8)
        PW_BWD_CASE(9) PW_BWD_CASE(10) PW_BWD_CASE(11) PW_BWD_CASE(12)
        PW_BWD_CASE(13) PW_BWD_CASE(14) PW_BWD_CASE(15) PW_BWD_CASE(16)
#undef PW_BWD_CASE
    }
    _mm_sfence();
}

#else
// Not x86-64: the Swift callers never call these (CPUFeatures.avx512 is false); stubs to link.
void dro_pointwise_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                  long cin, long cout, long voxels, long v0, long v1) {}
void dro_pointwise_backward_avx512(const float *x, const float *w, const float *dy, float *dx, long accumulate,
                                   double *dwPartial, double *dbPartial, long cin, long cout, long voxels,
                                   long v0, long v1, float *packed) {}
#endif
