import Common
import XCTest
@testable import Tensor

/// F(2,3) chunk buffers whose rows are tilesW columns wide (`WinogradPlan.rowStride`, unpadded)
/// against the padded layout (rows of whole 4-lane vectors).
///
/// Tolerance: none for the transforms (the AVX-512 kernels do the same additions per tile, only
/// the columns they are stored at change) and none for the forward and input-gradient
/// convolutions (every output element is the same GEMM dot product over K, whatever the column
/// count, and the same output transform). The weight gradient sums over the tiles in chunks and
/// blocks whose boundaries move with the row stride, so it is checked against the Double oracle
/// in WinogradConv3dTests (tunings "default" and "one-row chunks, unpadded rows", 1e-4).
final class WinogradUnpaddedRowsTests: XCTestCase {
    typealias Shape = WinogradConv3dTests.Shape

    /// tilesW 6 (12³-like), 3 (6³-like), 1, 9 and 5 with odd extents; M = 64 runs the packed
    /// AVX-512 GEMM, smaller M OpenBLAS.
    static let shapes = [
        Shape(n: 2, cin: 16, cout: 8, d: 12, h: 12, w: 12),
        Shape(n: 2, cin: 8, cout: 16, d: 6, h: 6, w: 6),
        Shape(n: 1, cin: 3, cout: 5, d: 3, h: 4, w: 1),
        Shape(n: 2, cin: 5, cout: 3, d: 5, h: 3, w: 17),
        Shape(n: 2, cin: 64, cout: 64, d: 6, h: 5, w: 9),
    ]

