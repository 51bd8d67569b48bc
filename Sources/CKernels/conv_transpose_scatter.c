// Scatter and gather of the transposed 3D convolution with kernel 2, stride 2 (the U-Net's
// upsampling), with AVX2. After the GEMM P [Cout·8, T] = Wᵀ · X[:, tile], row co·8 + (a·2 + b)·2 + c
// of P holds tap (a, b, c) of the tile's input voxels; the taps c = 0 and c = 1 of a voxel are
// adjacent outputs, so each pair of P rows is interleaved into one output row (forward, + bias)
// or de-interleaved from it (backward). The Swift loops did this one float at a time (SSE build).
#include "conv_kernels.h"
#include <immintrin.h>

/// Floats per AVX2 vector.
#define LANES 8
/// Taps of the 2×2×2 kernel, and pairs (a, b) of taps along D and H.
#define TAPS 8
#define PAIRS 4

/// Calls the run walker: for input voxels v0..<v0+count, runs along W within one input row;
/// j = tile column of the run's first voxel, len its length, o = output index of tap (a, b, 0)
/// of that voxel. Written as a macro body so both kernels share it without a callback.
#define FOR_EACH_RUN(d, v0, count, a, b, ...)                                               \
    do {                                                                                    \
        const long ow_ = 2 * (d).inW, ohw_ = 4 * (d).inH * (d).inW, end_ = (v0) + (count);  \
        long v_ = (v0), j = 0;                                                              \
        while (v_ < end_) {                                                                 \
            const long row_ = v_ / (d).inW, w0_ = v_ - row_ * (d).inW;                     \
            const long len = ((d).inW - w0_ < end_ - v_) ? (d).inW - w0_ : end_ - v_;       \
            const long h_ = row_ % (d).inH, dd_ = row_ / (d).inH;                           \
            const long o = (2 * dd_ + (a)) * ohw_ + (2 * h_ + (b)) * ow_ + 2 * w0_;        \
            __VA_ARGS__;                                                                    \
            v_ += len;                                                                      \
            j += len;                                                                       \
        }                                                                                   \
    } while (0)

__attribute__((target("avx2,fma")))
void dro_convtranspose_scatter_avx2(const float *p, long tileCount, const float *bias, float *y,
                                    dro_conv_dims d, long v0, long channel0, long channel1) {
    const long outVoxels = TAPS * d.inD * d.inH * d.inW;
    for (long co = channel0; co < channel1; co++) {
        const float bv = bias ? bias[co] : 0.0f;
        const __m256 bias8 = _mm256_set1_ps(bv);
        float *yc = y + co * outVoxels;
        for (long pair = 0; pair < PAIRS; pair++) {
            const float *even = p + (co * TAPS + 2 * pair) * tileCount, *odd = even + tileCount;
            FOR_EACH_RUN(d, v0, tileCount, pair >> 1, pair & 1, {
                float *out = yc + o;
                const float *e = even + j, *f = odd + j;
                long i = 0;
                for (; i + LANES <= len; i += LANES) {
                    __m256 ev = _mm256_add_ps(_mm256_loadu_ps(e + i), bias8);
                    __m256 fv = _mm256_add_ps(_mm256_loadu_ps(f + i), bias8);
                    __m256 lo = _mm256_unpacklo_ps(ev, fv), hi = _mm256_unpackhi_ps(ev, fv);
                    _mm256_storeu_ps(out + 2 * i, _mm256_permute2f128_ps(lo, hi, 0x20));
                    _mm256_storeu_ps(out + 2 * i + LANES, _mm256_permute2f128_ps(lo, hi, 0x31));
                }
                for (; i < len; i++) { out[2 * i] = e[i] + bv; out[2 * i + 1] = f[i] + bv; }
            });
        }
    }
}

__attribute__((target("avx2,fma")))
void dro_convtranspose_gather_avx2(const float *dy, float *p, long tileCount, dro_conv_dims d,
                                   long v0, long channel0, long channel1) {
    const long outVoxels = TAPS * d.inD * d.inH * d.inW;
    for (long co = channel0; co < channel1; co++) {
        const float *yc = dy + co * outVoxels;
        for (long pair = 0; pair < PAIRS; pair++) {
            float *even = p + (co * TAPS + 2 * pair) * tileCount, *odd = even + tileCount;
            FOR_EACH_RUN(d, v0, tileCount, pair >> 1, pair & 1, {
                const float *src = yc + o;
                float *e = even + j, *f = odd + j;
                long i = 0;
                for (; i + LANES <= len; i += LANES) {
                    __m256 a = _mm256_loadu_ps(src + 2 * i), b = _mm256_loadu_ps(src + 2 * i + LANES);
                    __m256 ev = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
                    __m256 fv = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
                    _mm256_storeu_ps(e + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0))));
                    _mm256_storeu_ps(f + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(fv), _MM_SHUFFLE(3, 1, 2, 0))));
                }
                for (; i < len; i++) { e[i] = src[2 * i]; f[i] = src[2 * i + 1]; }
            });
        }
    }
}
