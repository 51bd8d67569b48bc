// AVX-512 forward / input-gradient GEMMs of a Winograd chunk with the transformed weights
// packed once per call (see winograd_gemm.h, `dro_winograd_pack_weights`).
//
// Per component ξ: C_ξ[cout × tiles] = U_ξ[cout × cin] · B_ξ[cin × tiles], with U_ξ in panels of
// PK_MR = 8 rows stored k-major (element (r, k) of a panel at k·8 + r; a last panel of mr < 8
// rows at k·mr + r), so a register block's broadcasts read one contiguous stream. The packing is
// done in place (same size as U) once per forward / input-gradient call, i.e. once for all the
// chunks of a layer, where OpenBLAS repacks U on each of the 64 / 216 calls per chunk.
//
// Blocking: Cin in balanced blocks of at most PK_KC rows; the tiles in blocks of at most PK_NR
// columns (3 zmm vectors, chosen per block: 1–3 vectors, the last masked). Per (K block, column
// block) the B rows (at stride ld in the chunk buffer, a different page each) are copied into an
// aligned L1 panel `bp` [kc][PK_NR] once, and every 8-row panel of U runs an 8 × (16·nv)
// register block over it (up to 24 accumulators; per k nv vector loads and 8 broadcasts). The
// first K block stores C, the following ones add to it. While the panel of component ξ is
// copied, the same lines of component ξ + 1 are prefetched (into L2): the B rows are too many
// strided streams for the hardware prefetchers.
//
// Every C element is one sequential FMA chain per K block, K blocks added in order: a fixed
// summation order, independent of the thread count. Nothing past `tiles` is read or written.

#include "winograd_gemm.h"

#include <stdlib.h>
#include <string.h>

enum { PK_MR = 8 };

/// In place: every component's U_ξ [cout × cin] row-major → panels of 8 rows k-major.
void dro_winograd_pack_weights(float *u, long cout, long cin, long components) {
    if (cout <= 1 || cin <= 1) return;   // one row or one column: both layouts are the same
    float *tmp = malloc((size_t)(PK_MR * cin) * sizeof(float));
    if (!tmp) abort();
    for (long xi = 0; xi < components; xi++) {
        float *m = u + xi * cout * cin;
        for (long i = 0; i < cout; i += PK_MR) {
            long mr = cout - i < PK_MR ? cout - i : PK_MR;
            float *panel = m + i * cin;
            memcpy(tmp, panel, (size_t)(mr * cin) * sizeof(float));
            for (long r = 0; r < mr; r++)
                for (long k = 0; k < cin; k++) panel[k * mr + r] = tmp[r * cin + k];
        }
    }
    free(tmp);
}

#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_common.h"

enum { LANES = 16 };
/// Columns per block (3 vectors) and Cin rows per block: the panel bp (kc × 48 floats ≤ 24 KiB)
/// stays in L1 next to the U panel stream (8 · kc floats).
enum { PK_NR = 3 * LANES, PK_KC = 128 };

/// C[mr × (16·nv)] (=, or += when `add`) A[mr × kc] (panel, k-major, row stride mr) · bp[kc × 16·nv]
/// (row stride PK_NR); the last vector's columns masked by `mlast`.
AVX512_INLINE void pk_block(int mr, int nv, const float *a, const float *bp, long kc, float *c, long ldc, int add,
                            __mmask16 mlast) {
    __m512 acc[PK_MR][3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long k = 0; k < kc; k++) {
        const float *brow = bp + k * PK_NR;
        __m512 b0 = _mm512_load_ps(brow);
        __m512 b1 = nv > 1 ? _mm512_load_ps(brow + LANES) : b0;
        __m512 b2 = nv > 2 ? _mm512_load_ps(brow + 2 * LANES) : b0;
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

#define PK_CASE(M) case M: pk_block(M, nv, a, bp, kc, c, ldc, add, mlast); break;

/// Row-count dispatch (each case inlines `pk_block` with constant mr; nv constant per caller).
AVX512_INLINE void pk_rows(int mr, int nv, const float *a, const float *bp, long kc, float *c, long ldc, int add,
                           __mmask16 mlast) {
    switch (mr) {
    PK_CASE(8) PK_CASE(7) PK_CASE(6) PK_CASE(5) PK_CASE(4) PK_CASE(3) PK_CASE(2)
    default: pk_block(1, nv, a, bp, kc, c, ldc, add, mlast); break;
    }
}

#undef PK_CASE

/// bp[k][0 … 16·nv) = B[k][0 … width) (zeros after), k < kc; B row k at b + k·ld. With `next` ≠ 0
/// also prefetches the same lines at b + next (the next component) into L2.
AVX512_INLINE void pk_copy_panel(const float *b, long ld, long kc, long width, int nv, float *bp, long next) {
    for (long k = 0; k < kc; k++) {
        const float *src = b + k * ld;
        float *dst = bp + k * PK_NR;
        for (int v = 0; v < nv; v++) {
            __mmask16 m = lane_mask(width - v * LANES);
            if (next) _mm_prefetch((const char *)(src + v * LANES + next), _MM_HINT_T1);
            _mm512_store_ps(dst + v * LANES, _mm512_maskz_loadu_ps(m, src + v * LANES));
        }
    }
}

AVX512 void dro_winograd_gemm_forward_packed_avx512(const float *packed, const float *data, float *products,
                                                    long cout, long cin, long tiles, long ld, long xi_stride,
                                                    long components) {
    _Alignas(64) float bp[PK_KC * PK_NR];
    long kblocks = (cin + PK_KC - 1) / PK_KC, jblocks = (tiles + PK_NR - 1) / PK_NR;
    for (long xi = 0; xi < components; xi++) {
        const float *a = packed + xi * cout * cin;
        const float *b = data + xi * xi_stride;
        float *c = products + xi * xi_stride;
        long next = xi + 1 < components ? xi_stride : 0;
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
                pk_copy_panel(b + k0 * ld + j, ld, kc, width, nv, bp, next);
                for (long i = 0; i < cout; i += PK_MR) {
                    int mr = (int)(cout - i < PK_MR ? cout - i : PK_MR);
                    // Panel of rows i…: k-major with row stride mr, starting at row i·cin; K block at k0·mr.
                    const float *ap = a + i * cin + k0 * mr;
                    float *cp = c + i * ld + j;
                    switch (nv) {
                    case 3: pk_rows(mr, 3, ap, bp, kc, cp, ld, add, mlast); break;
                    case 2: pk_rows(mr, 2, ap, bp, kc, cp, ld, add, mlast); break;
                    default: pk_rows(mr, 1, ap, bp, kc, cp, ld, add, mlast); break;
                    }
                }
                j += width;
            }
            k0 += kc;
        }
    }
}

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_gemm_forward_packed_avx512(const float *packed, const float *data, float *products, long cout,
                                             long cin, long tiles, long ld, long xi_stride, long components) {
    (void)packed; (void)data; (void)products; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
