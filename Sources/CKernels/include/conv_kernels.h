#ifndef DRO_CONV_KERNELS_H
#define DRO_CONV_KERNELS_H

/// Convolution kernels compiled per function for AVX2 + FMA (`__attribute__((target("avx2,fma")))`).
/// Call them only when `dro_cpu_has_avx2_fma()` is 1 (Swift: `CPUFeatures.avx2FMA`); the Swift /
/// OpenBLAS paths in Sources/Tensor are the fallback and the oracle. Tensors are NCDHW Float32,
/// W fastest; every "rows" or "groups" range lets the Swift caller split the work over threads.

/// Sizes of one 3D volume and of the convolution's output (cubic 3×3×3 kernel).
typedef struct {
    long inD, inH, inW;
    long outD, outH, outW;
} dro_conv_dims;

/// im2col of a 3×3×3, stride-2, padding-1 convolution over a tile of output voxels
/// [v0, v0 + count) of ONE sample x [Cin, inD, inH, inW]. Writes the column rows of the row
/// groups [group0, group1), group = ci·9 + kd·3 + kh (its rows are 3·group + kw, kw = 0, 1, 2)
/// of col [Cin·27, count]. Same layout and same values as the Swift `Im2col.fill`.
void dro_im2col_s2k3p1_avx2(const float *x, dro_conv_dims dims, long v0, long count,
                            float *col, long group0, long group1);

/// Adjoint of the above (col2im): adds the columns col [Cin·27, count] into the sample gradient
/// dx [Cin, inD, inH, inW] for input channels [channel0, channel1). Adds in the same order as the
/// Swift `Im2col.accumulate`, so the result is bit-identical to it.
void dro_col2im_s2k3p1_avx2(const float *col, dro_conv_dims dims, long v0, long count,
                            float *dx, long channel0, long channel1);

/// Forward of a 3×3×3, stride-1, padding-1 convolution with ONE input channel (out dims = in
/// dims): y[n, co] = bias[co] + Σ_tap w[co, tap] · x[n, shifted by tap], for the output rows
/// row = (n·D + d)·H + h in [row0, row1). x [N, 1, D, H, W], w [cout, 27], bias [cout] or NULL,
/// y [N, cout, D, H, W] (overwritten on those rows).
void dro_conv1ch_forward_avx2(const float *x, const float *w, const float *bias, float *y,
                              dro_conv_dims dims, long cout, long row0, long row1);

/// Weight gradient of the same convolution over output rows [row0, row1):
/// partial[co·27 + tap] += Σ dy[n, co, d, h, w] · x[n, d+kd−1, h+kh−1, w+kw−1] (Double sums).
/// dy [N, cout, D, H, W]; partial [cout·27] Doubles owned by the calling worker.
void dro_conv1ch_weight_grad_avx2(const float *x, const float *dy, double *partial,
                                  dro_conv_dims dims, long cout, long row0, long row1);

/// Transposed convolution, kernel 2, stride 2 (dims: the INPUT volume; out = 2× per axis):
/// scatters the GEMM product p [cout·8, tileCount] of input voxels [v0, v0 + tileCount) into
/// y [cout, 2D, 2H, 2W] of one sample, adding bias[co] (NULL: none), for channels
/// [channel0, channel1). Same values as the Swift `ConvTranspose3d.forward` scatter.
void dro_convtranspose_scatter_avx2(const float *p, long tileCount, const float *bias, float *y,
                                    dro_conv_dims dims, long v0, long channel0, long channel1);

/// Its adjoint (backward): p[co·8 + tap, j] = dy[co, output of tap for input voxel v0 + j].
void dro_convtranspose_gather_avx2(const float *dy, float *p, long tileCount, dro_conv_dims dims,
                                   long v0, long channel0, long channel1);


/// Phase split of the polyphase stride-2 convolution (dims: the 3×3×3 stride-2 padding-1 conv):
/// channels [c0, c1) of ONE sample x [cin, inD, inH, inW] into phases [8][cin][volume],
/// volume = (outD+1)(outH+1)(outW+1), phase p = 4·(d parity) + 2·(h parity) + (w parity), each
/// with one leading zero plane / row / column and zeros past the input. A depth slab: dims.outD =
/// the slab's output planes, `first` = its first output plane; phase plane i is the padded plane
/// first + i (input planes 2(first + i − 1) + parity; plane 0 of the whole volume is the zero
/// padding). Whole volume: first = 0. Same values as the Swift `ConvPolyphase.split`.
void dro_polyphase_split_avx2(const float *x, dro_conv_dims dims, long cin, float *phases, long first,
                              long c0, long c1);

/// Its adjoint for the input gradient: dx rows of channels [c0, c1) = (or += when accumulate)
/// the phase entries of their voxels (padding entries dropped), for the phase planes 1 ..< outD + 1
/// of the slab (dims.outD, `first` as in the split), i.e. the dx planes 2·first ..< 2·(first + outD).
/// Same additions in the same order as the Swift `ConvPolyphase.merge`.
void dro_polyphase_merge_avx2(const float *phases, dro_conv_dims dims, long cin, long first, float *dx,
                              long accumulate, long c0, long c1);

/// The merge of one phase plane: plane [8][cin][(outH+1)(outW+1)] holds padded plane i of every
/// phase's gradient; writes (or adds into, when accumulate) the dx planes 2(i − 1) and 2(i − 1) + 1
/// that lie in the volume, all channels. Same values as `dro_polyphase_merge_avx2` on those planes.
void dro_polyphase_merge_plane_avx2(const float *plane, dro_conv_dims dims, long cin, long i, float *dx,
                                    long accumulate);

/// Direct products of the polyphase stride-2 convolution with AVX-512 F (call only when
/// `dro_cpu_has_avx512()` is 1; conv_polyphase_avx512.c). `rows` / `brows` are arrays
/// of row pointers (each row read at columns [n0, n1)).
/// rows_gemm: c[i·ldc + (n − n0)] = Σ_{p<k} A[p, i] · rows[p][n] for i < m, n in [n0, n1)
/// (overwritten); A packed per block of 8 rows i: block b at a + 8·b·k, laid out [k][8] (rows of
/// a last, partial block padded with anything).
void dro_polyphase_rows_gemm_avx512(long m, long k, const float *a, const float *const *rows,
                                    long n0, long n1, float *c, long ldc);
/// The same products and results (bit for bit), prefetching the B lines of the next column block /
/// K chunk during the last row block of the current one.
void dro_polyphase_rows_gemm_prefetch_avx512(long m, long k, const float *a, const float *const *rows,
                                             long n0, long n1, float *c, long ldc);
/// dw: c[p·ldc + i] += Σ_{n in [n0, n1)} at[n·lda + i] · brows[p][n] for i < m, p in [p0, p1)
/// (weight gradient; A given transposed: output channels contiguous per column).
void dro_polyphase_dw_avx512(long m, const float *at, long lda, const float *const *brows, long n0, long n1,
                             float *c, long ldc, long p0, long p1);

#endif
