// Winograd F(2×2×2, 3×3×3) input transform Bᵀ d B with AVX2: the C twin of
// Sources/Tensor/WinogradInputTransform.swift, with 8 tiles per vector instead of 4.
//
// Same scheme as the Swift code: each input line (z, y) of a tile row is transformed along W once
// into a "W line" (4 components per tile); a row (n, td, th) combines the 4×4 W lines
// z = 2td−1 … 2td+2, y = 2th−1 … 2th+2, and the next row (th + 1) reuses the lines y = 2th+1,
// 2th+2, so only 8 new W lines are built per row. Line (i, y) sits in ring slot 4i + ((y + 1) mod 4);
// row th finds line (i, j) in slot 4i + ((j + 2·(th mod 2)) mod 4).
//
// W-line scratch layout: lines[(ξw·16 + slot)·L + tile], L = tilesW rounded up to 8. Every vector
// of 8 tiles is four unaligned loads straight from the volume (masked where they cross the line's
// ends: the zero padding) and four even/odd splits; Y and Z are 16 loads at fixed offsets per ξw.
//
// Faster than the Swift kernel (WinogradTransformCBenchmarkTests; figures in docs/performance.md,
// "Winograd transforms in C"); reading each line through a padded copy (memcpy per line, as the
// Swift kernel does) lost most of that gain. The chunk buffers must be 64-byte aligned
// (WinogradWorkerScratch aligns them): in 16-byte aligned test arrays half the 32-byte stores
// split cache lines and this kernel ran slower than the Swift one.

#include "winograd_transforms.h"
#include "winograd_avx2.h"
#include <string.h>

/// Transformed components per tile (4³) and W-line ring slots per row (4 z × 4 y lines).
#define COMPONENTS 64
#define SLOTS 16

/// Floats between W-line slots: tiles rounded up to whole 8-lane vectors.
static int64_t line_stride(int64_t tilesW) { return dro_wino_vectors(tilesW) * DRO_WINO_LANES; }

int64_t dro_winograd_input_scratch_floats(int64_t tilesW) {
    return (int64_t)COMPONENTS * line_stride(tilesW);
}

#if defined(__x86_64__)

/// Bᵀ along one axis: (d0 − d2, d1 + d2, d2 − d1, d1 − d3), as Swift's `inputTransform`.
DRO_AVX2_INLINE void bt(__m256 d0, __m256 d1, __m256 d2, __m256 d3, __m256 r[4]) {
    r[0] = _mm256_sub_ps(d0, d2);
    r[1] = _mm256_add_ps(d1, d2);
    r[2] = _mm256_sub_ps(d2, d1);
    r[3] = _mm256_sub_ps(d1, d3);
}

/// Bᵀ along W of one voxel line x[0 … w) into ring slot `slot` (component ξw at slot + ξw·16·L):
/// tile m combines d_k = x[2m − 1 + k] (zero outside the line), the even and odd voxels of
/// x[16v − 1 …] and x[16v + 1 …], read straight from the volume (masked at the borders).
DRO_AVX2_INLINE void w_line(const float *x, int64_t w, int64_t vectors, float *slot, int64_t L) {
    for (int64_t v = 0; v < vectors; v++) {
        const int64_t start = 2 * DRO_WINO_LANES * v - 1;
        __m256 a = dro_wino_load_line(x, start, w), b = dro_wino_load_line(x, start + 8, w);
        __m256 c = dro_wino_load_line(x, start + 2, w), e = dro_wino_load_line(x, start + 10, w);
        __m256 r[4];
        bt(dro_wino_even(a, b), dro_wino_odd(a, b), dro_wino_even(c, e), dro_wino_odd(c, e), r);
        float *dst = slot + DRO_WINO_LANES * v;
        for (int xiw = 0; xiw < 4; xiw++) _mm256_storeu_ps(dst + xiw * SLOTS * L, r[xiw]);
    }
}

/// Y then Z for every vector of one row (ring pattern `shift`, a constant after inlining);
/// component ξz·16 + ξy·4 + ξw of the vector's tiles goes to out[(ξz·16 + ξy·4 + ξw)·s + 8v].
DRO_AVX2_INLINE void yz(const float *lines, int64_t L, int64_t vectors, int64_t rowStride, int shift,
                        float *out, int64_t s) {
    for (int64_t v = 0; v < vectors; v++) {
        int half = DRO_WINO_LANES * (v + 1) > rowStride;
        float *o = out + DRO_WINO_LANES * v;
        for (int xiw = 0; xiw < 4; xiw++) {
            const float *src = lines + xiw * SLOTS * L + DRO_WINO_LANES * v;
            __m256 z[4][4];
            for (int i = 0; i < 4; i++) {
                bt(_mm256_loadu_ps(src + (4 * i + ((0 + shift) & 3)) * L),
                   _mm256_loadu_ps(src + (4 * i + ((1 + shift) & 3)) * L),
                   _mm256_loadu_ps(src + (4 * i + ((2 + shift) & 3)) * L),
                   _mm256_loadu_ps(src + (4 * i + ((3 + shift) & 3)) * L), z[i]);
            }
            for (int xiy = 0; xiy < 4; xiy++) {
                __m256 c[4];
                bt(z[0][xiy], z[1][xiy], z[2][xiy], z[3][xiy], c);
                for (int xiz = 0; xiz < 4; xiz++) dro_wino_store(o + (xiz * 16 + xiy * 4 + xiw) * s, c[xiz], half);
            }
        }
    }
}

DRO_AVX2 void dro_winograd_input_rows_avx2(const dro_winograd_geometry *g, int64_t rowBegin, int64_t rowEnd,
                                           const float *input, int64_t channel, int64_t channels,
                                           float *out, int64_t xiStride, float *lines) {
    const int64_t L = line_stride(g->tilesW), vectors = dro_wino_vectors(g->tilesW), w = g->w;
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
        // The two ring patterns as separate calls, so slot offsets are constants.
        if ((th & 1) == 0) yz(lines, L, vectors, g->rowStride, 0, rowOut, xiStride);
        else yz(lines, L, vectors, g->rowStride, 2, rowOut, xiStride);
    }
}

#else

void dro_winograd_input_rows_avx2(const dro_winograd_geometry *g, int64_t rowBegin, int64_t rowEnd,
                                  const float *input, int64_t channel, int64_t channels,
                                  float *out, int64_t xiStride, float *lines) {
    (void)g; (void)rowBegin; (void)rowEnd; (void)input; (void)channel; (void)channels;
    (void)out; (void)xiStride; (void)lines;
}

#endif
