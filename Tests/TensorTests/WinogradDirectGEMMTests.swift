import CKernels
import Common
import XCTest
import Foundation
@testable import Tensor

/// The AVX-512 direct forward / input-gradient GEMM (CKernels/winograd_gemm_direct_avx512.c:
/// packed weights, tiles loaded from the chunk buffer, next component prefetched): against a
/// Double sum at the edges of its blocks (8-row panels and a row tail, balanced K blocks of
/// ≤ 128, column blocks of ≤ 48 in 1–3 vectors with a masked last one, prefetches into L1 and
/// into L2), bit-identical to the packed kernel (same FMA order); the rule that picks it
/// (`WinogradGEMM.directMode`); and the whole F(4,3) convolution with M = 32-ish passes (where
/// it replaces OpenBLAS) against the direct convolution in Double.
///
/// Tolerances: the kernel test as `WinogradGEMMTests` ((K + 2)·2⁻²³·Σ|terms|); the
/// convolutions 1e-4 × max |reference| as `WinogradF43Tests` (F(4,3) measured 1e-5–3e-5 at
/// 30–40 channels: its transforms have entries up to 8; printed), while a wrong panel, K block,
/// column or component gives errors of the size of the terms.
final class WinogradDirectGEMMTests: XCTestCase {
    typealias Layout = WinogradGEMMTests.Layout
    static let components = WinogradGEMMTests.components
    static let sentinel = WinogradGEMMTests.sentinel

    func skipUnlessAVX512() throws {
        try XCTSkipUnless(WinogradGEMM.isSupported(.avx512), "this CPU lacks AVX-512 (or DRO_PORTABLE_KERNELS=1 is set)")
    }

    /// The kernel called directly, overwriting C and nothing else, on shapes on both sides of
    /// every block edge; the same bits as the packed kernel.
    func testDirectForwardAtBlockEdges() throws {
        try skipUnlessAVX512()
        var seed: UInt64 = 5000
        for cout in [1, 5, 8, 9, 31, 32, 33, 71] { for cin in [1, 7, 32, 33, 64, 128, 129, 300] {
            for tiles in [1, 15, 16, 17, 24, 36, 48, 49, 64, 97, 130] {
                let l = Layout(cout: cout, cin: cin, tiles: tiles)
                seed += 1
                let u = floats(randomDoubles(Self.components * cout * cin, seed: seed))
                let data = floats(randomDoubles(cin * l.ld, seed: seed + 1000))
                var packed = u
                packed.withUnsafeMutableBufferPointer {
                    dro_winograd_pack_weights($0.baseAddress!, cout, cin, Self.components)
                }
                var products = [Float](repeating: Self.sentinel, count: cout * l.ld)
                var reference = products
                products.withUnsafeMutableBufferPointer { c in
                    dro_winograd_gemm_forward_direct_avx512(packed, data, c.baseAddress!, cout, cin, tiles, l.ld,
                                                            l.xiStride, Self.components)
                }
                if let failure = WinogradGEMMTests.forwardMismatch(u: u, data: data, products: products, layout: l) {
                    XCTFail("direct M \(cout) K \(cin) N \(tiles): \(failure)")
                    return
                }
                reference.withUnsafeMutableBufferPointer { c in
                    dro_winograd_gemm_forward_packed_avx512(packed, data, c.baseAddress!, cout, cin, tiles, l.ld,
                                                            l.xiStride, Self.components)
                }
                let differing = zip(products, reference).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(differing, 0, "direct vs packed M \(cout) K \(cin) N \(tiles)")
            }
        } }
    }

