// AVX-512 kernels for the small GEMMs of a Winograd chunk (see winograd_gemm.h).
//
// Forward: the same scheme as the AVX2 one in winograd_gemm.c with 16-lane zmm vectors and 32
// registers: blocks of FWD_MR rows × FWD_NR columns (two zmm vectors per row: 16 accumulators,
// 2 B vectors, broadcasts folded into the FMAs). FWD_MR = 8 divides every Cout of the network
// (16–128), so no row tail runs there. Not chosen automatically against OpenBLAS's own AVX-512
// (Cooperlake) kernels, with which it is level (docs/performance.md, "Winograd GEMM kernels").
//
// Weight gradient: outer products (details above `weight_gradient`): dU rows
// as zmm vectors along Cin, P values broadcast, D transposed once per component in registers;
// no lane reductions. It replaced dot products along the tiles, which at the network's 64 tiles
// per chunk spent much of their time in the final lane reductions and lost to OpenBLAS. Since
// "Weight-gradient GEMM with packed operands" (docs/performance.md) the default AVX-512 weight
// kernel is the wide one of winograd_weight_wide_avx512.c (same results); this one runs with
// DRO_WINOGRAD_WEIGHT_KERNEL=outer.
//
// Column tails use masked loads/stores (__mmask16): nothing past `tiles` (forward) or past Cin
// (weight gradient) is read or written.

#include "winograd_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_common.h"

/// Floats per zmm vector.
enum { LANES = 16 };
/// Forward register block: 8 rows × 32 columns (two vectors) = 16 accumulators.
enum { FWD_MR = 8, FWD_NR = 2 * LANES };

