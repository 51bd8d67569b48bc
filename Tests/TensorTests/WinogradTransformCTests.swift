import XCTest
@testable import Tensor

/// The AVX2 and AVX-512 Winograd transforms (CKernels, `WinogradTransformsC`) against the Swift kernels
/// (`portableRows`, `portableOutputRow`, `portableGradientRow`), which are themselves checked
/// against a direct Double convolution in WinogradConv3dTests.
///
/// Tolerance: none — every bit of the whole chunk buffer / output tensor must match. Both sides
/// do the same float additions and subtractions in the same order (no multiplications, so no FMA
/// contraction is possible), and IEEE-754 addition is deterministic; the same holds for the sign
/// of zero (−g is 0 − g in both). Regions a kernel must not write (columns of other rows, voxels
/// outside the volume) are pre-filled with the same sentinel on both sides, so an out-of-row
/// store shows up as a difference too.
final class WinogradTransformCTests: XCTestCase {
    struct Shape { let n, channels, d, h, w: Int }

    /// Odd extents (partial edge tiles), tilesW = 1, 5, 7, 9, 12, 18, 32, 25 (row strides 4, 8, 8,
    /// 12, 12, 20, 32, 28: the last 8-lane vector holds 4 tiles whenever rowStride mod 8 = 4, the
    /// last 16-lane vector 4, 8 or 12), one-voxel axes, batch 2.
    static let shapes = [
        Shape(n: 2, channels: 3, d: 5, h: 7, w: 9),
        Shape(n: 1, channels: 2, d: 1, h: 1, w: 1),
        Shape(n: 2, channels: 4, d: 3, h: 2, w: 13),
        Shape(n: 2, channels: 3, d: 4, h: 5, w: 17),
        Shape(n: 1, channels: 5, d: 3, h: 3, w: 23),
        Shape(n: 2, channels: 2, d: 2, h: 3, w: 35),
        Shape(n: 2, channels: 2, d: 3, h: 4, w: 64),
        Shape(n: 2, channels: 2, d: 3, h: 3, w: 49),
    ]

