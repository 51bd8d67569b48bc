#ifndef DRO_WINOGRAD_GEMM_H
#define DRO_WINOGRAD_GEMM_H

/// The small GEMMs of one Winograd F(2,3) chunk, all components in one call (no per-GEMM
/// packing, no beta pass). Operands live in the chunk buffers laid out [channel][ξ][tile]:
/// row `r` of component ξ of a [rows × tiles] operand starts at `base + r·ld + ξ·xi_stride`,
/// its `tiles` columns contiguous. Shapes here: M = Cout and K = Cin of 16–128, tiles ~128.
///
/// Every kernel is compiled for its instruction set only (`target` attribute); the caller must
/// check `dro_cpu_has_avx2_fma()` / `dro_cpu_has_avx512()` first. All sizes are element counts.

/// Forward (and input gradient): for ξ in 0..<components,
///   C_ξ[cout × tiles] = U_ξ[cout × cin] · B_ξ[cin × tiles]   (overwrites C)
/// with U_ξ row-major and contiguous at `u + ξ·cout·cin`, B_ξ at `data`, C_ξ at `products`.
void dro_winograd_gemm_forward_avx2(const float *u, const float *data, float *products,
                                    long cout, long cin, long tiles, long ld, long xi_stride,
                                    long components);
void dro_winograd_gemm_forward_avx512(const float *u, const float *data, float *products,
                                      long cout, long cin, long tiles, long ld, long xi_stride,
                                      long components);

/// Packs, in place, every component's U_ξ [cout × cin] (row-major, contiguous at u + ξ·cout·cin)
/// into the panel order of `dro_winograd_gemm_forward_packed_avx512`: panels of 8 rows (the last
/// one mr = cout mod 8 rows), each stored k-major (element (r, k) of the panel starting at row i
/// at u + ξ·cout·cin + i·cin + k·mr + r). Same size; portable C.
void dro_winograd_pack_weights(float *u, long cout, long cin, long components);

/// As `dro_winograd_gemm_forward_avx512`, with U packed by `dro_winograd_pack_weights`.
void dro_winograd_gemm_forward_packed_avx512(const float *packed, const float *data, float *products,
                                             long cout, long cin, long tiles, long ld, long xi_stride,
                                             long components);

/// As `dro_winograd_gemm_forward_packed_avx512` (same packed U, same bits), loading B's rows
/// from the chunk buffer instead of copying blocks of them into an L1 panel, and prefetching
/// component ξ + 1's rows while ξ runs (winograd_gemm_direct_avx512.c).
void dro_winograd_gemm_forward_direct_avx512(const float *packed, const float *data, float *products,
                                             long cout, long cin, long tiles, long ld, long xi_stride,
                                             long components);

/// Weight gradient: for ξ in 0..<components,
///   dU_ξ[cout × cin] += P_ξ[cout × tiles] · D_ξ[cin × tiles]ᵀ   (accumulates)
/// with dU_ξ row-major and contiguous at `du + ξ·cout·cin`, P_ξ at `products`, D_ξ at `data`.
void dro_winograd_gemm_weight_avx2(const float *products, const float *data, float *du,
                                   long cout, long cin, long tiles, long ld, long xi_stride,
                                   long components);
void dro_winograd_gemm_weight_avx512(const float *products, const float *data, float *du,
                                     long cout, long cin, long tiles, long ld, long xi_stride,
                                     long components);
/// As `dro_winograd_gemm_weight_avx512` (bit-identical results), prefetching each register
/// block's dU rows one block ahead (dU larger than the caches: F(4,3) at 32–128 channels).
void dro_winograd_gemm_weight_prefetch_avx512(const float *products, const float *data, float *du,
                                              long cout, long cin, long tiles, long ld, long xi_stride,
                                              long components);
/// As `dro_winograd_gemm_weight_prefetch_avx512` (bit-identical results: same tile blocks, same
/// FMA chain per dU element), with register blocks of up to 4 vectors (64 Cin columns) × 6 rows
/// instead of 2 × 12 and the broadcasts reading P in place (no copy of its rows)
/// (winograd_weight_wide_avx512.c).
void dro_winograd_gemm_weight_wide_avx512(const float *products, const float *data, float *du,
                                          long cout, long cin, long tiles, long ld, long xi_stride,
                                          long components);

#endif
