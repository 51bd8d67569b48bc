#ifndef DRO_CONV_SMALL_AVX512_H
#define DRO_CONV_SMALL_AVX512_H

#include "conv_kernels.h"

/// Direct AVX-512 F kernels of the transposed convolution 2×2×2 stride 2 and of the 1×1×1
/// convolution with few output channels (conv_small_avx512.c). Call only when
/// `dro_cpu_has_avx512()` is 1 (Swift: `CPUFeatures.avx512`); the GEMM paths in Sources/Tensor
/// stay the fallback. Tensors are NCDHW Float32, W fastest. Work is split by the Swift caller
/// over input rows (row = (n·D + d)·H + h) or voxel ranges.

/// Transposed conv forward, kernel = stride = 2 (dims: the INPUT volume; output 2× per axis):
/// y[n, co, 2d+a, 2h+b, 2w+c] = bias[co] + Σ_ci x[n, ci, d, h, w] · w[ci, co, a, b, c] for the
/// input rows [row0, row1). x [N, cin, D, H, W]; w [cin, cout, 2, 2, 2]; bias [cout] or NULL;
/// y sample stride ySampleStride (≥ cout·8·D·H·W: y may be the first channels of a wider tensor).
void dro_convtranspose_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                      dro_conv_dims dims, long cin, long cout, long ySampleStride,
                                      long row0, long row1);

/// Its backward over the input rows [row0, row1), read in chunks of whole rows:
/// dx[n, ci, d, h, w] = Σ_(co, a, b, c) w[ci, co, a, b, c] · dy[n, co, 2d+a, 2h+b, 2w+c]
/// (OVERWRITTEN; dx NULL: skipped), dwPartial[(ci·cout + co)·8 + tap] += Σ x · dy of that tap and
/// dbPartial[co] += Σ dy (NULL: skipped) over the rows' output voxels, in Double (Float lane sums
/// over ≤ one chunk, then Double). dy sample stride dySampleStride.
void dro_convtranspose_backward_avx512(const float *x, const float *w, const float *dy, float *dx,
                                       double *dwPartial, double *dbPartial, dro_conv_dims dims,
                                       long cin, long cout, long dySampleStride, long row0, long row1);

/// The same backward from packed chunks (conv_transpose_packed_avx512.c): each chunk of up to
/// `chunkVoxels` input voxels (whole rows of one sample) of dy is copied, taps de-interleaved,
/// into a contiguous [cout·8, T] buffer and x transposed into [T, cin]; then
/// dx (OVERWRITTEN; NULL: skipped) = Σ_k w[ci, k] · P[k, ·] over k = co·8 + tap in order, and
/// dwTPartial[k·cin + ci] (TRANSPOSED: [cout·8, cin]) += Σ x · dy of that tap (Float over the
/// chunk's voxels in order, then Double); dbPartial[co] += Σ dy (NULL: skipped).
/// scratch: `dro_convtranspose_backward_packed_scratch(cin, cout, chunkVoxels)` Floats.
void dro_convtranspose_backward_packed_avx512(const float *x, const float *w, const float *dy, float *dx,
                                              double *dwTPartial, double *dbPartial, dro_conv_dims dims,
                                              long cin, long cout, long dySampleStride, long row0, long row1,
                                              long chunkVoxels, float *scratch);
long dro_convtranspose_backward_packed_scratch(long cin, long cout, long chunkVoxels);
/// The forward from packed chunks: per chunk of up to `chunkVoxels` input voxels (whole rows of one
/// sample), P [cout·8, T] = Σ_ci w[ci, ·] · x[ci, chunk] (ci in order) in a buffer, then y's rows
/// from P (taps c = 0 / 1 interleaved, + bias). Same contract as dro_convtranspose_forward_avx512;
/// scratch: `dro_convtranspose_forward_packed_scratch(cin, cout, chunkVoxels)` Floats.
void dro_convtranspose_forward_packed_avx512(const float *x, const float *w, const float *bias, float *y,
                                             dro_conv_dims dims, long cin, long cout, long ySampleStride,
                                             long row0, long row1, long chunkVoxels, float *scratch);
long dro_convtranspose_forward_packed_scratch(long cin, long cout, long chunkVoxels);
/// 1 (default): the packed kernels prefetch the next chunk's dy and x during this chunk's GEMMs.
extern int dro_convt_packed_prefetch;

/// 1×1×1 convolution forward for cout ≤ 16 on ONE sample, voxels [v0, v1):
/// y[c, v] = bias[c] + Σ_ci w[c, ci] · x[ci, v]. x [cin, voxels], y [cout, voxels].
void dro_pointwise_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                  long cin, long cout, long voxels, long v0, long v1);

/// Its backward (cout ≤ 16) on ONE sample, voxels [v0, v1), in one pass over x and dy:
/// dx[ci, v] (= or += when accumulate; dx NULL: skipped) Σ_c w[c, ci] · dy[c, v];
/// dwPartial[c·cin + ci] += Σ_v dy[c, v] · x[ci, v]; dbPartial[c] += Σ_v dy[c, v] (NULL: skipped)
/// (Float lane sums over chunks of 4096 voxels, then Double).
/// packed (cout·4096 Floats, or NULL): each 4096-voxel chunk's dy rows are first copied there,
/// contiguous (same results bit for bit; avoids cache-set conflicts when the channel planes lie a
/// multiple of 4 KiB apart, e.g. at 96³).
void dro_pointwise_backward_avx512(const float *x, const float *w, const float *dy, float *dx, long accumulate,
                                   double *dwPartial, double *dbPartial, long cin, long cout, long voxels,
                                   long v0, long v1, float *packed);

/// `dro_conv1ch_forward_avx2` (conv_kernels.h) with AVX-512 F: same contract, the same values
/// bit for bit (bias, then one FMA per tap in tap order, per output voxel).
void dro_conv1ch_forward_avx512(const float *x, const float *w, const float *bias, float *y,
                                dro_conv_dims dims, long cout, long row0, long row1);

/// `dro_conv1ch_weight_grad_avx2` (conv_kernels.h) with AVX-512 F: same contract, same sums per
/// lane (Float over ≤ 16 rows of 16 lanes, then Double), results equal to Float rounding.
void dro_conv1ch_weight_grad_avx512(const float *x, const float *dy, double *partial,
                                    dro_conv_dims dims, long cout, long row0, long row1);

/// The same weight gradient over groups of up to 4 output rows of one (n, d) plane (each input
/// vector feeds the taps of every row of the group; Float lane sums over ≤ 16 rows, then Double,
/// in a different order than the one-row kernels: equal to Float rounding). bias ≠ 0: also
/// partial[cout·27 + co] += Σ dy[co] over the rows (the bias gradient, in the same pass).
void dro_conv1ch_weight_grad_rows_avx512(const float *x, const float *dy, double *partial,
                                         dro_conv_dims dims, long cout, long row0, long row1, long bias);

#endif