/// C[mr × width] = A[mr × k] · B[k × width], width ≤ FWD_NR; `masked` when width < FWD_NR.
AVX512_INLINE void forward_block(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                                 float *c, long ldc, long k, long width) {
    __m512 acc[FWD_MR][2];
    for (int r = 0; r < mr; r++) { acc[r][0] = _mm512_setzero_ps(); acc[r][1] = _mm512_setzero_ps(); }
    __mmask16 m0 = masked ? lane_mask(width) : (__mmask16)0xFFFF;
    __mmask16 m1 = masked ? lane_mask(width - LANES) : (__mmask16)0xFFFF;
    for (long p = 0; p < k; p++) {
        const float *row = b + p * ldb;
        __m512 b0 = masked ? _mm512_maskz_loadu_ps(m0, row) : _mm512_loadu_ps(row);
        __m512 b1 = masked ? _mm512_maskz_loadu_ps(m1, row + LANES) : _mm512_loadu_ps(row + LANES);
        for (int r = 0; r < mr; r++) {
            __m512 ar = _mm512_set1_ps(a[r * lda + p]);
            acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *out = c + r * ldc;
        if (masked) {
            _mm512_mask_storeu_ps(out, m0, acc[r][0]);
            _mm512_mask_storeu_ps(out + LANES, m1, acc[r][1]);
        } else {
            _mm512_storeu_ps(out, acc[r][0]);
            _mm512_storeu_ps(out + LANES, acc[r][1]);
        }
    }
}

/// Row-count dispatch: each case inlines `forward_block` with a constant row count.
AVX512_INLINE void forward_rows(int mr, int masked, const float *a, long lda, const float *b, long ldb,
                                float *c, long ldc, long k, long width) {
    switch (mr) {
    case 8: forward_block(8, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 7: forward_block(7, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 6: forward_block(6, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 5: forward_block(5, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 4: forward_block(4, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 3: forward_block(3, masked, a, lda, b, ldb, c, ldc, k, width); break;
    case 2: forward_block(2, masked, a, lda, b, ldb, c, ldc, k, width); break;
    default: forward_block(1, masked, a, lda, b, ldb, c, ldc, k, width); break;
    }
}

AVX512 void dro_winograd_gemm_forward_avx512(const float *u, const float *data, float *products,
                                             long cout, long cin, long tiles, long ld, long xi_stride,
                                             long components) {
    for (long xi = 0; xi < components; xi++) {
        const float *a = u + xi * cout * cin;
        const float *b = data + xi * xi_stride;
        float *c = products + xi * xi_stride;
        for (long j = 0; j < tiles; j += FWD_NR) {
            long width = tiles - j < FWD_NR ? tiles - j : FWD_NR;
            int masked = width < FWD_NR;
            for (long i = 0; i < cout; i += FWD_MR) {
                int mr = (int)(cout - i < FWD_MR ? cout - i : FWD_MR);
                if (masked) forward_rows(mr, 1, a + i * cin, cin, b + j, ld, c + i * ld + j, ld, cin, width);
                else forward_rows(mr, 0, a + i * cin, cin, b + j, ld, c + i * ld + j, ld, cin, width);
            }
        }
    }
}

// ---- Weight gradient: outer products ------------------------------------------------------
//
// dU[i][j] += Σ_t P[i][t]·D[j][t], computed with dU rows as zmm vectors along j (Cin):
// acc[r][v] += broadcast(P[i + r][t]) · Dᵀ[t][16v…16v + 15]. No lane reductions; the price
// is one transpose of D per component (16 × 16 blocks in registers, 64 shuffles per 256 floats),
// shared by every Cout block, i.e. 4 / Cout shuffles per FMA.
//
// Per component ξ, the tiles go in blocks of WO_KC; per block and per Cin block of WO_NR
// columns: transpose D[Cin block][tile block] into `dt` [WO_KC][WO_NR] (zero past Cin), then per
// Cout block copy its P rows into `pc` [mr][WO_KC] (constant row stride, so the broadcasts are
// memory operands with constant displacements) and run an mr × nrv register block over the
// tiles, adding into dU with masked loads/stores (nothing past Cin is read or written).
// Both buffers (16 + ≤ 12 KiB) stay in L1. Every dU element is a sequential FMA chain over the
// tiles of a block, added into dU once per block: a fixed order, independent of threads.

/// Tiles per block (dt: WO_KC × WO_NR floats = 16 KiB).
enum { WO_KC = 128 };
/// Cin columns per block: two zmm vectors.
enum { WO_NR = 2 * LANES };
/// Rows of P per register block: 12 × 2 vectors, or 24 × 1 vector for a last Cin block of ≤ 16.
enum { WO_MR2 = 12, WO_MR1 = 24 };

/// In-register transpose of a 16 × 16 block: r[k] holds row k on entry, column k on exit.
AVX512_INLINE void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + c], lane L: column 4L + c of rows 4g … 4g + 3.
    __m512 u[16];
    for (int g = 0; g < 4; g++) {
        __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 1]);
        __m512d c = _mm512_castps_pd(t[4 * g + 2]), d = _mm512_castps_pd(t[4 * g + 3]);
        u[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int c = 0; c < 4; c++) {
        __m512 x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x44), x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xEE);
        __m512 y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x44), y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xEE);
        r[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
        r[4 + c] = _mm512_shuffle_f32x4(x0, y0, 0xDD);
        r[8 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
        r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xDD);
    }
}

/// dt[t][0 … 16·⌈rows / 16⌉) = D[j][t] for t < kt, j < rows (zeros for j ≥ rows); D row j at d + j·ld.
/// With `next` ≠ 0, also prefetches (into L2) the same lines at d + next (the next component),
/// one per line loaded, so the prefetches spread over the transposes.
AVX512_INLINE void transpose_panel(const float *d, long ld, long rows, long kt, float *dt, long next) {
    for (int g = 0; g * LANES < rows; g++) {
        const float *src = d + g * LANES * ld;
        long valid_rows = rows - g * LANES;
        for (long q = 0; q < kt; q += LANES) {
            __mmask16 m = lane_mask(kt - q);
            __m512 r[16];
            if (next)
                for (int k = 0; k < 16 && k < valid_rows; k++)
                    _mm_prefetch((const char *)(src + k * ld + q + next), _MM_HINT_T1);
            if (valid_rows >= LANES) {
                for (int k = 0; k < 16; k++) r[k] = _mm512_maskz_loadu_ps(m, src + k * ld + q);
            } else {
                for (int k = 0; k < 16; k++)
                    r[k] = k < valid_rows ? _mm512_maskz_loadu_ps(m, src + k * ld + q) : _mm512_setzero_ps();
            }
            transpose16(r);
            if (kt - q >= LANES) {
                for (int k = 0; k < 16; k++) _mm512_store_ps(dt + (q + k) * WO_NR + g * LANES, r[k]);
            } else {
                for (int k = 0; k < 16; k++)
                    if (k < kt - q) _mm512_store_ps(dt + (q + k) * WO_NR + g * LANES, r[k]);
            }
        }
    }
}