    static let unpadded = WinogradTuning(unpaddedRows: true)
    static let unpaddedOneRowChunks = WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1,
                                                     threading: .workersOwnChunks, threads: 2, unpaddedRows: true)

    static var avx512Transforms: Bool { WinogradTransformsC.preferred == .avx512 }

    func testPlanLayout() {
        let plan = WinogradPlan(batch: 2, d: 12, h: 12, w: 12, channels: 32, tuning: Self.unpadded)
        let padded = WinogradPlan(batch: 2, d: 12, h: 12, w: 12, channels: 32, tuning: WinogradTuning())
        var blas = Self.unpadded
        blas.threading = .blasThreads
        let split = WinogradPlan(batch: 2, d: 12, h: 12, w: 12, channels: 32, tuning: blas)
        XCTAssertEqual(padded.rowStride, 8)
        XCTAssertEqual(split.rowStride, 8, "rows split over workers keep the padded layout")
        XCTAssertEqual(plan.rowStride, Self.avx512Transforms ? 6 : 8)
        XCTAssertEqual(plan.unpadded, Self.avx512Transforms)
    }

    /// Every (channel, ξ, row, tile) of the AVX-512 input and gradient transforms into an unpadded
    /// chunk buffer equals the Swift kernels' value in the padded one, bit for bit; the columns
    /// after the chunk's last row (the stride's slack) keep their sentinel.
    func testTransformsMatchPaddedLayout() throws {
        try XCTSkipUnless(Self.avx512Transforms, "unpadded rows need the AVX-512 transforms")
        let sentinel = WinogradTransformCTests.sentinel
        for (k, s) in Self.shapes.enumerated() { for tuning in [Self.unpadded, Self.unpaddedOneRowChunks] {
            let channels = s.cin
            let input = WinogradTransformCTests.data(s.n * channels * s.d * s.h * s.w, seed: UInt64(60 + k),
                                                     integers: false)
            let plan = WinogradPlan(batch: s.n, d: s.d, h: s.h, w: s.w, channels: channels, tuning: tuning)
            XCTAssertEqual(plan.rowStride, plan.tilesW)
            var paddedTuning = tuning
            paddedTuning.unpaddedRows = false
            let padded = WinogradPlan(batch: s.n, d: s.d, h: s.h, w: s.w, channels: channels, tuning: paddedTuning)
            var lines = [Float](repeating: 0, count: max(WinogradTransformCTests.scratch(plan).count,
                                                         WinogradTransformCTests.scratch(padded).count))
            // want[(c, ξ, row, t)] from the padded Swift kernels, one row at a time.
            var wantIn = [Float](repeating: .nan, count: channels * 64 * plan.rows * plan.tilesW)
            var wantGrad = wantIn
            var buffer = [Float](repeating: sentinel, count: padded.chunkFloats(channels: 1))
            for c in 0..<channels { for row in 0..<plan.rows {
                WinogradInputTransform.portableRows(row..<(row + 1), input: input, channel: c, channels: channels,
                                                    plan: padded, out: &buffer, xiStride: padded.componentStride,
                                                    lines: &lines)
                for xi in 0..<64 { for t in 0..<plan.tilesW {
                    wantIn[((c * 64 + xi) * plan.rows + row) * plan.tilesW + t] = buffer[xi * padded.componentStride + t]
                } }
                let (n, td, th) = plan.decode(row: row)
                input.withUnsafeBufferPointer { p in
                    WinogradTileTransforms.portableGradientRow(
                        plane: p.baseAddress! + (n * channels + c) * plan.planeSize, d: s.d, h: s.h, w: s.w,
                        td: td, th: th, tilesW: plan.tilesW, out: &buffer, xiStride: padded.componentStride,
                        lines: &lines)
                }
                for xi in 0..<64 { for t in 0..<plan.tilesW {
                    wantGrad[((c * 64 + xi) * plan.rows + row) * plan.tilesW + t] = buffer[xi * padded.componentStride + t]
                } }
            } }
            for chunk in 0..<plan.chunkCount {
                let rows = plan.rowRange(chunk: chunk)
                var gotIn = [Float](repeating: sentinel, count: plan.chunkFloats(channels: channels))
                var gotGrad = gotIn
                for c in 0..<channels {
                    WinogradTransformsC.inputRows(rows, input: input, channel: c, channels: channels, plan: plan,
                                                  out: &gotIn[c * plan.channelStride], xiStride: plan.componentStride,
                                                  lines: &lines, kernel: .avx512)
                    for row in rows {
                        let (n, td, th) = plan.decode(row: row)
                        input.withUnsafeBufferPointer { p in
                            WinogradTransformsC.gradientRow(
                                plane: p.baseAddress! + (n * channels + c) * plan.planeSize, d: s.d, h: s.h, w: s.w,
                                td: td, th: th, tilesW: plan.tilesW,
                                out: &gotGrad[c * plan.channelStride + (row - rows.lowerBound) * plan.rowStride],
                                xiStride: plan.componentStride, lines: &lines, rowStride: plan.rowStride,
                                kernel: .avx512)
                        }
                    }
                }
                var differing = 0, slackWritten = 0
                for c in 0..<channels { for xi in 0..<64 {
                    let base = c * plan.channelStride + xi * plan.componentStride
                    for row in rows { for t in 0..<plan.tilesW {
                        let at = base + (row - rows.lowerBound) * plan.tilesW + t
                        let want = ((c * 64 + xi) * plan.rows + row) * plan.tilesW + t
                        if gotIn[at].bitPattern != wantIn[want].bitPattern { differing += 1 }
                        if gotGrad[at].bitPattern != wantGrad[want].bitPattern { differing += 1 }
                    } }
                    for at in (base + rows.count * plan.tilesW)..<(base + plan.componentStride) {
                        if gotIn[at].bitPattern != sentinel.bitPattern { slackWritten += 1 }
                        if gotGrad[at].bitPattern != sentinel.bitPattern { slackWritten += 1 }
                    }
                } }
                XCTAssertEqual(differing, 0, "\(s) chunk \(chunk): values differ from the padded layout")
                XCTAssertEqual(slackWritten, 0, "\(s) chunk \(chunk): stores past the chunk's last row")
            }
        } }
    }

    /// Forward and input gradient with unpadded rows: every bit as with padded rows (the output
    /// tensors start as NaN, so an unwritten voxel differs too).
    func testConvolutionsBitIdenticalToPadded() throws {
        try XCTSkipUnless(Self.avx512Transforms, "unpadded rows need the AVX-512 transforms")
        var rng = SplitMix64(seed: 17)
        for s in Self.shapes {
            let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
            let w = rng.values(s.cout * s.cin * 27), bias = rng.values(s.cout)
            func run(_ tuning: WinogradTuning) -> ([Float], [Float]) {
                let workspace = Workspace()
                var y = [Float](repeating: .nan, count: dy.count), dx = [Float](repeating: .nan, count: x.count)
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout,
                                             d: s.d, h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                return (y, dx)
            }
            let (wantY, wantX) = run(WinogradTuning())
            for tuning in [Self.unpadded, Self.unpaddedOneRowChunks] {
                let (y, dx) = run(tuning)
                WinogradTransformCTests.assertBitIdentical(wantY, y, "forward \(s)")
                WinogradTransformCTests.assertBitIdentical(wantX, dx, "input gradient \(s)")
            }
        }
    }
}
