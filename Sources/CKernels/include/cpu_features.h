#ifndef DRO_CPU_FEATURES_H
#define DRO_CPU_FEATURES_H

/// CPU features the hand-written kernels of this target need, read once at run time
/// (`__builtin_cpu_supports`). The kernels are compiled per function for their instruction set
/// (`__attribute__((target(...)))`), so the package itself stays built for baseline x86-64 and a
/// caller must check these before calling a kernel; on other architectures they return 0.

/// 1 when the CPU has AVX2 and FMA3 (Intel Haswell and later, AMD Zen and later).
int dro_cpu_has_avx2_fma(void);

/// 1 when the CPU has AVX-512 F, BW, DQ and VL (Intel Skylake-SP and later, AMD Zen 4).
int dro_cpu_has_avx512(void);

#endif