/// du[mr rows × nrv vectors] (row stride lddu, columns masked by m[v]) +=
/// pc[mr × kt] (row stride WO_KC) · dt[kt × nrv vectors] (row stride WO_NR).
AVX512_INLINE void outer_block(int mr, int nrv, const float *pc, const float *dt, long kt, float *du, long lddu,
                               __mmask16 m0, __mmask16 m1) {
    __m512 acc[WO_MR1][2];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nrv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long t = 0; t < kt; t++) {
        __m512 d0 = _mm512_load_ps(dt + t * WO_NR);
        __m512 d1 = nrv > 1 ? _mm512_load_ps(dt + t * WO_NR + LANES) : d0;
        for (int r = 0; r < mr; r++) {
            __m512 b = _mm512_set1_ps(pc[r * WO_KC + t]);
            acc[r][0] = _mm512_fmadd_ps(b, d0, acc[r][0]);
            if (nrv > 1) acc[r][1] = _mm512_fmadd_ps(b, d1, acc[r][1]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *row = du + r * lddu;
        _mm512_mask_storeu_ps(row, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, row), acc[r][0]));
        if (nrv > 1)
            _mm512_mask_storeu_ps(row + LANES, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, row + LANES), acc[r][1]));
    }
}

#define OUTER_CASE(M, N) case M: outer_block(M, N, pc, dt, kt, du, lddu, m0, m1); break;

/// Row-count dispatch for two vectors per row (each case inlines `outer_block` with constants).
AVX512_INLINE void outer_rows2(int mr, const float *pc, const float *dt, long kt, float *du, long lddu,
                               __mmask16 m0, __mmask16 m1) {
    switch (mr) {
    OUTER_CASE(12, 2) OUTER_CASE(11, 2) OUTER_CASE(10, 2) OUTER_CASE(9, 2) OUTER_CASE(8, 2) OUTER_CASE(7, 2)
    OUTER_CASE(6, 2) OUTER_CASE(5, 2) OUTER_CASE(4, 2) OUTER_CASE(3, 2) OUTER_CASE(2, 2)
    default: outer_block(1, 2, pc, dt, kt, du, lddu, m0, m1); break;
    }
}

/// Row-count dispatch for one vector per row.
AVX512_INLINE void outer_rows1(int mr, const float *pc, const float *dt, long kt, float *du, long lddu,
                               __mmask16 m0, __mmask16 m1) {
    switch (mr) {
    OUTER_CASE(24, 1) OUTER_CASE(23, 1) OUTER_CASE(22, 1) OUTER_CASE(21, 1) OUTER_CASE(20, 1) OUTER_CASE(19, 1)
    OUTER_CASE(18, 1) OUTER_CASE(17, 1) OUTER_CASE(16, 1) OUTER_CASE(15, 1) OUTER_CASE(14, 1) OUTER_CASE(13, 1)
    OUTER_CASE(12, 1) OUTER_CASE(11, 1) OUTER_CASE(10, 1) OUTER_CASE(9, 1) OUTER_CASE(8, 1) OUTER_CASE(7, 1)
    OUTER_CASE(6, 1) OUTER_CASE(5, 1) OUTER_CASE(4, 1) OUTER_CASE(3, 1) OUTER_CASE(2, 1)
    default: outer_block(1, 1, pc, dt, kt, du, lddu, m0, m1); break;
    }
}

#undef OUTER_CASE

/// Prefetches (into L1) the dU lines a register block of `mr` rows × `nrv` vectors at `row0`
/// (row stride `lddu`) will load and store.
AVX512_INLINE void prefetch_du(const float *row0, long mr, int nrv, long lddu) {
    for (long r = 0; r < mr; r++) {
        _mm_prefetch((const char *)(row0 + r * lddu), _MM_HINT_T0);
        if (nrv > 1) _mm_prefetch((const char *)(row0 + r * lddu + LANES), _MM_HINT_T0);
    }
}

