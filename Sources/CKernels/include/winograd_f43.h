#ifndef DRO_WINOGRAD_F43_H
#define DRO_WINOGRAD_F43_H

#include <stdint.h>

/// Winograd F(4×4×4, 3×3×3) data-side transforms of one tile row (td, th) of one channel, AVX2
/// (8 tiles per 256-bit vector). Same layout and the same operations in the same order as the
/// Swift transforms (Sources/Tensor/WinogradF43Transforms.swift), no FMA, so results are
/// bit-identical to them. `vectorTiles`: tilesW rounded up to 8 (scratch row width; the
/// transforms of the input and output gradient store whole vectors, up to vectorTiles columns).
/// `scratch`: 436·vectorTiles + 32 floats. Callers check `dro_cpu_has_avx2_fma()` first; on
/// other architectures these functions do nothing.

/// Bᵀ x B of the 6³ input tiles of row (td, th) of plane [d, h, w] → out[ξ·xiStride + t].
void dro_winograd_f43_input_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                     int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch);

/// Aᵀ m A of the products src[ξ·xiStride + t] of row (td, th) → plane [d, h, w] (+ bias),
/// valid outputs only (overwrites).
void dro_winograd_f43_output_row_avx2(const float *src, int64_t xiStride, float *plane, int64_t d, int64_t h,
                                      int64_t w, int64_t vectorTiles, int64_t td, int64_t th, float bias,
                                      float *scratch);

/// A g Aᵀ of the 4³ output-gradient tiles of row (td, th) of plane [d, h, w] → out[ξ·xiStride + t].
void dro_winograd_f43_gradient_row_avx2(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                        int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch);

/// The same three with AVX-512 (16 tiles per 512-bit vector; winograd_f43_transforms_avx512.c):
/// same arguments, scratch size, columns written and results, bit for bit. The W passes read and
/// write the volume under lane masks (`scratch`'s line buffer is unused). Callers check
/// `dro_cpu_has_avx512()` first.
/// `next`, `ntd`, `nth`: the plane and tile row of the caller's next call of the same function
/// (NULL for none): its voxel lines are prefetched, one per line this call reads or writes (a
/// hint only; results do not depend on it).
void dro_winograd_f43_input_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                       int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch,
                                       const float *next, int64_t ntd, int64_t nth);
/// `dro_winograd_f43_input_row_avx512` of the activation LeakyReLU(plane·scale + shift) (a
/// multiply, an add, then ·slope where the result is not > 0; zero padding stays zero) instead of
/// the plane itself: bit-identical to the plain kernel on the activated plane. Each voxel line is
/// activated into `scratch`'s line buffer (4·vectorTiles + 32 floats ≥ w) before its W pass.
void dro_winograd_f43_input_row_activated_avx512(const float *plane, int64_t d, int64_t h, int64_t w,
                                                 int64_t vectorTiles, int64_t td, int64_t th, float *out,
                                                 int64_t xiStride, float *scratch, const float *next, int64_t ntd,
                                                 int64_t nth, float scale, float shift, float slope);
void dro_winograd_f43_output_row_avx512(const float *src, int64_t xiStride, float *plane, int64_t d, int64_t h,
                                        int64_t w, int64_t vectorTiles, int64_t td, int64_t th, float bias,
                                        float *scratch, float *next, int64_t ntd, int64_t nth);
void dro_winograd_f43_gradient_row_avx512(const float *plane, int64_t d, int64_t h, int64_t w, int64_t vectorTiles,
                                          int64_t td, int64_t th, float *out, int64_t xiStride, float *scratch,
                                          const float *next, int64_t ntd, int64_t nth);


/// The same three on a group of `count` consecutive tile rows first … first + count − 1 of
/// channel `channel` of a volume [n, channels, d, h, w] (rows numbered like
/// `WinogradF43Plan.decode`: n, then td, then th), whose tiles share `lanes` (8 or 16) vector
/// lanes: row k in lanes [k·tilesW, (k + 1)·tilesW). tilesW (= ⌈w / 4⌉) is 4 or 8 and
/// count·tilesW ≤ lanes. Results per row are bit-identical to the one-row transforms'; tile
/// t of row k is column k·tilesW + t of out (src), and columns [0, lanes) are written (those past
/// count·tilesW: transforms of zeros). `scratch`: 436·lanes + 32 floats. The output transform
/// writes the valid voxels of each row's own lines (+ bias). `nextChannel`, `nextFirst`,
/// `nextCount`: the caller's next group (nextCount 0: none), prefetched as by the one-row kernels.
void dro_winograd_f43_input_rows_avx512(const float *volume, int64_t channels, int64_t channel, int64_t d, int64_t h,
                                        int64_t w, int64_t tilesW, int64_t lanes, int64_t first, int64_t count,
                                        float *out, int64_t xiStride, float *scratch, int64_t nextChannel,
                                        int64_t nextFirst, int64_t nextCount);
void dro_winograd_f43_output_rows_avx512(const float *src, int64_t xiStride, float *volume, int64_t channels,
                                         int64_t channel, int64_t d, int64_t h, int64_t w, int64_t tilesW,
                                         int64_t lanes, int64_t first, int64_t count, float bias, float *scratch,
                                         int64_t nextChannel, int64_t nextFirst, int64_t nextCount);
void dro_winograd_f43_gradient_rows_avx512(const float *volume, int64_t channels, int64_t channel, int64_t d,
                                           int64_t h, int64_t w, int64_t tilesW, int64_t lanes, int64_t first,
                                           int64_t count, float *out, int64_t xiStride, float *scratch,
                                           int64_t nextChannel, int64_t nextFirst, int64_t nextCount);

#endif
