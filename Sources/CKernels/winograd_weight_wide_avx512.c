// AVX-512 weight-gradient GEMMs of a Winograd chunk with wide register blocks reading P in
// place (see winograd_gemm.h, `dro_winograd_gemm_weight_wide_avx512`).
//
// The same outer-product scheme as `dro_winograd_gemm_weight_avx512` (winograd_gemm_avx512.c):
// dU[i][j] += Σ_t P[i][t]·D[j][t] with dU rows as zmm vectors along j (Cin), P values broadcast,
// D transposed once per (component, tile block, Cin block) into an aligned L1 panel `dt`
// [kt][16·nv]. Two differences:
// - register blocks of up to four vectors (64 Cin columns) × WW_MR4 = 6 rows, where the older
//   kernel runs two vectors × 12 rows: per tile 6 broadcasts and 4 loads for 24 FMAs (12 and 2),
//   and half as many Cin blocks;
// - the broadcasts read P where the transform left it (row i at products + i·ld, mr rows at
//   stride ld), where the older kernel first copies each block's P rows into an L1 buffer: the
//   copy's stores waited on P's loads from L2 / L3 (perf annotate: 10 % of the samples), while
//   the broadcasts inside the FMA loop are loaded far enough ahead by out-of-order execution.
// The prefetches are the older kernel's: dU rows one register block ahead, the next component's
// P and D rows into L2 while this one's are first read.
//
// Same tile blocks (WW_KC = 128 from tile 0, as the older kernel's WO_KC) and, per dU element,
// the same sequential FMA chain over a block's tiles added into dU once per block: the results
// are bit-identical to `dro_winograd_gemm_weight_avx512`, independent of the thread count.
// Tile blocks of more than WW_WIDE_KC tiles (dt would outgrow L1 at four vectors) run two-vector
// blocks of 12 rows. Nothing past Cin is read or written in dU; P and D are read only up to
// `tiles` (the transposes' loads are masked).
//
// Measured (docs/performance.md, "Weight-gradient GEMM with packed operands"): 0.78–0.93× the
// older kernel's time per chunk.

#include "winograd_gemm.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include "avx512_common.h"

enum { WW_LANES = 16 };
/// Tiles per block (as WO_KC); Cin columns per block (four vectors; the dt row stride is the block's width).
enum { WW_KC = 128, WW_NR = 4 * WW_LANES };
/// Largest tile block run with four-vector blocks (dt: 80 × 64 floats = 20 KiB).
enum { WW_WIDE_KC = 80 };
/// Rows per register block by vectors per row: 1 → 24, 2 → 12, 3 → 8, 4 → WW_MR4.
enum { WW_MR4 = 6 };

/// In-register transpose of a 16 × 16 block: r[k] holds row k on entry, column k on exit.
AVX512_INLINE void ww_transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
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

/// dt[t][0 … 16·⌈rows / 16⌉) = D[j][t] for t < kt, j < rows (zeros for j ≥ rows), row stride
/// `ldt`; D row j at d + j·ld. With `next` ≠ 0 also prefetches (into L2) the same lines at
/// d + next (the next component).
AVX512_INLINE void ww_transpose_panel(const float *d, long ld, long rows, long kt, float *dt, long ldt, long next) {
    for (int g = 0; g * WW_LANES < rows; g++) {
        const float *src = d + g * WW_LANES * ld;
        long valid_rows = rows - g * WW_LANES;
        for (long q = 0; q < kt; q += WW_LANES) {
            __mmask16 m = lane_mask(kt - q);
            __m512 r[16];
            if (next)
                for (int k = 0; k < 16 && k < valid_rows; k++)
                    _mm_prefetch((const char *)(src + k * ld + q + next), _MM_HINT_T1);
            if (valid_rows >= WW_LANES) {
                for (int k = 0; k < 16; k++) r[k] = _mm512_maskz_loadu_ps(m, src + k * ld + q);
            } else {
                for (int k = 0; k < 16; k++)
                    r[k] = k < valid_rows ? _mm512_maskz_loadu_ps(m, src + k * ld + q) : _mm512_setzero_ps();
            }
            ww_transpose16(r);
            if (kt - q >= WW_LANES) {
                for (int k = 0; k < 16; k++) _mm512_store_ps(dt + (q + k) * ldt + g * WW_LANES, r[k]);
            } else {
                for (int k = 0; k < 16; k++)
                    if (k < kt - q) _mm512_store_ps(dt + (q + k) * ldt + g * WW_LANES, r[k]);
            }
        }
    }
}

