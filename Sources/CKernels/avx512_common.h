// Private to CKernels: the AVX-512 target attributes and the lane mask shared by the AVX-512
// kernel files. Functions marked AVX512 are compiled for AVX-512 whatever the target's baseline
// and are only called after cpu_features.c has found AVX-512F/BW/DQ/VL.

#ifndef DRO_AVX512_COMMON_H
#define DRO_AVX512_COMMON_H

#if defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512dq,avx512vl")))

/// Mask of the first `valid` of a zmm register's 16 Float lanes (clamped to 0…16).
AVX512_INLINE __mmask16 lane_mask(long valid) {
    long n = valid < 0 ? 0 : (valid > 16 ? 16 : valid);
    return (__mmask16)((1u << n) - 1u);
}
#endif

#endif
