// AVX-512 forward / input-gradient GEMMs of a Winograd chunk reading the tiles where the input
// transform left them (see winograd_gemm.h, `dro_winograd_gemm_forward_direct_avx512`).
//
// Per component ξ: C_ξ[cout × tiles] = U_ξ[cout × cin] · B_ξ[cin × tiles], U_ξ packed by
// `dro_winograd_pack_weights` (panels of 8 rows, k-major). Same register blocks as the packed
// kernel (winograd_gemm_packed_avx512.c: 8 rows × 1–3 zmm vectors of tiles, up to 24
// accumulators, 8 broadcasts from one contiguous weight stream per k), but without its copy of
// each K × ≤ 48 block of B into an L1 panel: the blocks' rows are loaded from the chunk buffer
// (stride ld), and while component ξ runs, the rows of component ξ + 1 are prefetched — into L1
// when they fit in half of it, else into L2. With M = 32 (four 8-row panels per copied block)
// the copy cost as much as it saved, and the prefetch is what the strided rows (a page each)
// need: the hardware prefetchers do not follow them.
//
// Blocking: Cin in balanced blocks of at most DK_KC rows (the first block stores C, the
// following ones add to it), tiles in balanced blocks of ≤ 48 columns in whole vectors (the
// last one masked). Every C element is one sequential FMA chain per K block, K blocks added in
// order: the same order as the packed kernel's, so both give the same bits. Nothing past
// `tiles` is read or written.

#include "winograd_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_common.h"

enum { LANES = 16, DK_MR = 8, DK_NR = 3 * LANES, DK_KC = 128 };
/// Prefetched lines per component up to which they go to L1 (16 KiB: half of a 32 KiB L1d).
enum { DK_L1_LINES = 256 };

/// C[mr × (16·nv)] (=, or += when `add`) A[mr × kc] (panel, k-major, row stride mr) · B[kc ×
/// 16·nv] (rows at b + k·ldb); the last vector's columns masked by `mlast` (loads and stores).
AVX512_INLINE void dk_block(int mr, int nv, const float *a, const float *b, long ldb, long kc, float *c, long ldc,
                            int add, __mmask16 mlast) {
    __m512 acc[DK_MR][3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    __mmask16 m0 = nv == 1 ? mlast : (__mmask16)0xFFFF, m1 = nv == 2 ? mlast : (__mmask16)0xFFFF;
    for (long k = 0; k < kc; k++) {
        const float *brow = b + k * ldb;
        __m512 b0 = _mm512_maskz_loadu_ps(m0, brow);
        __m512 b1 = nv > 1 ? _mm512_maskz_loadu_ps(m1, brow + LANES) : b0;
        __m512 b2 = nv > 2 ? _mm512_maskz_loadu_ps(mlast, brow + 2 * LANES) : b0;
        const float *ak = a + k * mr;
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(ak[r]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            if (nv > 1) acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
            if (nv > 2) acc[r][2] = _mm512_fmadd_ps(ar, b2, acc[r][2]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *row = c + r * ldc;
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mlast : (__mmask16)0xFFFF;
            __m512 x = acc[r][v];
            if (add) x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + v * LANES), x);
            _mm512_mask_storeu_ps(row + v * LANES, m, x);
        }
    }
}

#define DK_CASE(M) case M: dk_block(M, nv, a, b, ldb, kc, c, ldc, add, mlast); break;

/// Row-count dispatch (each case inlines `dk_block` with constant mr; nv constant per caller).
AVX512_INLINE void dk_rows(int mr, int nv, const float *a, const float *b, long ldb, long kc, float *c, long ldc,
                           int add, __mmask16 mlast) {
    switch (mr) {
    DK_CASE(8) DK_CASE(7) DK_CASE(6) DK_CASE(5) DK_CASE(4) DK_CASE(3) DK_CASE(2)
    default: dk_block(1, nv, a, b, ldb, kc, c, ldc, add, mlast); break;
    }
}

#undef DK_CASE

/// Prefetches the lines of B rows 0 … cin − 1, columns 0 … tiles − 1 (rows at b + k·ld).
AVX512_INLINE void dk_prefetch(const float *b, long ld, long cin, long tiles) {
    long lines = (tiles + LANES - 1) / LANES;
    if (cin * lines <= DK_L1_LINES) {
        for (long k = 0; k < cin; k++)
            for (long t = 0; t < tiles; t += LANES) _mm_prefetch((const char *)(b + k * ld + t), _MM_HINT_T0);
    } else {
        for (long k = 0; k < cin; k++)
            for (long t = 0; t < tiles; t += LANES) _mm_prefetch((const char *)(b + k * ld + t), _MM_HINT_T1);
    }
}

AVX512 void dro_winograd_gemm_forward_direct_avx512(const float *packed, const float *data, float *products,
                                                    long cout, long cin, long tiles, long ld, long xi_stride,
                                                    long components) {
    long kblocks = (cin + DK_KC - 1) / DK_KC, jblocks = (tiles + DK_NR - 1) / DK_NR;
    for (long xi = 0; xi < components; xi++) {
        const float *a = packed + xi * cout * cin;
        const float *b = data + xi * xi_stride;
        float *c = products + xi * xi_stride;
        if (xi + 1 < components) dk_prefetch(b + xi_stride, ld, cin, tiles);
        for (long kb = 0, k0 = 0; kb < kblocks; kb++) {
            long kc = (cin - k0 + (kblocks - kb) - 1) / (kblocks - kb);   // balanced K blocks
            int add = kb > 0;
            for (long jb = 0, j = 0; jb < jblocks; jb++) {
                // Balanced column blocks in whole vectors (64 → 32 + 32, not 48 + 16).
                long share = (tiles - j + (jblocks - jb) - 1) / (jblocks - jb);
                long width = (share + LANES - 1) / LANES * LANES;
                if (width > tiles - j) width = tiles - j;
                int nv = (int)((width + LANES - 1) / LANES);
                __mmask16 mlast = lane_mask(width - (nv - 1) * LANES);
                const float *bb = b + k0 * ld + j;
                for (long i = 0; i < cout; i += DK_MR) {
                    int mr = (int)(cout - i < DK_MR ? cout - i : DK_MR);
                    const float *ap = a + i * cin + k0 * mr;
                    float *cp = c + i * ld + j;
                    switch (nv) {
                    case 3: dk_rows(mr, 3, ap, bb, ld, kc, cp, ld, add, mlast); break;
                    case 2: dk_rows(mr, 2, ap, bb, ld, kc, cp, ld, add, mlast); break;
                    default: dk_rows(mr, 1, ap, bb, ld, kc, cp, ld, add, mlast); break;
                    }
                }
                j += width;
            }
            k0 += kc;
        }
    }
}

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_gemm_forward_direct_avx512(const float *packed, const float *data, float *products, long cout,
                                             long cin, long tiles, long ld, long xi_stride, long components) {
    (void)packed; (void)data; (void)products; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