/// du[mr rows × nv vectors] (row stride lddu; the last vector's columns masked by `mlast`) +=
/// P[mr × kt] (row stride ldp) · dt[kt × nv vectors] (row stride 16·nv).
AVX512_INLINE void ww_block(int mr, int nv, const float *p, long ldp, const float *dt, long kt, float *du, long lddu,
                            __mmask16 mlast) {
    const long ldt = nv * WW_LANES;   // dt row stride: the block's width in whole vectors
    __m512 acc[24][4];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long t = 0; t < kt; t++) {
        const float *drow = dt + t * ldt;
        __m512 d0 = _mm512_load_ps(drow);
        __m512 d1 = nv > 1 ? _mm512_load_ps(drow + WW_LANES) : d0;
        __m512 d2 = nv > 2 ? _mm512_load_ps(drow + 2 * WW_LANES) : d0;
        __m512 d3 = nv > 3 ? _mm512_load_ps(drow + 3 * WW_LANES) : d0;
        for (int r = 0; r < mr; r++) {
            __m512 b = _mm512_set1_ps(p[r * ldp + t]);
            acc[r][0] = _mm512_fmadd_ps(b, d0, acc[r][0]);
            if (nv > 1) acc[r][1] = _mm512_fmadd_ps(b, d1, acc[r][1]);
            if (nv > 2) acc[r][2] = _mm512_fmadd_ps(b, d2, acc[r][2]);
            if (nv > 3) acc[r][3] = _mm512_fmadd_ps(b, d3, acc[r][3]);
        }
    }
    for (int r = 0; r < mr; r++) {
        float *row = du + r * lddu;
        for (int v = 0; v < nv; v++) {
            __mmask16 m = v == nv - 1 ? mlast : (__mmask16)0xFFFF;
            _mm512_mask_storeu_ps(row + v * WW_LANES, m,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + v * WW_LANES), acc[r][v]));
        }
    }
}

#define WW_CASE(M, N) case M: ww_block(M, N, p, ldp, dt, kt, du, lddu, mlast); break;

/// Row-count dispatch per vector count (each case inlines `ww_block` with constants).
AVX512_INLINE void ww_rows(int mr, int nv, const float *p, long ldp, const float *dt, long kt, float *du, long lddu,
                           __mmask16 mlast) {
    switch (nv) {
    case 4:
        switch (mr) {
        WW_CASE(6, 4) WW_CASE(5, 4) WW_CASE(4, 4) WW_CASE(3, 4) WW_CASE(2, 4)
        default: ww_block(1, 4, p, ldp, dt, kt, du, lddu, mlast); break;
        }
        break;
    case 3:
        switch (mr) {
        WW_CASE(8, 3) WW_CASE(7, 3) WW_CASE(6, 3) WW_CASE(5, 3) WW_CASE(4, 3) WW_CASE(3, 3) WW_CASE(2, 3)
        default: ww_block(1, 3, p, ldp, dt, kt, du, lddu, mlast); break;
        }
        break;
    case 2:
        switch (mr) {
        WW_CASE(12, 2) WW_CASE(11, 2) WW_CASE(10, 2) WW_CASE(9, 2) WW_CASE(8, 2) WW_CASE(7, 2)
        WW_CASE(6, 2) WW_CASE(5, 2) WW_CASE(4, 2) WW_CASE(3, 2) WW_CASE(2, 2)
        default: ww_block(1, 2, p, ldp, dt, kt, du, lddu, mlast); break;
        }
        break;
    default:
        switch (mr) {
        WW_CASE(24, 1) WW_CASE(23, 1) WW_CASE(22, 1) WW_CASE(21, 1) WW_CASE(20, 1) WW_CASE(19, 1)
        WW_CASE(18, 1) WW_CASE(17, 1) WW_CASE(16, 1) WW_CASE(15, 1) WW_CASE(14, 1) WW_CASE(13, 1)
        WW_CASE(12, 1) WW_CASE(11, 1) WW_CASE(10, 1) WW_CASE(9, 1) WW_CASE(8, 1) WW_CASE(7, 1)
        WW_CASE(6, 1) WW_CASE(5, 1) WW_CASE(4, 1) WW_CASE(3, 1) WW_CASE(2, 1)
        default: ww_block(1, 1, p, ldp, dt, kt, du, lddu, mlast); break;
        }
        break;
    }
}