/// The weight-gradient kernel; with `prefetch`, each register block's dU rows are prefetched
/// one block ahead (the first block of a Cin panel before its transpose). dU (216 · Cout · Cin
/// floats for F(4,3): 1.8–14 MiB at the fetal network's 32–128 channels) is read and written once
/// per chunk and does not stay in cache between chunks; without the prefetch each block's
/// read-add-store of its dU rows waited for memory (docs/performance.md, "F(4,3) backward at
/// 96³–24³"). The results are the same either way.
AVX512_INLINE void weight_gradient(const float *products, const float *data, float *du, long cout, long cin,
                                   long tiles, long ld, long xi_stride, long components, int prefetch) {
    _Alignas(64) float dt[WO_KC * WO_NR];
    _Alignas(64) float pc[WO_MR1 * WO_KC];
    for (long xi = 0; xi < components; xi++) {
        const float *p = products + xi * xi_stride;
        const float *d = data + xi * xi_stride;
        float *out = du + xi * cout * cin;
        // The next component's operands (Cout + Cin rows at stride ld: too many streams for the
        // hardware prefetchers) are prefetched while this one's are first read.
        long next = xi + 1 < components ? xi_stride : 0;
        for (long t0 = 0; t0 < tiles; t0 += WO_KC) {
            long kt = tiles - t0 < WO_KC ? tiles - t0 : WO_KC;
            for (long j = 0; j < cin; j += WO_NR) {
                long nj = cin - j < WO_NR ? cin - j : WO_NR;
                int nrv = nj > LANES ? 2 : 1;
                __mmask16 m0 = lane_mask(nj), m1 = lane_mask(nj - LANES);
                // Cout in balanced blocks of at most mrMax rows (16 → 8 + 8, not 12 + 4).
                long mrMax = nrv == 2 ? WO_MR2 : WO_MR1;
                long blocks = (cout + mrMax - 1) / mrMax;
                if (prefetch) prefetch_du(out + j, (cout + blocks - 1) / blocks, nrv, cin);
                transpose_panel(d + j * ld + t0, ld, nj, kt, dt, next);
                for (long b = 0, i = 0; b < blocks; b++) {
                    long mr = (cout - i + (blocks - b) - 1) / (blocks - b);
                    if (prefetch && b + 1 < blocks)
                        prefetch_du(out + (i + mr) * cin + j, (cout - i - mr + (blocks - b - 1) - 1) / (blocks - b - 1),
                                    nrv, cin);
                    for (long r = 0; r < mr; r++) {
                        const float *src = p + (i + r) * ld + t0;
                        float *dst = pc + r * WO_KC;
                        for (long q = 0; q < kt; q += LANES) {
                            __mmask16 m = lane_mask(kt - q);
                            if (next && j == 0) _mm_prefetch((const char *)(src + q + next), _MM_HINT_T1);
                            _mm512_mask_storeu_ps(dst + q, m, _mm512_maskz_loadu_ps(m, src + q));
                        }
                    }
                    if (nrv == 2) outer_rows2((int)mr, pc, dt, kt, out + i * cin + j, cin, m0, m1);
                    else outer_rows1((int)mr, pc, dt, kt, out + i * cin + j, cin, m0, m1);
                    i += mr;
                }
            }
        }
    }
}

AVX512 void dro_winograd_gemm_weight_avx512(const float *products, const float *data, float *du,
                                            long cout, long cin, long tiles, long ld, long xi_stride,
                                            long components) {
    weight_gradient(products, data, du, cout, cin, tiles, ld, xi_stride, components, 0);
}

AVX512 void dro_winograd_gemm_weight_prefetch_avx512(const float *products, const float *data, float *du,
                                                     long cout, long cin, long tiles, long ld, long xi_stride,
                                                     long components) {
    weight_gradient(products, data, du, cout, cin, tiles, ld, xi_stride, components, 1);
}

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_gemm_forward_avx512(const float *u, const float *data, float *products, long cout, long cin,
                                      long tiles, long ld, long xi_stride, long components) {
    (void)u; (void)data; (void)products; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}
void dro_winograd_gemm_weight_avx512(const float *products, const float *data, float *du, long cout, long cin,
                                     long tiles, long ld, long xi_stride, long components) {
    (void)products; (void)data; (void)du; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}
void dro_winograd_gemm_weight_prefetch_avx512(const float *products, const float *data, float *du, long cout,
                                              long cin, long tiles, long ld, long xi_stride, long components) {
    (void)products; (void)data; (void)du; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