    /// Default chunks (rows padded: the AVX2 kernels need it), and one-row chunks (many chunks; consecutive-row reuse restarts at each).
    static let tunings = [WinogradTuning(),
                          WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .workersOwnChunks, threads: 2)]

    /// A value no kernel writes, to pre-fill what must stay untouched.
    static let sentinel = Float(bitPattern: 0x7FC0_1234)

    /// Random values in [−1, 1), or small integers (−2 … 2) whose sums cancel exactly, so zeros
    /// of both signs occur.
    static func data(_ count: Int, seed: UInt64, integers: Bool) -> [Float] {
        let values = floats(randomDoubles(count, seed: seed))
        return integers ? values.map { ($0 * 2.5).rounded(.down) } : values
    }

    static func assertBitIdentical(_ a: [Float], _ b: [Float], _ what: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let differing = zip(a, b).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        XCTAssertTrue(differing.isEmpty, "\(what): \(differing.count) of \(a.count) floats differ, first at "
                      + "\(differing.first.map { "\($0.offset): \($0.element.0) vs \($0.element.1)" } ?? "")",
                      file: file, line: line)
    }

    static func scratch(_ plan: WinogradPlan) -> [Float] {
        [Float](repeating: sentinel, count: max(WinogradInputTransform.scratchFloats(tilesW: plan.tilesW),
                                                8 * winogradLineLength(tilesW: plan.tilesW)))
    }

    /// The C kernels this CPU can run (AVX-512 ones only where it has AVX-512).
    static var kernels: [WinogradTransformsC.Kernel] {
        (CPUFeatures.avx2FMA ? [.avx2] : []) + (CPUFeatures.avx512 ? [.avx512] : [])
    }

    override func setUpWithError() throws {
        try XCTSkipUnless(CPUFeatures.avx2FMA, "no AVX2 + FMA on this CPU (or DRO_PORTABLE_KERNELS=1)")
    }

    func testInputTransformMatchesSwift() {
        for kernel in Self.kernels { for (k, s) in Self.shapes.enumerated() { for tuning in Self.tunings { for integers in [false, true] {
            let input = Self.data(s.n * s.channels * s.d * s.h * s.w, seed: UInt64(10 + k), integers: integers)
            let plan = WinogradPlan(batch: s.n, d: s.d, h: s.h, w: s.w, channels: s.channels, tuning: tuning)
            var swift = [Float](repeating: Self.sentinel, count: plan.chunkFloats(channels: s.channels))
            var c = swift, lines = Self.scratch(plan)
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                // The whole chunk, then (as the BLAS-threads split does) the rows from the middle on.
                for part in [rows, (rows.lowerBound + rows.count / 2)..<rows.upperBound] where !part.isEmpty {
                    let offset = (part.lowerBound - rows.lowerBound) * plan.rowStride
                    for ch in 0..<s.channels {
                        let at = ch * plan.channelStride + offset
                        WinogradInputTransform.portableRows(part, input: input, channel: ch, channels: s.channels,
                                                            plan: plan, out: &swift[at], xiStride: plan.componentStride,
                                                            lines: &lines)
                        WinogradTransformsC.inputRows(part, input: input, channel: ch, channels: s.channels, plan: plan,
                                                      out: &c[at], xiStride: plan.componentStride, lines: &lines,
                                                      kernel: kernel)
                    }
                }
                Self.assertBitIdentical(swift, c, "\(kernel) input transform \(s), chunk \(chunk), integers \(integers)")
            }
        } } } }
    }

    func testOutputTransformMatchesSwift() {
        for kernel in Self.kernels { for (k, s) in Self.shapes.enumerated() { for tuning in Self.tunings { for integers in [false, true] {
            let plan = WinogradPlan(batch: s.n, d: s.d, h: s.h, w: s.w, channels: s.channels, tuning: tuning)
            // Products of every channel, padding columns and the stride's slack included.
            let products = Self.data(plan.chunkFloats(channels: s.channels), seed: UInt64(20 + k), integers: integers)
            let bias = Self.data(s.channels, seed: UInt64(30 + k), integers: integers)
            var swift = [Float](repeating: Self.sentinel, count: s.n * s.channels * plan.planeSize)
            var c = swift, lines = Self.scratch(plan)
            var edge = [Float](repeating: 0, count: 4 * WinogradLanes.scalarCount)
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                for co in 0..<s.channels { for row in rows {
                    let (n, td, th) = plan.decode(row: row)
                    let src = co * plan.channelStride + (row - rows.lowerBound) * plan.rowStride
                    let plane = (n * s.channels + co) * plan.planeSize
                    products.withUnsafeBufferPointer { p in
                        WinogradTileTransforms.portableOutputRow(
                            src: p.baseAddress! + src, xiStride: plan.componentStride, plane: &swift[plane],
                            d: s.d, h: s.h, w: s.w, td: td, th: th, tilesW: plan.tilesW, bias: bias[co],
                            edge: &edge, sink: &lines)
                        WinogradTransformsC.outputRow(
                            src: p.baseAddress! + src, xiStride: plan.componentStride, plane: &c[plane],
                            d: s.d, h: s.h, w: s.w, td: td, th: th, tilesW: plan.tilesW, bias: bias[co],
                            kernel: kernel)
                    }
                } }
            }
            XCTAssertFalse(c.contains { $0.bitPattern == Self.sentinel.bitPattern }, "output voxel left unwritten \(s)")
            Self.assertBitIdentical(swift, c, "\(kernel) output transform \(s), integers \(integers)")
        } } } }
    }

    func testGradientTransformMatchesSwift() {
        for kernel in Self.kernels { for (k, s) in Self.shapes.enumerated() { for tuning in Self.tunings { for integers in [false, true] {
            let dy = Self.data(s.n * s.channels * s.d * s.h * s.w, seed: UInt64(40 + k), integers: integers)
            let plan = WinogradPlan(batch: s.n, d: s.d, h: s.h, w: s.w, channels: s.channels, tuning: tuning)
            var swift = [Float](repeating: Self.sentinel, count: plan.chunkFloats(channels: s.channels))
            var c = swift, lines = Self.scratch(plan)
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                for co in 0..<s.channels { for row in rows {
                    let (n, td, th) = plan.decode(row: row)
                    let at = co * plan.channelStride + (row - rows.lowerBound) * plan.rowStride
                    let plane = (n * s.channels + co) * plan.planeSize
                    dy.withUnsafeBufferPointer { p in
                        WinogradTileTransforms.portableGradientRow(
                            plane: p.baseAddress! + plane, d: s.d, h: s.h, w: s.w, td: td, th: th, tilesW: plan.tilesW,
                            out: &swift[at], xiStride: plan.componentStride, lines: &lines)
                        WinogradTransformsC.gradientRow(
                            plane: p.baseAddress! + plane, d: s.d, h: s.h, w: s.w, td: td, th: th, tilesW: plan.tilesW,
                            out: &c[at], xiStride: plan.componentStride, lines: &lines, kernel: kernel)
                    }
                } }
                // The weight gradient sums over padding columns: they must hold zeros.
                for co in 0..<s.channels { for xi in 0..<64 { for r in 0..<rows.count {
                    for t in plan.tilesW..<plan.rowStride {
                        let v = c[co * plan.channelStride + xi * plan.componentStride + r * plan.rowStride + t]
                        XCTAssertEqual(v, 0, "padding column \(t) of \(s)")
                    }
                } } }
                Self.assertBitIdentical(swift, c, "\(kernel) gradient transform \(s), chunk \(chunk), integers \(integers)")
            }
        } } } }
    }
}