#undef WW_CASE

/// Prefetches (into L1) the dU lines of a register block of `mr` rows × `nv` vectors at `row0`.
AVX512_INLINE void ww_prefetch_du(const float *row0, long mr, int nv, long lddu) {
    for (long r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) _mm_prefetch((const char *)(row0 + r * lddu + v * WW_LANES), _MM_HINT_T0);
}

AVX512 void dro_winograd_gemm_weight_wide_avx512(const float *products, const float *data, float *du,
                                                 long cout, long cin, long tiles, long ld, long xi_stride,
                                                 long components) {
    // dt: at most WW_WIDE_KC × 64 or WW_KC × 32 floats.
    _Alignas(64) float dt[WW_WIDE_KC * WW_NR > WW_KC * 2 * WW_LANES ? WW_WIDE_KC * WW_NR : WW_KC * 2 * WW_LANES];
    for (long xi = 0; xi < components; xi++) {
        const float *p = products + xi * xi_stride;
        const float *d = data + xi * xi_stride;
        float *out = du + xi * cout * cin;
        long next = xi + 1 < components ? xi_stride : 0;
        for (long t0 = 0; t0 < tiles; t0 += WW_KC) {
            long kt = tiles - t0 < WW_KC ? tiles - t0 : WW_KC;
            // Cin columns per block: four vectors while dt fits L1, else two.
            long nrMax = kt <= WW_WIDE_KC ? 4 * WW_LANES : 2 * WW_LANES;
            for (long j = 0; j < cin; j += nrMax) {
                long nj = cin - j < nrMax ? cin - j : nrMax;
                int nv = (int)((nj + WW_LANES - 1) / WW_LANES);
                __mmask16 mlast = lane_mask(nj - (nv - 1) * WW_LANES);
                long mrMax = nv == 4 ? WW_MR4 : nv == 3 ? 8 : nv == 2 ? 12 : 24;
                long blocks = (cout + mrMax - 1) / mrMax;   // balanced row blocks
                ww_prefetch_du(out + j, (cout + blocks - 1) / blocks, nv, cin);
                ww_transpose_panel(d + j * ld + t0, ld, nj, kt, dt, nv * WW_LANES, next);
                for (long b = 0, i = 0; b < blocks; b++) {
                    long mr = (cout - i + (blocks - b) - 1) / (blocks - b);
                    if (b + 1 < blocks)
                        ww_prefetch_du(out + (i + mr) * cin + j,
                                       (cout - i - mr + (blocks - b - 1) - 1) / (blocks - b - 1), nv, cin);
                    // The next component's P rows, once per component (the first Cin block).
                    if (next && j == 0)
                        for (long r = 0; r < mr; r++)
                            for (long q = 0; q < kt; q += WW_LANES)
                                _mm_prefetch((const char *)(p + (i + r) * ld + t0 + q + next), _MM_HINT_T1);
                    ww_rows((int)mr, nv, p + i * ld + t0, ld, dt, kt, out + i * cin + j, cin, mlast);
                    i += mr;
                }
            }
        }
    }
}

#else   // not x86-64: callers check dro_cpu_has_avx512() (0 here) and never get this far.

void dro_winograd_gemm_weight_wide_avx512(const float *products, const float *data, float *du, long cout,
                                          long cin, long tiles, long ld, long xi_stride, long components) {
    (void)products; (void)data; (void)du; (void)cout; (void)cin; (void)tiles; (void)ld; (void)xi_stride;
    (void)components;
}

#endif
