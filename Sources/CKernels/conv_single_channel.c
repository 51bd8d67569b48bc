// The U-Net's first convolution (1 input channel, 3×3×3, stride 1, padding 1, 1 → 16 at 64³)
// computed directly with 8-lane FMA: forward and weight gradient. Through im2col its GEMMs have
// K = 27 (forward) or N = 27 (weight gradient), shapes on which OpenBLAS reaches only a small
// fraction of its sgemm peak; a direct Swift kernel (SSE, no FMA) was slower than im2col +
// OpenBLAS (figures: docs/performance.md, "Measurements behind constants in the code").
// Each output row (n, d, h) reads its 9 input rows (kd, kh) once into zero-padded copies in L1,
// so every tap is an unaligned load at a fixed offset, without bounds tests.
#include "conv_kernels.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/// Floats per AVX2 vector.
#define LANES 8
/// Taps of the 3×3×3 kernel, and taps per axis.
#define TAPS 27
#define AXIS_TAPS 3
/// Output channels per register block of the forward: 8 accumulators + the input vector + one
/// broadcast weight fit in the 16 ymm registers.
#define CO_BLOCK 8
/// Rows whose products the weight gradient sums per lane in Float before adding them to the
/// Double totals (as the Swift kernel): ≤ 16 · 64 / 8 = 128 terms per lane at W = 64.
#define FLUSH_ROWS 16

static long vector_chunks(dro_conv_dims d) { return (d.inW + LANES - 1) / LANES; }
/// Floats per padded row: element 1 + w holds x[w]; the taps of chunk c read
/// c·LANES + kw .. c·LANES + kw + LANES − 1 for kw ≤ 2.
static long padded_stride(dro_conv_dims d) { return vector_chunks(d) * LANES + LANES; }

/// rows[(kd·3 + kh)·rs + 1 + w] = x[d + kd − 1, h + kh − 1, w], 0 outside the volume.
static void load_rows(const float *xs, dro_conv_dims dm, long d, long h, float *rows, long rs) {
    for (long kd = 0; kd < AXIS_TAPS; kd++) {
        for (long kh = 0; kh < AXIS_TAPS; kh++) {
            float *r = rows + (kd * AXIS_TAPS + kh) * rs;
            long id = d + kd - 1, ih = h + kh - 1;
            memset(r, 0, (size_t)rs * sizeof(float));
            if (id >= 0 && id < dm.inD && ih >= 0 && ih < dm.inH)
                memcpy(r + 1, xs + (id * dm.inH + ih) * dm.inW, (size_t)dm.inW * sizeof(float));
        }
    }
}

