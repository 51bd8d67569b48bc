import CKernels
import Common
import XCTest
import Foundation
@testable import Tensor

/// The AVX-512 forward / input-gradient GEMM with packed weights (CKernels/
/// winograd_gemm_packed_avx512.c, `WinogradGEMM.prepareWeights`): the packing against its index
/// formula, the kernel against a Double sum at the edges of its blocks (8-row panels and a row
/// tail, balanced K blocks of ≤ 128, column blocks of ≤ 48 in 1–3 vectors with a masked last
/// one), and the whole F(2,3) and F(4,3) convolutions with Cout, Cin ≥ 64 (where the AVX-512
/// kernel reads packed weights) against the direct convolution in Double, bit-identical for 1,
/// 2 and 3 workers.
///
/// Tolerances: the kernel test as `WinogradGEMMTests` ((K + 2)·2⁻²³·Σ|terms|: Float32 sums in
/// another order than the reference's); the convolutions 1e-4 × max |reference| as the other
/// Winograd tests (F(2,3) measured 3e-7, F(4,3) 2e-5–3e-5 at 33–41 channels: its transforms have
/// entries up to 8; the tests print the measured errors), while a wrong panel, K block or column gives errors of the size of the terms.
final class WinogradPackedGEMMTests: XCTestCase {
    typealias Layout = WinogradGEMMTests.Layout
    static let components = WinogradGEMMTests.components
    static let sentinel = WinogradGEMMTests.sentinel

    func skipUnlessAVX512() throws {
        try XCTSkipUnless(WinogradGEMM.isSupported(.avx512), "this CPU lacks AVX-512 (or DRO_PORTABLE_KERNELS=1 is set)")
    }

    /// Element (r, k) of the panel of rows i … i + mr − 1 (mr = min(8, cout − i)) lands at
    /// i·cin + k·mr + (r − i) within its component; one row or one column is left as it is.
    func testPackingLayout() {
        for (cout, cin) in [(1, 5), (5, 1), (8, 3), (9, 4), (17, 7), (32, 33)] {
            let count = 2 * cout * cin
            let original = (0..<count).map { Float($0) }
            var packed = original
            packed.withUnsafeMutableBufferPointer { dro_winograd_pack_weights($0.baseAddress!, cout, cin, 2) }
            for xi in 0..<2 { for row in 0..<cout { for k in 0..<cin {
                let i = row / 8 * 8, mr = min(8, cout - i)
                let at = cout == 1 || cin == 1 ? row * cin + k : i * cin + k * mr + (row - i)
                XCTAssertEqual(packed[xi * cout * cin + at], original[xi * cout * cin + row * cin + k],
                               "cout \(cout) cin \(cin) ξ \(xi) (\(row), \(k))")
            } } }
        }
    }

    /// The packed kernel called directly (also below `packedMinimumRows`), overwriting C and
    /// nothing else, on shapes on both sides of every block edge.
    func testPackedForwardAtBlockEdges() throws {
        try skipUnlessAVX512()
        var seed: UInt64 = 3000
        for cout in [1, 5, 8, 9, 16, 33, 71] { for cin in [1, 7, 128, 129, 300] {
            for tiles in [1, 15, 16, 17, 36, 48, 49, 60, 64, 97, 130] {
                let l = Layout(cout: cout, cin: cin, tiles: tiles)
                seed += 1
                let u = floats(randomDoubles(Self.components * cout * cin, seed: seed))
                let data = floats(randomDoubles(cin * l.ld, seed: seed + 1000))
                var packed = u
                packed.withUnsafeMutableBufferPointer {
                    dro_winograd_pack_weights($0.baseAddress!, cout, cin, Self.components)
                }
                var products = [Float](repeating: Self.sentinel, count: cout * l.ld)
                products.withUnsafeMutableBufferPointer { c in
                    dro_winograd_gemm_forward_packed_avx512(packed, data, c.baseAddress!, cout, cin, tiles, l.ld,
                                                            l.xiStride, Self.components)
                }
                if let failure = WinogradGEMMTests.forwardMismatch(u: u, data: data, products: products, layout: l) {
                    XCTFail("packed M \(cout) K \(cin) N \(tiles): \(failure)")
                    return
                }
            }
        } }
    }

    /// Same inputs, same bits: the kernel sums in a fixed order.
    func testPackedForwardIsDeterministic() throws {
        try skipUnlessAVX512()
        let l = Layout(cout: 40, cin: 150, tiles: 101)
        var u = floats(randomDoubles(Self.components * l.cout * l.cin, seed: 81))
        u.withUnsafeMutableBufferPointer { dro_winograd_pack_weights($0.baseAddress!, l.cout, l.cin, Self.components) }
        let data = floats(randomDoubles(l.cin * l.ld, seed: 82))
        var results = [[Float]]()
        for _ in 0..<3 {
            var c = [Float](repeating: 0, count: l.cout * l.ld)
            c.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_forward_packed_avx512(u, data, $0.baseAddress!, l.cout, l.cin, l.tiles, l.ld,
                                                        l.xiStride, Self.components)
            }
            results.append(c)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
    }

