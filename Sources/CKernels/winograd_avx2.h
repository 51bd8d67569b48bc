// Private helpers of the AVX2 Winograd transforms (not part of the module's public headers).
#ifndef DRO_WINOGRAD_AVX2_H
#define DRO_WINOGRAD_AVX2_H

#include <stdint.h>
#if defined(__x86_64__)
#include <immintrin.h>

/// Every function touching 256-bit vectors is compiled for AVX2 + FMA on its own; the package is
/// built for baseline x86-64. (No function here multiplies, so FMA contraction cannot occur.)
#define DRO_AVX2 __attribute__((target("avx2,fma")))
#define DRO_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/// Tiles per 256-bit vector (one lane per tile of a row).
#define DRO_WINO_LANES 8
/// Chunk rows are padded to multiples of this many tiles (Swift `WinogradLanes.scalarCount`),
/// so a row's last vector may hold only this many stored tiles.
#define DRO_WINO_ROW_QUANTUM 4

/// Vectors of 8 tiles covering a row of `tilesW` tiles.
static inline int64_t dro_wino_vectors(int64_t tilesW) {
    return (tilesW + DRO_WINO_LANES - 1) / DRO_WINO_LANES;
}

/// Even-indexed floats of the 16 at a, b: (a0 a2 a4 a6 b0 b2 b4 b6).
DRO_AVX2_INLINE __m256 dro_wino_even(__m256 a, __m256 b) {
    __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// Odd-indexed floats of the 16 at a, b: (a1 a3 a5 a7 b1 b3 b5 b7).
DRO_AVX2_INLINE __m256 dro_wino_odd(__m256 a, __m256 b) {
    __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// Stores all 8 lanes, or only the first 4 when `half` (a row's last vector when
/// rowStride mod 8 = 4): never a column beyond the row, which may belong to another thread.
DRO_AVX2_INLINE void dro_wino_store(float *p, __m256 v, int half) {
    if (half) _mm_storeu_ps(p, _mm256_castps256_ps128(v));
    else _mm256_storeu_ps(p, v);
}

/// Loads line[start … start + 7], zero for lanes outside [0, w): a plain load inside the line,
/// else a masked load (masked-out lanes touch no memory), so borders need no padded copy.
DRO_AVX2_INLINE __m256 dro_wino_load_line(const float *line, int64_t start, int64_t w) {
    if (start >= 0 && start + DRO_WINO_LANES <= w) return _mm256_loadu_ps(line + start);
    const __m256i index = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)start));
    const __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(-1)),
                                            _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w), index));
    return _mm256_maskload_ps(line + start, inside);
}

/// Swift's prefix minus on SIMD floats, 0 − x (so −(+0) is +0, as there).
DRO_AVX2_INLINE __m256 dro_wino_negate(__m256 x) {
    return _mm256_sub_ps(_mm256_setzero_ps(), x);
}

#endif  // __x86_64__
#endif
