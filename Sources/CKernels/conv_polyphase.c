// Phase split and merge of the polyphase stride-2 convolution (Tensor/ConvPolyphase.swift) with
// AVX2: an input row's even and odd elements go to two phase rows (and back, for the input
// gradient), separated with two shuffles and a lane permute; row ends are masked loads/stores, so
// nothing outside a row is read or written. Pure copies (split) and the Swift path's additions in
// its order (merge): results are bit-identical to the Swift loops, which stay the fallback.
#include "conv_kernels.h"
#include <immintrin.h>
#include <string.h>

#define LANES 8

/// Lanes i with t + i < hi set.
__attribute__((target("avx2,fma")))
static inline __m256i below(long t, long hi) {
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)t), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi), idx);
}

__attribute__((target("avx2,fma")))
void dro_polyphase_split_avx2(const float *x, dro_conv_dims d, long cin, float *phases, long first, long c0, long c1) {
    const long ph = d.outH + 1, pw = d.outW + 1, pd = d.outD + 1, volume = pd * ph * pw;
    for (long ci = c0; ci < c1; ci++) {
        for (long a = 0; a < 2; a++) for (long b = 0; b < 2; b++) {
            float *evenBase = phases + ((4 * a + 2 * b) * cin + ci) * volume;
            float *oddBase = evenBase + cin * volume;
            for (long i = 0; i < pd; i++) {
                const long id = 2 * (i + first - 1) + a;
                for (long j = 0; j < ph; j++) {
                    const long ih = 2 * (j - 1) + b;
                    float *even = evenBase + (i * ph + j) * pw, *odd = oddBase + (i * ph + j) * pw;
                    if (i + first == 0 || j == 0 || id >= d.inD || ih >= d.inH) {
                        memset(even, 0, (size_t)pw * sizeof(float));
                        memset(odd, 0, (size_t)pw * sizeof(float));
                        continue;
                    }
                    const float *row = x + ((ci * d.inD + id) * d.inH + ih) * d.inW;
                    even[0] = 0;
                    odd[0] = 0;
                    for (long k = 0; k < d.outW; k += LANES) {
                        __m256 lo = _mm256_maskload_ps(row + 2 * k, below(2 * k, d.inW));
                        __m256 hi = _mm256_maskload_ps(row + 2 * k + LANES, below(2 * k + LANES, d.inW));
                        __m256 e = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
                        __m256 o = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
                        e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
                        o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
                        if (k + LANES <= d.outW) {
                            _mm256_storeu_ps(even + 1 + k, e);
                            _mm256_storeu_ps(odd + 1 + k, o);
                        } else {
                            __m256i m = below(k, d.outW);
                            _mm256_maskstore_ps(even + 1 + k, m, e);
                            _mm256_maskstore_ps(odd + 1 + k, m, o);
                        }
                    }
                }
            }
        }
    }
}

__attribute__((target("avx2,fma")))
void dro_polyphase_merge_avx2(const float *phases, dro_conv_dims d, long cin, long first, float *dx,
                              long accumulate, long c0, long c1) {
    const long ph = d.outH + 1, pw = d.outW + 1, pd = d.outD + 1, volume = pd * ph * pw;
    // Local planes 1 ..< pd, i.e. the dx planes 2·first ..< 2·(first + pd − 1) (within the volume).
    const long idEnd = 2 * (first + pd - 1) < d.inD ? 2 * (first + pd - 1) : d.inD;
    for (long ci = c0; ci < c1; ci++) {
        for (long id = 2 * first; id < idEnd; id++) {
            const long a = id & 1, i = id / 2 + 1 - first;
            for (long ih = 0; ih < d.inH; ih++) {
                const long b = ih & 1, j = ih / 2 + 1;
                const float *even = phases + ((4 * a + 2 * b) * cin + ci) * volume + (i * ph + j) * pw + 1;
                const float *odd = even + cin * volume;
                float *dst = dx + ((ci * d.inD + id) * d.inH + ih) * d.inW;
                for (long k = 0; 2 * k < d.inW; k += LANES) {
                    const __m256i mk = below(k, d.outW);
                    __m256 e = _mm256_maskload_ps(even + k, mk), o = _mm256_maskload_ps(odd + k, mk);
                    __m256 ul = _mm256_unpacklo_ps(e, o), uh = _mm256_unpackhi_ps(e, o);
                    __m256 lo = _mm256_permute2f128_ps(ul, uh, 0x20), hi = _mm256_permute2f128_ps(ul, uh, 0x31);
                    const __m256i mlo = below(2 * k, d.inW), mhi = below(2 * k + LANES, d.inW);
                    if (accumulate) {
                        lo = _mm256_add_ps(_mm256_maskload_ps(dst + 2 * k, mlo), lo);
                        hi = _mm256_add_ps(_mm256_maskload_ps(dst + 2 * k + LANES, mhi), hi);
                    }
                    _mm256_maskstore_ps(dst + 2 * k, mlo, lo);
                    _mm256_maskstore_ps(dst + 2 * k + LANES, mhi, hi);
                }
            }
        }
    }
}

__attribute__((target("avx2,fma")))
void dro_polyphase_merge_plane_avx2(const float *plane, dro_conv_dims d, long cin, long i, float *dx, long accumulate) {
    const long ph = d.outH + 1, pw = d.outW + 1, pp = ph * pw;
    for (long a = 0; a < 2; a++) {
        const long id = 2 * (i - 1) + a;
        if (id < 0 || id >= d.inD) continue;
        for (long ci = 0; ci < cin; ci++) {
            for (long ih = 0; ih < d.inH; ih++) {
                const long b = ih & 1, j = ih / 2 + 1;
                const float *even = plane + ((4 * a + 2 * b) * cin + ci) * pp + j * pw + 1;
                const float *odd = even + cin * pp;
                float *dst = dx + ((ci * d.inD + id) * d.inH + ih) * d.inW;
                for (long k = 0; 2 * k < d.inW; k += LANES) {
                    const __m256i mk = below(k, d.outW);
                    __m256 e = _mm256_maskload_ps(even + k, mk), o = _mm256_maskload_ps(odd + k, mk);
                    __m256 ul = _mm256_unpacklo_ps(e, o), uh = _mm256_unpackhi_ps(e, o);
                    __m256 lo = _mm256_permute2f128_ps(ul, uh, 0x20), hi = _mm256_permute2f128_ps(ul, uh, 0x31);
                    const __m256i mlo = below(2 * k, d.inW), mhi = below(2 * k + LANES, d.inW);
                    if (accumulate) {
                        lo = _mm256_add_ps(_mm256_maskload_ps(dst + 2 * k, mlo), lo);
                        hi = _mm256_add_ps(_mm256_maskload_ps(dst + 2 * k + LANES, mhi), hi);
                    }
                    _mm256_maskstore_ps(dst + 2 * k, mlo, lo);
                    _mm256_maskstore_ps(dst + 2 * k + LANES, mhi, hi);
                }
            }
        }
    }
}
