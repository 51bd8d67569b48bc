// Winograd F(4,3) transforms on groups of consecutive tile rows sharing one AVX-512 vector
// (four 4-tile rows of a 16³ layer per 16 lanes; CKernels/winograd_f43_transforms_avx512.c,
// `dro_winograd_f43_*_rows_avx512`): bit-identical to the one-row transforms
// (WinogradF43Transforms.swift), used where `WinogradF43Plan.groupRows` > 1.

import CKernels
#if canImport(Glibc)
import Glibc
#endif

extension WinogradF43Transforms {
    /// The caller's next row group (`inputRows` …), prefetched like `NextRow`; count 0: none.
    struct NextGroup {
        let channel: Int, first: Int, count: Int
    }

    /// Environment variable choosing the row groups (measurements): "off" (one row at a time),
    /// "8" (two 4-tile rows per 256-bit vector), otherwise 16 (four per 512-bit vector: faster
    /// here, docs/performance.md "F(4,3) row groups at 16³"); rows of 8 tiles are grouped two per
    /// 16 lanes only with DRO_WINOGRAD_ROW_GROUPS_32=on (slower here).
    static let rowGroupVariable = "DRO_WINOGRAD_ROW_GROUPS"

    /// Rows per group and vector lanes of the row-group kernels for rows of `tilesW` tiles, nil
    /// for one row at a time: only with the AVX-512 kernels (read once per process).
    static func rowGroup(tilesW: Int) -> (rows: Int, lanes: Int)? {
        guard kernel == .avx512 else { return nil }
        switch tilesW {
        case 4: return rowGroupLanes4.map { ($0 / 4, $0) }
        case 8: return groupRows8 ? (2, 16) : nil
        default: return nil
        }
    }

    private static let rowGroupLanes4: Int? = {
        switch getenv(rowGroupVariable).map({ String(cString: $0) }) {
        case "off": return nil
        case "8": return 8
        default: return 16
        }
    }()

    private static let groupRows8: Bool = getenv(rowGroupVariable + "_32").map { String(cString: $0) } == "on"

    /// Bᵀ x B of rows first ..< first + count (≤ plan.groupRows) of `channel` of `volume` [n,
    /// channels, d, h, w] → out[ξ·xiStride + k·tilesW + t] (columns up to plan.groupLanes).
    @inline(__always)
    static func inputRows(volume: UnsafePointer<Float>, channels: Int, channel: Int, plan: WinogradF43Plan,
                          first: Int, count: Int, out: UnsafeMutablePointer<Float>, xiStride: Int,
                          scratch: UnsafeMutablePointer<Float>, next: NextGroup,
                          lanes: Int? = nil) {
        dro_winograd_f43_input_rows_avx512(volume, Int64(channels), Int64(channel), Int64(plan.d), Int64(plan.h),
                                           Int64(plan.w), Int64(plan.tilesW), Int64(lanes ?? plan.groupLanes), Int64(first),
                                           Int64(count), out, Int64(xiStride), scratch, Int64(next.channel),
                                           Int64(next.first), Int64(next.count))
    }

    /// Aᵀ m A of the products src[ξ·xiStride + k·tilesW + t] of rows first ..< first + count →
    /// their valid voxels of `channel` of `volume` (+ bias).
    @inline(__always)
    static func outputRows(src: UnsafePointer<Float>, xiStride: Int, volume: UnsafeMutablePointer<Float>,
                           channels: Int, channel: Int, plan: WinogradF43Plan, first: Int, count: Int, bias: Float,
                           scratch: UnsafeMutablePointer<Float>, next: NextGroup, lanes: Int? = nil) {
        dro_winograd_f43_output_rows_avx512(src, Int64(xiStride), volume, Int64(channels), Int64(channel),
                                            Int64(plan.d), Int64(plan.h), Int64(plan.w), Int64(plan.tilesW),
                                            Int64(lanes ?? plan.groupLanes), Int64(first), Int64(count), bias, scratch,
                                            Int64(next.channel), Int64(next.first), Int64(next.count))
    }

    /// A g Aᵀ of rows first ..< first + count of `channel` of `volume` → out (as `inputRows`).
    /// `lanes` (all three): the group's lanes when not the plan's (tests).
    @inline(__always)
    static func gradientRows(volume: UnsafePointer<Float>, channels: Int, channel: Int, plan: WinogradF43Plan,
                             first: Int, count: Int, out: UnsafeMutablePointer<Float>, xiStride: Int,
                             scratch: UnsafeMutablePointer<Float>, next: NextGroup,
                             lanes: Int? = nil) {
        dro_winograd_f43_gradient_rows_avx512(volume, Int64(channels), Int64(channel), Int64(plan.d), Int64(plan.h),
                                              Int64(plan.w), Int64(plan.tilesW), Int64(lanes ?? plan.groupLanes), Int64(first),
                                              Int64(count), out, Int64(xiStride), scratch, Int64(next.channel),
                                              Int64(next.first), Int64(next.count))
    }
}