    /// Which passes run the direct kernel and read packed weights with the default
    /// `DRO_WINOGRAD_DIRECT` (small): AVX-512 below `packedMinimumRows` keeps `.avx512` (no
    /// OpenBLAS fallback) and reads packed weights; from `packedMinimumRows` on, the packed kernel.
    func testDirectChoiceBelowMinimumRows() throws {
        try XCTSkipIf(getenv(WinogradGEMM.directVariable) != nil, "DRO_WINOGRAD_DIRECT is set")
        try XCTSkipIf(getenv(WinogradGEMM.packedRowsVariable) != nil, "DRO_WINOGRAD_PACKED_ROWS is set")
        XCTAssertEqual(WinogradGEMM.directMode, .small)
        for (rows, direct) in [(1, true), (16, true), (32, true), (63, true), (64, false), (256, false)] {
            XCTAssertEqual(WinogradGEMM.usesDirect(cout: rows), direct, "M = \(rows)")
            XCTAssertTrue(WinogradGEMM.readsPackedWeights(.avx512, cout: rows), "M = \(rows)")
            XCTAssertEqual(WinogradGEMM.chooseForRows(rows, automatic: .avx512, requested: false, fallback: .blas,
                                                      direct: WinogradGEMM.usesDirect(cout: rows)), .avx512)
        }
        XCTAssertFalse(WinogradGEMM.readsPackedWeights(.blas, cout: 32))
        XCTAssertFalse(WinogradGEMM.readsPackedWeights(.avx2, cout: 32))
        // Without AVX-512 the direct rule changes nothing.
        XCTAssertEqual(WinogradGEMM.chooseForRows(32, automatic: .avx2, requested: false, fallback: .blas, direct: true),
                       .avx2)
    }

    typealias Shape = WinogradConv3dTests.Shape

    /// M = 32 forward (Cin = 37: not a multiple of the 8-row panel or a vector) and M = 37 input
    /// gradient; rows of 24 tiles (W = 96, the fetal layers' row) and of 3 tiles (W = 9), chunks
    /// of one row and of several rows with a partial last one, batch 2.
    static let shapes = [Shape(n: 2, cin: 37, cout: 32, d: 4, h: 8, w: 96),
                         Shape(n: 2, cin: 32, cout: 33, d: 7, h: 9, w: 9)]

    /// Forward and input gradient with the default (automatic) kernels — the direct one for the
    /// M < 64 passes on AVX-512, OpenBLAS otherwise — and with several chunk sizes, against the
    /// direct convolution in Double; the chunk size does not change the bits (each tile's sum runs
    /// in the same order; checked on AVX-512).
    func testF43ConvolutionWithDirectKernel() throws {
        var rng = SplitMix64(seed: 23)
        for s in Self.shapes {
            let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
            let w = rng.values(s.cout * s.cin * 27), bias = rng.values(s.cout)
            let wantY = WinogradConv3dTests.directForward(s, x: x, w: w, bias: bias)
            let wantDX = WinogradConv3dTests.directInputGradient(s, dy: dy, w: w)
            var results: [[Float]] = []
            for (tiles, threads) in [(64, 1), (1, 2), (48, 3)] {
                let tuning = WinogradTuning(chunkBytes: 0, minimumChunkTiles: tiles, threads: threads)
                var y = [Float](repeating: .nan, count: wantY.count), dx = [Float](repeating: .nan, count: wantDX.count)
                let workspace = WinogradF43Tests.staleWorkspace()
                WinogradF43.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                    h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradF43.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                          h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                let ey = WinogradConv3dTests.relativeError(y, wantY), ex = WinogradConv3dTests.relativeError(dx, wantDX)
                report("direct GEMM F(4,3) \(s.cin)→\(s.cout) w \(s.w), \(tiles) tiles, \(threads) workers y", ey)
                report("direct GEMM F(4,3) \(s.cin)→\(s.cout) w \(s.w), \(tiles) tiles, \(threads) workers dx", ex)
                XCTAssertLessThan(ey, WinogradF43Tests.relativeTolerance, "forward \(s) \(tiles) tiles")
                XCTAssertLessThan(ex, WinogradF43Tests.relativeTolerance, "input gradient \(s) \(tiles) tiles")
                results.append(y + dx)
            }
            // The direct kernel's sums do not depend on the column blocks (OpenBLAS's may).
            guard WinogradGEMM.isSupported(.avx512) else { continue }
            for t in 1..<results.count {
                let differing = zip(results[t], results[0]).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                XCTAssertEqual(differing, 0, "\(s): chunking \(t) against the first")
            }
        }
    }
}
