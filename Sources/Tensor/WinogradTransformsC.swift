import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The AVX2 Winograd data-side transforms of CKernels (winograd_transforms.c,
/// winograd_tile_transforms.c): 8 tiles per 256-bit vector, the same chunk-buffer layout and the
/// same additions in the same order as the Swift kernels (`WinogradInputTransform.portableRows`,
/// `WinogradTileTransforms.portableOutputRow` / `.portableGradientRow`), so results are
/// bit-identical to them (WinogradTransformCTests compares every bit on awkward shapes).
///
/// AVX-512 (16 tiles per vector) when the CPU has it, else AVX2 + FMA (8 tiles), else — and with
/// DRO_PORTABLE_KERNELS=1 — the Swift kernels, compiled for baseline x86-64 (SSE, 4 lanes).
/// AVX-512 is taken where available: it is the fastest for the input and output transforms and
/// level with AVX2 for the gradient, both well ahead of Swift (ns per tile and channel, from
/// WinogradTransformCBenchmarkTests: docs/performance.md, "Winograd transforms in C").
enum WinogradTransformsC {
    /// The instruction set of a C kernel.
    enum Kernel { case avx2, avx512 }

    /// The C kernel `WinogradInputTransform.rows` / `WinogradTileTransforms.outputRow` /
    /// `.gradientRow` run, nil for the Swift fallback (read once per process). AVX-512 wherever
    /// the CPU has it, also under OpenBLAS's AVX2 (Haswell) GEMMs: there too the 64³ layers ran
    /// fastest with AVX-512 transforms, then AVX2, then Swift (WinogradBenchmarkTests:
    /// docs/performance.md, "Winograd transforms in C"), so the clock penalty 512-bit code can
    /// cause does not outweigh its gain here. DRO_WINOGRAD_TRANSFORMS=swift|avx2|avx512
    /// overrides (within what the CPU has), to measure.
    static let preferred: Kernel? = {
        let avx512 = CPUFeatures.avx512 ? Kernel.avx512 : nil, avx2 = CPUFeatures.avx2FMA ? Kernel.avx2 : nil
        switch getenv(overrideVariable).map({ String(cString: $0) }) {
        case "swift": return nil
        case "avx2": return avx2
        default: return avx512 ?? avx2
        }
    }()

    /// Environment variable that picks the transforms' kernel (measurements only).
    static let overrideVariable = "DRO_WINOGRAD_TRANSFORMS"

    /// Whether the dispatchers run a C kernel.
    static let enabled = preferred != nil

    /// Floats of line scratch every C input transform needs (the others need none) for rows of `tilesW` tiles.
    static func scratchFloats(tilesW: Int) -> Int {
        let t = Int64(tilesW)
        return Int(max(dro_winograd_input_scratch_floats(t), dro_winograd_input_scratch_floats_avx512(t)))
    }

    /// Columns of one tile row in a chunk buffer of a padded plan (`WinogradPlan.rowStride`).
    @inline(__always)
    static func paddedRowStride(tilesW: Int) -> Int {
        (tilesW + WinogradLanes.scalarCount - 1) / WinogradLanes.scalarCount * WinogradLanes.scalarCount
    }

    /// `rowStride`: the plan's (nil: the padded one). The AVX2 kernels need it padded.
    @inline(__always)
    private static func geometry(d: Int, h: Int, w: Int, rowStride: Int?) -> dro_winograd_geometry {
        let tilesW = (w + 1) / 2
        return dro_winograd_geometry(d: Int64(d), h: Int64(h), w: Int64(w), tilesD: Int64((d + 1) / 2),
                                     tilesH: Int64((h + 1) / 2), tilesW: Int64(tilesW),
                                     rowStride: Int64(rowStride ?? paddedRowStride(tilesW: tilesW)))
    }

    /// Same contract as `WinogradInputTransform.rows` (`lines`: the worker's line scratch).
    static func inputRows(_ rows: Range<Int>, input: UnsafePointer<Float>, channel: Int, channels: Int,
                          plan: WinogradPlan, out: UnsafeMutablePointer<Float>, xiStride: Int,
                          lines: UnsafeMutablePointer<Float>, kernel: Kernel? = preferred) {
        var g = geometry(d: plan.d, h: plan.h, w: plan.w, rowStride: plan.rowStride)
        precondition(kernel == .avx512 || !plan.unpadded, "WinogradTransformsC: unpadded rows need the AVX-512 kernels")
        let run = kernel == .avx512 ? dro_winograd_input_rows_avx512 : dro_winograd_input_rows_avx2
        run(&g, Int64(rows.lowerBound), Int64(rows.upperBound), input, Int64(channel), Int64(channels), out,
            Int64(xiStride), lines)
    }

    /// Same contract as `WinogradTileTransforms.outputRow` (no edge or sink buffer needed).
    static func outputRow(src: UnsafePointer<Float>, xiStride: Int, plane: UnsafeMutablePointer<Float>,
                          d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int, bias: Float,
                          rowStride: Int? = nil, kernel: Kernel? = preferred) {
        var g = geometry(d: d, h: h, w: w, rowStride: rowStride)
        let run = kernel == .avx512 ? dro_winograd_output_row_avx512 : dro_winograd_output_row_avx2
        run(&g, src, Int64(xiStride), plane, Int64(td), Int64(th), bias)
    }

    /// Same contract as `WinogradTileTransforms.gradientRow`.
    static func gradientRow(plane: UnsafePointer<Float>, d: Int, h: Int, w: Int, td: Int, th: Int, tilesW: Int,
                            out: UnsafeMutablePointer<Float>, xiStride: Int, lines: UnsafeMutablePointer<Float>,
                            rowStride: Int? = nil, kernel: Kernel? = preferred) {
        var g = geometry(d: d, h: h, w: w, rowStride: rowStride)
        let run = kernel == .avx512 ? dro_winograd_gradient_row_avx512 : dro_winograd_gradient_row_avx2
        run(&g, plane, Int64(td), Int64(th), out, Int64(xiStride), lines)
    }
}
