// Polyphase Winograd transforms for stride-2, padding-1, 3×3×3 convolutions (WinogradStride2 in
// the Tensor module; the algorithm and its matrices: docs/performance.md, "Stride-2 layers as a
// polyphase Winograd algorithm"). Per axis 7 components; in 3D 343, component index
// ξ = (c_d·7 + c_h)·7 + c_w. Chunk buffers are [ξ][tile] with `xiStride` between components.
//
// Every function has a portable build and an _avx512 build of the same C (compiled for AVX-512
// by the target attribute; call it only after cpu_features.c found AVX-512F/BW/DQ/VL). The two
// give the same values: only additions, subtractions and one multiplication by 0.5 in the
// weight transforms, done in the same order.

#ifndef DRO_WINOGRAD_S2_H
#define DRO_WINOGRAD_S2_H

/// Input-style transforms (span points at stride `stride` → 7 components per axis):
/// 0: the forward's input x (Bᵀ: span 7, stride 6, from x[6t − 1]);
/// 1: the input gradient's dy (span 4, stride 3, from dy[3t]);
/// 2: the weight gradient's dy (the transpose of the forward's output matrix: span 3, stride 3).
enum { DRO_WS2_IN_X = 0, DRO_WS2_IN_DY_DX = 1, DRO_WS2_IN_DY_DW = 2 };
/// Output-style transforms (7 components → q outputs per axis):
/// 0: the forward's output y (q = 3); 1: the input gradient's dx (q = 6).
enum { DRO_WS2_OUT_Y = 0, DRO_WS2_OUT_DX = 1 };

/// Floats of scratch one call of either transform needs for rows of `tilesW` tiles.
long dro_ws2_scratch_floats(long tilesW);

/// Transforms the tile row (td, th) of one [d, h, w] plane of a channel into
/// out[ξ·xiStride + t], t = 0…tilesW−1 (tilesW tiles along w; voxels outside the plane are 0).
/// `next` (may be null): the plane of the following call, whose tile row (ntd, nth) is prefetched.
void dro_ws2_input_row(int kind, const float *plane, long d, long h, long w, long tilesW, long td, long th,
                       float *out, long xiStride, float *scratch, const float *next, long ntd, long nth);
void dro_ws2_input_row_avx512(int kind, const float *plane, long d, long h, long w, long tilesW, long td, long th,
                              float *out, long xiStride, float *scratch, const float *next, long ntd, long nth);

/// The forward's input transform (DRO_WS2_IN_X) of LeakyReLU(v·scale + shift) (a multiply, an add,
/// u·slope where !(u > 0); 0 outside the plane): the activation computed where it is read. AVX-512 only.
void dro_ws2_input_row_activated_avx512(const float *plane, long d, long h, long w, long tilesW, long td,
                                        long th, float *out, long xiStride, float *scratch, const float *next,
                                        long ntd, long nth, float scale, float shift, float slope);

/// Inverse-transforms src[ξ·xiStride + t] into the q×q×(q·tilesW) outputs of tile row (td, th)
/// of one [d, h, w] plane, cropped to the plane, plus `bias`; overwrites them, or with
/// `accumulate` adds the values to them (bias unused). `next` (may be
/// null): the plane of the following call, whose tile row (ntd, nth) is prefetched for writing.
void dro_ws2_output_row(int kind, const float *src, long xiStride, float *plane, long d, long h, long w,
                        long tilesW, long td, long th, float bias, int accumulate, float *scratch, float *next, long ntd,
                        long nth);
void dro_ws2_output_row_avx512(int kind, const float *src, long xiStride, float *plane, long d, long h, long w,
                               long tilesW, long td, long th, float bias, int accumulate, float *scratch, float *next,
                               long ntd, long nth);

/// Transformed weights of w [cout][cin][3][3][3] for output rows co0..<co1 (the GEMM's M rows):
/// forward (dx = 0): u[ξ][co][ci] (M = cout, K = cin) with the forward's G;
/// input gradient (dx = 1): u[ξ][ci][co] (M = cin, K = cout) with its own G; rows are then ci.
/// In Float, axis by axis (entries 0, 1, ½: a rounding per addition).
void dro_ws2_weights(int dx, const float *w, long cout, long cin, float *u, long m0, long m1);
void dro_ws2_weights_avx512(int dx, const float *w, long cout, long cin, float *u, long m0, long m1);

/// dw[co][ci][3][3][3] += Gᵀ dU G per axis, dU [343][cout][cin], for co in co0..<co1 (Float).
void dro_ws2_weight_gradient(const float *du, long cout, long cin, float *dw, long co0, long co1);
void dro_ws2_weight_gradient_avx512(const float *du, long cout, long cin, float *dw, long co0, long co1);

#endif
