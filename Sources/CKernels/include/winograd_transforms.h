#ifndef DRO_WINOGRAD_TRANSFORMS_H
#define DRO_WINOGRAD_TRANSFORMS_H

#include <stdint.h>

/// Winograd F(2×2×2, 3×3×3) data-side tile transforms with AVX2 bodies (8 tiles of a row per
/// 256-bit vector) and AVX-512 bodies (16 tiles per 512-bit vector). They produce and read the
/// same chunk buffers as the Swift transforms (Sources/Tensor/WinogradInputTransform.swift,
/// WinogradTileTransforms.swift): component ξ of local tile t at buffer[ξ·xiStride + t],
/// ξ = ξz·16 + ξy·4 + ξw, rows `rowStride` columns apart (tilesW rounded up to 4), padding columns
/// written as the transform of the zero padding. The arithmetic is the Swift code's, operation for
/// operation (only additions and subtractions, no FMA), so results are bit-identical to it.
///
/// Callers must check `dro_cpu_has_avx2_fma()` / `dro_cpu_has_avx512()` (Swift: `CPUFeatures`)
/// first; on other architectures these functions do nothing.

/// Extents of one volume and its tiling into 2×2×2 output tiles (Swift `WinogradPlan`).
typedef struct {
    int64_t d, h, w;                  // voxels
    int64_t tilesD, tilesH, tilesW;   // (extent + 1) / 2
    int64_t rowStride;                // chunk columns per tile row: tilesW rounded up to 4
} dro_winograd_geometry;

/// Floats of line scratch `dro_winograd_input_rows_avx2` needs for rows of `tilesW` tiles.
int64_t dro_winograd_input_scratch_floats(int64_t tilesW);

/// Bᵀ d B of rows [rowBegin, rowEnd) (global row = (n·tilesD + td)·tilesH + th, consecutive) of
/// channel `channel` of input [batch, channels, d, h, w]; the first row's tile 0 goes to column 0
/// of `out`, each later row `rowStride` columns further. `lines`: scratch of
/// `dro_winograd_input_scratch_floats(tilesW)` floats.
void dro_winograd_input_rows_avx2(const dro_winograd_geometry *geometry, int64_t rowBegin, int64_t rowEnd,
                                  const float *input, int64_t channel, int64_t channels,
                                  float *out, int64_t xiStride, float *lines);

/// The same with AVX-512 (16 tiles per vector); callers check `dro_cpu_has_avx512()`.
void dro_winograd_input_rows_avx512(const dro_winograd_geometry *geometry, int64_t rowBegin, int64_t rowEnd,
                                    const float *input, int64_t channel, int64_t channels,
                                    float *out, int64_t xiStride, float *lines);

/// Floats of line scratch `dro_winograd_input_rows_avx512` needs.
int64_t dro_winograd_input_scratch_floats_avx512(int64_t tilesW);

/// Aᵀ m A + bias of one row (td, th) of one channel: reads src[ξ·xiStride + tw] and writes the
/// valid voxels of the 2×2×2 outputs into `plane` [d, h, w]. May read up to 4 floats beyond the
/// row's `rowStride` columns of each component (they must be inside the buffer; a chunk buffer's
/// component stride leaves ≥ 16 floats after the last row).
void dro_winograd_output_row_avx2(const dro_winograd_geometry *geometry, const float *src, int64_t xiStride,
                                  float *plane, int64_t td, int64_t th, float bias);

/// A g Aᵀ of one row (td, th) of one output-gradient plane [d, h, w]: writes component ξ of tile
/// tw at out[ξ·xiStride + tw] for tw < rowStride (zeros in the padding columns). Reads the plane
/// directly (masked loads at the borders): `lines` is unused (kept for the Swift signature).
void dro_winograd_gradient_row_avx2(const dro_winograd_geometry *geometry, const float *plane,
                                    int64_t td, int64_t th, float *out, int64_t xiStride, float *lines);

/// AVX-512 versions (16 tiles per vector; callers check `dro_cpu_has_avx512()`). They read and
/// write the volume under lane masks; the output transform reads nothing beyond a row's
/// rowStride columns.
void dro_winograd_output_row_avx512(const dro_winograd_geometry *geometry, const float *src, int64_t xiStride,
                                    float *plane, int64_t td, int64_t th, float bias);
void dro_winograd_gradient_row_avx512(const dro_winograd_geometry *geometry, const float *plane,
                                      int64_t td, int64_t th, float *out, int64_t xiStride, float *lines);

#endif
