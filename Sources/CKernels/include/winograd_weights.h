#ifndef DRO_WINOGRAD_WEIGHTS_H
#define DRO_WINOGRAD_WEIGHTS_H

/// Winograd weight transforms written straight into the packed panel order of
/// `dro_winograd_gemm_forward_packed_avx512` (see `dro_winograd_pack_weights`), AVX-512.
///
/// w is [cout, cin, 3, 3, 3]. The pass's M rows and K columns are (cout, cin) for the forward
/// (`flip` = 0, U_ξ[co][ci] = transform of w[co][ci]) and (cin, cout) for the input gradient
/// (`flip` = 1, U_ξ[ci][co] = transform of the spatially flipped w[co][ci]). Panels of 8 rows
/// `panel_begin` ..< `panel_end` are written (the last one M mod 8 rows): element (r, k) of the
/// panel starting at row i, component ξ, at u + ξ·M·K + i·K + k·mr + r.
///
/// F(2,3): 64 components, the Float operations of `WinogradWeightTransforms.transform`.
/// F(4,3): 216 components, the Double operations of `WinogradF43.transformWeights`, rounded to
/// Float once. Both bit-identical to those transforms followed by `dro_winograd_pack_weights`.
/// The caller must check `dro_cpu_has_avx512()` first.
void dro_winograd_f23_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                            long panel_begin, long panel_end);
void dro_winograd_f43_weights_packed_avx512(const float *w, long cout, long cin, int flip, float *u,
                                            long panel_begin, long panel_end);

#endif
