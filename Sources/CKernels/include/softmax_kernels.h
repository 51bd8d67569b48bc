#ifndef DRO_SOFTMAX_KERNELS_H
#define DRO_SOFTMAX_KERNELS_H

/// Vectorised exp and the softmax run of the Dice+CE loss (softmax_avx.c). The `_avx512`
/// functions need `dro_cpu_has_avx512()`, the `_avx2` ones `dro_cpu_has_avx2_fma()` (Swift:
/// `CPUFeatures`); the loss's Swift path (libm `expf`) stays the portable fallback.
///
/// exp: range reduction x = n·ln 2 + r, |r| ≤ ln 2 / 2 (ln 2 in two parts), a degree-6 polynomial
/// for e^r (Cephes' expf coefficients), then ·2ⁿ (AVX-512: vscalefps; AVX2: two exact power-of-two
/// factors, so subnormal results are rounded once, not flushed). Inputs below −104 give +0
/// (e^−104 is below half the smallest subnormal), above 88.72 +inf; −inf gives 0, NaN stays NaN.
/// Within 2 ulp of the correctly rounded value over [−104, 88.7] (tested against Double exp).

/// y[i] = exp(x[i]) for i < count (y may alias x).
void dro_exp_avx512(const float *x, float *y, long count);
void dro_exp_avx2(const float *x, float *y, long count);

/// One run of `count` voxels of one sample of the loss: class c's logits at x + c·stride, its
/// probabilities written to p + c·stride. mx[i] = max over classes of x (in class order, as
/// `max`), e_c = exp(x_c − mx), sum[i] = Σ_c e_c (in class order), p_c = e_c·(1/sum[i]),
/// sp[c] = Σ_i p_c (Float, 16 or 8 lane partial sums then the lanes in order).
void dro_softmax_run_avx512(const float *x, float *p, long stride, long classes, long count,
                            float *mx, float *sum, float *sp);
void dro_softmax_run_avx2(const float *x, float *p, long stride, long classes, long count,
                          float *mx, float *sum, float *sp);

#endif