    /// The per-shape refinement of the automatic choice: AVX-512 gives way to the fallback below
    /// `packedMinimumRows` (64), and never when the kernel was requested.
    func testChoiceForRows() throws {
        try XCTSkipIf(getenv(WinogradGEMM.packedRowsVariable) != nil, "DRO_WINOGRAD_PACKED_ROWS is set")
        for (rows, want) in [(16, WinogradGEMM.Kernel.blas), (32, .blas), (63, .blas), (64, .avx512), (256, .avx512)] {
            XCTAssertEqual(WinogradGEMM.chooseForRows(rows, automatic: .avx512, requested: false, fallback: .blas), want,
                           "M = \(rows)")
        }
        XCTAssertEqual(WinogradGEMM.chooseForRows(32, automatic: .avx512, requested: false, fallback: .avx2), .avx2)
        XCTAssertEqual(WinogradGEMM.chooseForRows(32, automatic: .avx512, requested: true, fallback: .blas), .avx512,
                       "DRO_WINOGRAD_GEMM=avx512 is taken for every shape")
        XCTAssertEqual(WinogradGEMM.chooseForRows(32, automatic: .avx2, requested: false, fallback: .blas), .avx2)
        XCTAssertEqual(WinogradGEMM.chooseForRows(32, automatic: .blas, requested: false, fallback: .avx2), .blas)
        // Tunings that name a kernel run it for every shape.
        XCTAssertEqual(WinogradTuning(gemm: .avx512).gemmKernel(rows: 40), .avx512)
        XCTAssertEqual(WinogradTuning(gemm: .blas).gemmKernel(rows: 256), .blas)
    }

    /// Which passes read packed weights: ours with AVX-512 from M = 64 rows on (and below where the
    /// direct kernel runs), never the others.
    func testPackedOnlyForAVX512FromMinimumRows() throws {
        try XCTSkipIf(getenv(WinogradGEMM.packedRowsVariable) != nil, "DRO_WINOGRAD_PACKED_ROWS is set")
        XCTAssertEqual(WinogradGEMM.packedMinimumRows, 64)
        XCTAssertTrue(WinogradGEMM.readsPackedWeights(.avx512, cout: WinogradGEMM.packedMinimumRows))
        // Below it only where the direct kernel runs (`DRO_WINOGRAD_DIRECT`, WinogradDirectGEMMTests).
        XCTAssertEqual(WinogradGEMM.readsPackedWeights(.avx512, cout: WinogradGEMM.packedMinimumRows - 1),
                       WinogradGEMM.usesDirect(cout: WinogradGEMM.packedMinimumRows - 1))
        XCTAssertFalse(WinogradGEMM.readsPackedWeights(.blas, cout: 256))
        XCTAssertFalse(WinogradGEMM.readsPackedWeights(.avx2, cout: 256))
    }

    typealias Shape = WinogradConv3dTests.Shape

    /// Cout ≠ Cin, both ≥ `packedMinimumRows` and not multiples of 8 (65 → 71 forward, 71 → 65
    /// input gradient: both directions read packed weights, with a row tail), odd extents, batch 2.
    static let shape = Shape(n: 2, cin: 65, cout: 71, d: 5, h: 6, w: 7)

    /// Forward and input gradient of `tile` with the AVX-512 GEMMs against the direct convolution
    /// in Double; 1, 2 and 3 workers with one-row chunks give the same bits.
    func checkConvolution(_ tile: WinogradTile) throws {
        try skipUnlessAVX512()
        let s = Self.shape
        var rng = SplitMix64(seed: 17)
        let x = rng.values(s.n * s.cin * s.d * s.h * s.w), dy = rng.values(s.n * s.cout * s.d * s.h * s.w)
        let w = rng.values(s.cout * s.cin * 27), bias = rng.values(s.cout)
        let wantY = WinogradConv3dTests.directForward(s, x: x, w: w, bias: bias)
        let wantDX = WinogradConv3dTests.directInputGradient(s, dy: dy, w: w)
        var results: [[Float]] = []
        for threads in 1...3 {
            let tuning = WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threads: threads, gemm: .avx512)
            var y = [Float](repeating: .nan, count: wantY.count), dx = [Float](repeating: .nan, count: wantDX.count)
            let workspace = Workspace()
            switch tile {
            case .f23:
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                       h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradConv3d.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                             h: s.h, width: s.w, workspace: workspace, tuning: tuning)
            case .f43:
                WinogradF43.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                    h: s.h, width: s.w, workspace: workspace, tuning: tuning)
                WinogradF43.backwardInput(dy: dy, weight: w, dx: &dx, n: s.n, cin: s.cin, cout: s.cout, d: s.d,
                                          h: s.h, width: s.w, workspace: workspace, tuning: tuning)
            }
            let ey = WinogradConv3dTests.relativeError(y, wantY), ex = WinogradConv3dTests.relativeError(dx, wantDX)
            report("packed GEMM \(tile.rawValue) \(threads) workers y", ey)
            report("packed GEMM \(tile.rawValue) \(threads) workers dx", ex)
            XCTAssertLessThan(ey, 1e-4, "\(tile) forward, \(threads) workers")
            XCTAssertLessThan(ex, 1e-4, "\(tile) input gradient, \(threads) workers")
            results.append(y + dx)
        }
        for t in 1..<results.count {
            let differing = zip(results[t], results[0]).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(tile): \(t + 1) workers against 1")
        }
    }

    func testF23ConvolutionWithPackedWeights() throws { try checkConvolution(.f23) }
    func testF43ConvolutionWithPackedWeights() throws { try checkConvolution(.f43) }
}
