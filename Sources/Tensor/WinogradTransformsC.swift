import CKernels

/// The AVX2 Winograd data-side transforms of CKernels (winograd_transforms.c,
/// winograd_tile_transforms.c): 8 tiles per 256-bit vector, the same chunk-buffer layout and the
/// same additions in the same order as the Swift kernels (`WinogradInputTransform.portableRows`,
/// `WinogradTileTransforms.portableOutputRow` / `.portableGradientRow`), so results are
/// bit-identical to them (WinogradTransformCTests compares every bit on awkward shapes).
///
/// Used when the CPU has AVX2 + FMA (`CPUFeatures.avx2FMA`, so not with
/// DRO_PORTABLE_KERNELS=1); the Swift kernels, compiled for baseline x86-64 (SSE, 4 lanes), are
/// the fallback.
enum WinogradTransformsC {
    /// Whether `WinogradInputTransform.rows` / `WinogradTileTransforms.outputRow` / `.gradientRow`
    /// run the C kernels (read once per process).
    static let enabled = CPUFeatures.avx2FMA

    /// Floats of line scratch the C input and gradient transforms need for rows of `tilesW` tiles.
    static func scratchFloats(tilesW: Int) -> Int {
        Int(max(dro_winograd_input_scratch_floats(Int64(tilesW)), dro_winograd_gradient_scratch_floats(Int64(tilesW))))
    }

    /// Columns of one tile row in a chunk buffer, as `WinogradPlan.rowStride`.
    @inline(__always)
    private static func rowStride(tilesW: Int) -> Int {
        (tilesW + WinogradLanes.scalarCount - 1) / WinogradLanes.scalarCount * WinogradLanes.scalarCount
    }

    @inline(__always)
    private static func geometry(d: Int, h: Int, w: Int) -> dro_winograd_geometry {
        let tilesW = (w + 1) / 2
        return dro_winograd_geometry(d: Int64(d), h: Int64(h), w: Int64(w), tilesD: Int64((d + 1) / 2),
                                     tilesH: Int64((h + 1) / 2), tilesW: Int64(tilesW),
                                     rowStride: Int64(rowStride(tilesW: tilesW)))
    }

    /// Same contract as `WinogradInputTransform.rows` (`lines`: the worker's line scratch).
    static func inputRows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                          plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                          lines: UnsafeMutablePointer<Float>) {
        var g = geometry(d: plan.d, h: plan.h, w: plan.w)
        precondition(g.rowStride == Int64(plan.rowStride), "WinogradTransformsC: row stride differs from the plan's")
        dro_winograd_input_rows_avx2(&g, Int64(rows.lowerBound), Int64(rows.upperBound), input, Int64(channel),
                                     Int64(channels), out, Int64(xiStride), lines)
    }

    /// Same contract as `WinogradTileTransforms.outputRow` (no edge or sink buffer needed).
    static func outputRow(src: UnsafePointer<Float>, xiStride: Int, plane: UnsafeMutablePointer<Float>,
                          d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int, bias: Float) {
        var g = geometry(d: d, h: h, w: w)
        dro_winograd_output_row_avx2(&g, src, Int64(xiStride), plane, Int64(td), Int64(th), bias)
    }

    /// Same contract as `WinogradTileTransforms.gradientRow`.
    static func gradientRow(plane: UnsafePointer<Float>, d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int,
                            out: UnsafeMutablePointer<Float>, xiStride: Int, lines: UnsafeMutablePointer<Float>) {
        var g = geometry(d: d, h: h, w: w)
        dro_winograd_gradient_row_avx2(&g, plane, Int64(td), Int64(th), out, Int64(xiStride), lines)
    }
}
