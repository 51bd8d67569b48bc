// Winograd F(2×2×2, 3×3×3) input transform Bᵀ d B with AVX-512: winograd_transforms.c's scheme
// (W lines in a ring over y, then Y and Z per ξw) with 16 tiles per 512-bit vector. The even/odd
// split of 32 voxels is one two-source permute (vpermt2ps) instead of AVX2's shuffle + permute,
// and the last vector of a row is stored under a lane mask (rows are padded to 4 tiles only).
// Same additions in the same order as the Swift and AVX2 kernels: bit-identical results.
//
// Faster than the AVX2 and Swift kernels, and faster with masked loads than with a padded copy
// of each line (WinogradTransformCBenchmarkTests; figures in docs/performance.md, "Winograd
// transforms in C" and "Measurements behind constants in the code").

#include "winograd_transforms.h"
#include "winograd_avx2.h"
#include <string.h>

#if defined(__x86_64__)

#define DRO_AVX512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq")))
#define DRO_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512vl,avx512bw,avx512dq")))

/// Tiles per 512-bit vector, components per tile, W-line ring slots per row (4 z × 4 y).
#define LANES 16
#define COMPONENTS 64
#define SLOTS 16

/// Floats between W-line slots: tiles rounded up to whole 16-lane vectors.
static int64_t line_stride(int64_t tilesW) { return (tilesW + LANES - 1) / LANES * LANES; }

int64_t dro_winograd_input_scratch_floats_avx512(int64_t tilesW) {
    return (int64_t)COMPONENTS * line_stride(tilesW);
}

/// Bᵀ along one axis: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
DRO_AVX512_INLINE void bt(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 r[4]) {
    r[0] = _mm512_sub_ps(d0, d2);
    r[1] = _mm512_add_ps(d1, d2);
    r[2] = _mm512_sub_ps(d2, d1);
    r[3] = _mm512_sub_ps(d1, d3);
}

/// Lanes k of a 16-float load at line + start that lie inside the line [0, w); the others are
/// read as zero (masked loads do not touch memory outside the mask), which is the padding.
DRO_AVX512_INLINE __mmask16 inside(int64_t start, int64_t w) {
    int64_t lo = start < 0 ? -start : 0, hi = w - start < LANES ? w - start : LANES;
    if (hi <= lo) return 0;
    return (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/// Loads line[start … start + 15], zero outside [0, w).
DRO_AVX512_INLINE __m512 load_line(const float *line, int64_t start, int64_t w) {
    if (start >= 0 && start + LANES <= w) return _mm512_loadu_ps(line + start);
    return _mm512_maskz_loadu_ps(inside(start, w), line + start);
}

/// Bᵀ along W of one voxel line x[0 … w) into ring slot `slot` (component ξw at slot + ξw·16·L):
/// tile m combines d_k = x[2m − 1 + k] (zero outside the line): the even and odd voxels of
/// x[32v − 1 …] and x[32v + 1 …], read straight from the volume under lane masks.
DRO_AVX512_INLINE void w_line(const float *x, int64_t w, int64_t vectors, float *slot, int64_t L) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    for (int64_t v = 0; v < vectors; v++) {
        const int64_t start = 2 * LANES * v - 1;
        __m512 a = load_line(x, start, w), b = load_line(x, start + LANES, w);
        __m512 c = load_line(x, start + 2, w), e = load_line(x, start + LANES + 2, w);
        __m512 r[4];
        bt(_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b),
           _mm512_permutex2var_ps(c, even, e), _mm512_permutex2var_ps(c, odd, e), r);
        float *dst = slot + LANES * v;
        for (int xiw = 0; xiw < 4; xiw++) _mm512_storeu_ps(dst + xiw * SLOTS * L, r[xiw]);
    }
}

/// Y then Z for every vector of one row (ring pattern `shift`); the last vector's stores are
/// masked to the row's `rowStride` columns.
DRO_AVX512_INLINE void yz(const float *lines, int64_t L, int64_t vectors, int64_t rowStride, int shift,
                          float *out, int64_t s) {
    for (int64_t v = 0; v < vectors; v++) {
        const int64_t left = rowStride - LANES * v;
        const __mmask16 mask = left >= LANES ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        float *o = out + LANES * v;
        for (int xiw = 0; xiw < 4; xiw++) {
            const float *src = lines + xiw * SLOTS * L + LANES * v;
            __m512 z[4][4];
            for (int i = 0; i < 4; i++) {
                bt(_mm512_loadu_ps(src + (4 * i + ((0 + shift) & 3)) * L),
                   _mm512_loadu_ps(src + (4 * i + ((1 + shift) & 3)) * L),
                   _mm512_loadu_ps(src + (4 * i + ((2 + shift) & 3)) * L),
                   _mm512_loadu_ps(src + (4 * i + ((3 + shift) & 3)) * L), z[i]);
            }
            for (int xiy = 0; xiy < 4; xiy++) {
                __m512 c[4];
                bt(z[0][xiy], z[1][xiy], z[2][xiy], z[3][xiy], c);
                for (int xiz = 0; xiz < 4; xiz++) _mm512_mask_storeu_ps(o + (xiz * 16 + xiy * 4 + xiw) * s, mask, c[xiz]);
            }
        }
    }
}

DRO_AVX512 void dro_winograd_input_rows_avx512(const dro_winograd_geometry *g, int64_t rowBegin, int64_t rowEnd,
                                               const float *input, int64_t channel, int64_t channels,
                                               float *out, int64_t xiStride, float *lines) {
    const int64_t L = line_stride(g->tilesW), vectors = L / LANES, w = g->w;
    const int64_t planeSize = g->d * g->h * w, perSample = g->tilesD * g->tilesH;
    int64_t pn = -1, ptd = -1, pth = -1;
    for (int64_t row = rowBegin; row < rowEnd; row++) {
        const int64_t n = row / perSample, rem = row % perSample, td = rem / g->tilesH, th = rem % g->tilesH;
        const float *plane = input + (n * channels + channel) * planeSize;
        const int reuse = pn == n && ptd == td && pth + 1 == th;
        for (int i = 0; i < 4; i++) {
            for (int j = reuse ? 2 : 0; j < 4; j++) {
                const int64_t z = 2 * td - 1 + i, y = 2 * th - 1 + j;
                float *slot = lines + (4 * i + ((y + 1) & 3)) * L;
                if (z >= 0 && z < g->d && y >= 0 && y < g->h) {
                    w_line(plane + (z * g->h + y) * w, w, vectors, slot, L);
                } else {
                    for (int xiw = 0; xiw < 4; xiw++) memset(slot + xiw * SLOTS * L, 0, (size_t)L * sizeof(float));
                }
            }
        }
        pn = n; ptd = td; pth = th;
        float *rowOut = out + (row - rowBegin) * g->rowStride;
        if ((th & 1) == 0) yz(lines, L, vectors, g->rowStride, 0, rowOut, xiStride);
        else yz(lines, L, vectors, g->rowStride, 2, rowOut, xiStride);
    }
}

#else

int64_t dro_winograd_input_scratch_floats_avx512(int64_t tilesW) { (void)tilesW; return 0; }

void dro_winograd_input_rows_avx512(const dro_winograd_geometry *g, int64_t rowBegin, int64_t rowEnd,
                                    const float *input, int64_t channel, int64_t channels,
                                    float *out, int64_t xiStride, float *lines) {
    (void)g; (void)rowBegin; (void)rowEnd; (void)input; (void)channel; (void)channels;
    (void)out; (void)xiStride; (void)lines;
}

#endif