/// Mask with the first `n` lanes set (n ≥ LANES: all).
__attribute__((target("avx2,fma")))
static inline __m256i first_lanes(long n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

__attribute__((target("avx2,fma")))
static inline void store_chunk(float *dst, __m256 v, long remaining) {
    if (remaining >= LANES) _mm256_storeu_ps(dst, v);
    else _mm256_maskstore_ps(dst, first_lanes(remaining), v);
}

__attribute__((target("avx2,fma")))
void dro_conv1ch_forward_avx2(const float *x, const float *w, const float *bias, float *y,
                              dro_conv_dims dm, long cout, long row0, long row1) {
    const long rs = padded_stride(dm), chunks = vector_chunks(dm), width = dm.inW;
    const long plane = dm.inH * width, voxels = dm.inD * plane;
    float *rows = malloc((size_t)(AXIS_TAPS * AXIS_TAPS * rs) * sizeof(float));
    if (!rows) abort();
    for (long row = row0; row < row1; row++) {
        const long n = row / (dm.inD * dm.inH), d = (row / dm.inH) % dm.inD, h = row % dm.inH;
        load_rows(x + n * voxels, dm, d, h, rows, rs);
        float *yRow = y + n * cout * voxels + d * plane + h * width;
        long co0 = 0;
        for (; co0 + CO_BLOCK <= cout; co0 += CO_BLOCK) {
            const float *wb = w + co0 * TAPS;
            for (long c = 0; c < chunks; c++) {
                __m256 acc[CO_BLOCK];
                for (int i = 0; i < CO_BLOCK; i++) acc[i] = _mm256_set1_ps(bias ? bias[co0 + i] : 0.0f);
                for (int tap = 0; tap < TAPS; tap++) {
                    __m256 xv = _mm256_loadu_ps(rows + (tap / AXIS_TAPS) * rs + c * LANES + tap % AXIS_TAPS);
                    for (int i = 0; i < CO_BLOCK; i++)
                        acc[i] = _mm256_fmadd_ps(_mm256_set1_ps(wb[i * TAPS + tap]), xv, acc[i]);
                }
                for (int i = 0; i < CO_BLOCK; i++)
                    store_chunk(yRow + (co0 + i) * voxels + c * LANES, acc[i], width - c * LANES);
            }
        }
        for (long co = co0; co < cout; co++) {  // channels left over from the blocks of 8
            for (long c = 0; c < chunks; c++) {
                __m256 acc = _mm256_set1_ps(bias ? bias[co] : 0.0f);
                for (int tap = 0; tap < TAPS; tap++) {
                    __m256 xv = _mm256_loadu_ps(rows + (tap / AXIS_TAPS) * rs + c * LANES + tap % AXIS_TAPS);
                    acc = _mm256_fmadd_ps(_mm256_set1_ps(w[co * TAPS + tap]), xv, acc);
                }
                store_chunk(yRow + co * voxels + c * LANES, acc, width - c * LANES);
            }
        }
    }
    free(rows);
}

/// partial[i] += Σ of the 8 Float lanes of laneAcc[i] (in Double); laneAcc[i] = 0.
static void flush(float *laneAcc, double *partial, long count) {
    for (long i = 0; i < count; i++) {
        double s = 0;
        for (int l = 0; l < LANES; l++) s += laneAcc[i * LANES + l];
        partial[i] += s;
    }
    memset(laneAcc, 0, (size_t)(count * LANES) * sizeof(float));
}

__attribute__((target("avx2,fma")))
void dro_conv1ch_weight_grad_avx2(const float *x, const float *dy, double *partial,
                                  dro_conv_dims dm, long cout, long row0, long row1) {
    const long rs = padded_stride(dm), chunks = vector_chunks(dm), width = dm.inW;
    const long plane = dm.inH * width, voxels = dm.inD * plane;
    float *rows = malloc((size_t)(AXIS_TAPS * AXIS_TAPS * rs) * sizeof(float));
    // Per (co, tap) one vector of Float lane sums, flushed to `partial` every FLUSH_ROWS rows.
    float *laneAcc = calloc((size_t)(cout * TAPS * LANES), sizeof(float));
    if (!rows || !laneAcc) abort();
    const __m256i tail = first_lanes(width - (chunks - 1) * LANES);
    for (long row = row0; row < row1; row++) {
        const long n = row / (dm.inD * dm.inH), d = (row / dm.inH) % dm.inD, h = row % dm.inH;
        load_rows(x + n * voxels, dm, d, h, rows, rs);
        for (long co = 0; co < cout; co++) {
            const float *gRow = dy + (n * cout + co) * voxels + d * plane + h * width;
            for (long kd = 0; kd < AXIS_TAPS; kd++) {
                // 9 accumulators (kh, kw) per kd: one dy load feeds 9 FMAs.
                float *la = laneAcc + (co * TAPS + kd * AXIS_TAPS * AXIS_TAPS) * LANES;
                const float *r = rows + kd * AXIS_TAPS * rs;
                __m256 acc[AXIS_TAPS * AXIS_TAPS];
                for (int i = 0; i < AXIS_TAPS * AXIS_TAPS; i++) acc[i] = _mm256_loadu_ps(la + i * LANES);
                for (long c = 0; c < chunks; c++) {
                    // Lanes past the row's end are 0 in dy (masked load); the padded rows are 0 there too.
                    __m256 gv = c + 1 < chunks ? _mm256_loadu_ps(gRow + c * LANES)
                                               : _mm256_maskload_ps(gRow + c * LANES, tail);
                    for (int kh = 0; kh < AXIS_TAPS; kh++)
                        for (int kw = 0; kw < AXIS_TAPS; kw++)
                            acc[kh * AXIS_TAPS + kw] = _mm256_fmadd_ps(
                                gv, _mm256_loadu_ps(r + kh * rs + c * LANES + kw), acc[kh * AXIS_TAPS + kw]);
                }
                for (int i = 0; i < AXIS_TAPS * AXIS_TAPS; i++) _mm256_storeu_ps(la + i * LANES, acc[i]);
            }
        }
        if ((row - row0 + 1) % FLUSH_ROWS == 0) flush(laneAcc, partial, cout * TAPS);
    }
    flush(laneAcc, partial, cout * TAPS);
    free(rows);
    free(laneAcc);
}
