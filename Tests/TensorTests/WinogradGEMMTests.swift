import XCTest
import CKernels
@testable import Tensor

/// The C kernels of WinogradGEMM (and its OpenBLAS path) against a Double reference computed in
/// this file, on shapes that are not multiples of any register block (AVX2 blocks: 6 × 16 forward,
/// 3 × 4 weight; AVX-512: 8 × 32 forward, 6, 8, 12 or 24 rows × 64, 48, 32 or 16 Cin weight, tiles
/// in blocks of 16 and 128), with several components and padded strides, plus the
/// whole Winograd convolution run with each kernel.
///
/// Tolerance: each result is a Float32 sum of K products (plus, for the weight gradient, the
/// value it accumulates into), rounded in an order that differs between kernels. The standard
/// bound for such a sum is |error| ≤ γ_K · Σ|terms| with γ_K ≈ K·u (u = 2⁻²⁴, unit roundoff);
/// we allow (K + 2)·ε with ε = 2⁻²³ = 2u, i.e. twice the bound plus the final rounding. A wrong
/// index, a lost tail column or a missing accumulation gives errors of the size of the terms.
final class WinogradGEMMTests: XCTestCase {
    static let rows = [1, 5, 16, 17, 33]         // M = Cout
    static let depths = [1, 3, 16, 31]           // K = Cin
    static let widths = [1, 7, 8, 9, 127, 130]   // N = tiles
    /// Components per call (the network uses 64; 3 already tests the ξ offsets of every operand).
    static let components = 3
    /// Extra floats past the tiles in each component and channel row: odd, so rows are misaligned.
    static let xiPadding = 5, ldPadding = 3
    /// Sentinel left in every float a forward GEMM must not write (the gaps between rows).
    static let sentinel: Float = -12345

    struct Layout {
        let cout, cin, tiles, xiStride, ld: Int
        init(cout: Int, cin: Int, tiles: Int) {
            self.cout = cout; self.cin = cin; self.tiles = tiles
            xiStride = tiles + WinogradGEMMTests.xiPadding
            ld = WinogradGEMMTests.components * xiStride + WinogradGEMMTests.ldPadding
        }
        func at(_ row: Int, _ xi: Int, _ t: Int) -> Int { row * ld + xi * xiStride + t }
    }

    func skipUnlessSupported(_ kernel: WinogradGEMM.Kernel) throws {
        try XCTSkipUnless(WinogradGEMM.isSupported(kernel),
                          "this CPU lacks \(kernel.rawValue) (or DRO_PORTABLE_KERNELS=1 is set)")
    }

    /// Checks `kernel`'s forward on every shape; returns nothing, fails with the worst case.
    func checkForward(_ kernel: WinogradGEMM.Kernel) {
        var seed: UInt64 = 1
        for cout in Self.rows { for cin in Self.depths { for tiles in Self.widths {
            let l = Layout(cout: cout, cin: cin, tiles: tiles)
            seed += 1
            let u = floats(randomDoubles(Self.components * cout * cin, seed: seed))
            let data = floats(randomDoubles(cin * l.ld, seed: seed + 1000))
            var products = [Float](repeating: Self.sentinel, count: cout * l.ld)
            // The kernel's own layout of U (packed in place where it reads packed weights).
            var prepared = u
            prepared.withUnsafeMutableBufferPointer {
                WinogradGEMM.prepareWeights(kernel, u: $0.baseAddress!, cout: cout, cin: cin,
                                            components: Self.components)
            }
            products.withUnsafeMutableBufferPointer { c in
                WinogradGEMM.forward(kernel, u: prepared, data: data, products: c.baseAddress!, cout: cout, cin: cin,
                                     tiles: tiles, ld: l.ld, xiStride: l.xiStride, components: Self.components)
            }
            if let failure = Self.forwardMismatch(u: u, data: data, products: products, layout: l) {
                XCTFail("\(kernel) forward M \(cout) K \(cin) N \(tiles): \(failure)")
                return
            }
        } } }
    }

    /// C = U·data per component against a Double sum of the same Float operands, within
    /// (K + 2)·2⁻²³·Σ|terms| (see the class comment), and every float outside C still `sentinel`.
    /// Returns the first failure, or nil. `u` is the unpacked Cout × Cin weights per component.
    static func forwardMismatch(u: [Float], data: [Float], products: [Float], layout l: Layout) -> String? {
        var written = Set<Int>()
        for xi in 0..<components { for i in 0..<l.cout { for t in 0..<l.tiles {
            var sum = 0.0, magnitude = 0.0
            for k in 0..<l.cin {
                let term = Double(u[(xi * l.cout + i) * l.cin + k]) * Double(data[l.at(k, xi, t)])
                sum += term; magnitude += abs(term)
            }
            let index = l.at(i, xi, t)
            written.insert(index)
            let bound = Double(l.cin + 2) * Double(Float.ulpOfOne) * magnitude
            if abs(Double(products[index]) - sum) > bound {
                return "ξ \(xi) [\(i), \(t)]: \(products[index]) vs \(sum), bound \(bound)"
            }
        } } }
        for (index, value) in products.enumerated() where !written.contains(index) && value != sentinel {
            return "wrote outside C at \(index)"
        }
        return nil
    }

    /// Checks `kernel`'s weight gradient (accumulating into random dU) on every shape.
    func checkWeight(_ kernel: WinogradGEMM.Kernel, rows: [Int] = WinogradGEMMTests.rows,
                     depths: [Int] = WinogradGEMMTests.depths, widths: [Int] = WinogradGEMMTests.widths) {
        var seed: UInt64 = 500
        for cout in rows { for cin in depths { for tiles in widths {
            let l = Layout(cout: cout, cin: cin, tiles: tiles)
            seed += 1
            let products = floats(randomDoubles(cout * l.ld, seed: seed))
            let data = floats(randomDoubles(cin * l.ld, seed: seed + 1000))
            let initial = floats(randomDoubles(Self.components * cout * cin, seed: seed + 2000))
            var du = initial
            du.withUnsafeMutableBufferPointer { out in
                WinogradGEMM.weight(kernel, products: products, data: data, du: out.baseAddress!, cout: cout,
                                    cin: cin, tiles: tiles, ld: l.ld, xiStride: l.xiStride,
                                    components: Self.components)
            }
            for xi in 0..<Self.components { for i in 0..<cout { for j in 0..<cin {
                let index = (xi * cout + i) * cin + j
                var sum = Double(initial[index]), magnitude = abs(sum)
                for t in 0..<tiles {
                    let term = Double(products[l.at(i, xi, t)]) * Double(data[l.at(j, xi, t)])
                    sum += term; magnitude += abs(term)
                }
                let bound = Double(tiles + 2) * Double(Float.ulpOfOne) * magnitude
                if abs(Double(du[index]) - sum) > bound {
                    XCTFail("\(kernel) weight M \(cout) K \(cin) N \(tiles) ξ \(xi) [\(i), \(j)]: "
                            + "\(du[index]) vs \(sum), bound \(bound)")
                    return
                }
            } } }
        } } }
    }

    /// The AVX-512 weight-gradient kernel's own blocking (outer products: Cin in blocks of 32
    /// columns with a last block of ≤ 16 taking one vector, Cout in balanced blocks of ≤ 12 or ≤ 24
    /// rows, tiles in blocks of 128 transposed 16 at a time): Cin and Cout on both sides of every
    /// block edge, tiles on both sides of 16 and 128, each accumulating into random dU.
    func testAVX512WeightAtBlockEdges() throws {
        try skipUnlessSupported(.avx512)
        checkWeight(.avx512, rows: [1, 8, 12, 13, 24, 25, 40], depths: [15, 16, 17, 32, 33, 47, 48, 65],
                    widths: [1, 15, 16, 17, 64, 128, 129, 257])
    }

    /// The AVX-512 weight-gradient kernel gives the same bits from call to call (it sums in a
    /// fixed order; the layers' fixed chunk → worker assignment relies on that).
    func testAVX512WeightIsDeterministic() throws {
        try skipUnlessSupported(.avx512)
        let l = Layout(cout: 37, cin: 45, tiles: 150)
        let products = floats(randomDoubles(l.cout * l.ld, seed: 71))
        let data = floats(randomDoubles(l.cin * l.ld, seed: 72))
        let initial = floats(randomDoubles(Self.components * l.cout * l.cin, seed: 73))
        var results = [[Float]]()
        for _ in 0..<3 {
            var du = initial
            du.withUnsafeMutableBufferPointer { out in
                WinogradGEMM.weight(.avx512, products: products, data: data, du: out.baseAddress!, cout: l.cout,
                                    cin: l.cin, tiles: l.tiles, ld: l.ld, xiStride: l.xiStride,
                                    components: Self.components)
            }
            results.append(du)
        }
        XCTAssertEqual(results[0], results[1])
        XCTAssertEqual(results[0], results[2])
        XCTAssertNotEqual(results[0], initial, "the kernel must accumulate into dU")
    }

    /// The AVX-512 weight gradient with its dU prefetch (the default) and without
    /// (`DRO_WINOGRAD_DU_PREFETCH=off`) give the same bits on shapes around every block edge
    /// (the prefetch covers the next Cout block's rows, the first block's before each Cin panel),
    /// and the default path is the one the Double reference checks above
    /// (`testAVX512WeightAtBlockEdges`).
    func testAVX512WeightPrefetchVariantsAgree() throws {
        try skipUnlessSupported(.avx512)
        var seed: UInt64 = 900
        for (cout, cin, tiles) in [(1, 1, 1), (13, 17, 50), (25, 33, 129), (32, 64, 48), (64, 128, 60), (40, 65, 257)] {
            let l = Layout(cout: cout, cin: cin, tiles: tiles)
            seed += 3
            let products = floats(randomDoubles(cout * l.ld, seed: seed))
            let data = floats(randomDoubles(cin * l.ld, seed: seed + 1))
            let initial = floats(randomDoubles(Self.components * cout * cin, seed: seed + 2))
            var plain = initial, prefetched = initial
            plain.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_weight_avx512(products, data, $0.baseAddress!, cout, cin, tiles, l.ld, l.xiStride,
                                                Self.components)
            }
            prefetched.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_weight_prefetch_avx512(products, data, $0.baseAddress!, cout, cin, tiles, l.ld,
                                                         l.xiStride, Self.components)
            }
            XCTAssertEqual(plain, prefetched, "M \(cout) K \(cin) N \(tiles)")
            XCTAssertNotEqual(plain, initial)
        }
    }

    /// The wide AVX-512 weight kernel's own blocking (the default, `WinogradGEMM.weightBlocks`):
    /// Cin in blocks of 64 columns (4 vectors × 6 rows; a last block of 1–4 vectors with 24, 12,
    /// 8 or 6 rows, its last vector masked), two-vector blocks of 32 for tile blocks of more than
    /// 80 tiles, tiles in blocks of 128. Against the Double reference (`checkWeight`), Cin, Cout
    /// and tiles on both sides of every edge.
    func testAVX512WideWeightAtBlockEdges() throws {
        try skipUnlessSupported(.avx512)
        try XCTSkipUnless(WinogradGEMM.weightBlocks == .wide, "DRO_WINOGRAD_WEIGHT_KERNEL selects another kernel")
        checkWeight(.avx512, rows: [1, 6, 7, 13, 32], depths: [48, 49, 63, 64, 65, 96, 97, 128, 129],
                    widths: [17, 60, 80, 81, 129])
    }

    /// The wide AVX-512 weight kernel and the older two-vector one (`DRO_WINOGRAD_WEIGHT_KERNEL=outer`,
    /// with and without its dU prefetch) give the same bits: same tile blocks and the same FMA chain
    /// per dU element, only the register blocks differ. Shapes around both kernels' block edges
    /// and the network's chunk shapes (F(4,3): 32–128 channels, 48–60 tiles).
    func testAVX512WideWeightMatchesOuterBitwise() throws {
        try skipUnlessSupported(.avx512)
        var seed: UInt64 = 1900
        for (cout, cin, tiles) in [(1, 1, 1), (7, 65, 81), (13, 17, 50), (25, 97, 129), (32, 64, 48), (64, 128, 60),
                                   (128, 128, 60), (40, 72, 257), (6, 200, 80)] {
            let l = Layout(cout: cout, cin: cin, tiles: tiles)
            seed += 3
            let products = floats(randomDoubles(cout * l.ld, seed: seed))
            let data = floats(randomDoubles(cin * l.ld, seed: seed + 1))
            let initial = floats(randomDoubles(Self.components * cout * cin, seed: seed + 2))
            var wide = initial, outer = initial, plain = initial
            wide.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_weight_wide_avx512(products, data, $0.baseAddress!, cout, cin, tiles, l.ld,
                                                     l.xiStride, Self.components)
            }
            outer.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_weight_prefetch_avx512(products, data, $0.baseAddress!, cout, cin, tiles, l.ld,
                                                         l.xiStride, Self.components)
            }
            plain.withUnsafeMutableBufferPointer {
                dro_winograd_gemm_weight_avx512(products, data, $0.baseAddress!, cout, cin, tiles, l.ld, l.xiStride,
                                                Self.components)
            }
            XCTAssertEqual(wide, outer, "M \(cout) K \(cin) N \(tiles)")
            XCTAssertEqual(wide, plain, "M \(cout) K \(cin) N \(tiles)")
            XCTAssertNotEqual(wide, initial)
        }
    }

    func testAVX2Forward() throws { try skipUnlessSupported(.avx2); checkForward(.avx2) }
    func testAVX2Weight() throws { try skipUnlessSupported(.avx2); checkWeight(.avx2) }
    func testAVX512Forward() throws { try skipUnlessSupported(.avx512); checkForward(.avx512) }
    func testAVX512Weight() throws { try skipUnlessSupported(.avx512); checkWeight(.avx512) }
    func testBLASForward() { checkForward(.blas) }
    func testBLASWeight() { checkWeight(.blas) }

    /// The forward / input-gradient rule: ours with AVX-512 wherever the CPU has it (also against
    /// OpenBLAS's AVX-512 kernels), else ours with AVX2 unless OpenBLAS runs AVX-512 kernels.
    func testAutomaticChoice() {
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: true, avx512: true, blasCore: "Haswell"), .avx512)
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: true, avx512: false, blasCore: "Prescott"), .avx2)
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: true, avx512: true, blasCore: "Cooperlake"), .avx512)
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: true, avx512: true, blasCore: "SkylakeX"), .avx512)
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: true, avx512: false, blasCore: "SkylakeX"), .blas)
        XCTAssertEqual(WinogradGEMM.choose(requested: .blas, avx2FMA: true, avx512: true, blasCore: "Cooperlake"),
                       .blas)
        XCTAssertEqual(WinogradGEMM.choose(requested: nil, avx2FMA: false, avx512: false, blasCore: "Haswell"), .blas)
        XCTAssertEqual(WinogradGEMM.choose(requested: .avx512, avx2FMA: true, avx512: true, blasCore: "Haswell"),
                       .avx512)
        XCTAssertEqual(WinogradGEMM.choose(requested: .avx512, avx2FMA: true, avx512: false, blasCore: "Haswell"),
                       .blas, "a kernel the CPU lacks must fall back to OpenBLAS")
    }

    /// The weight gradient's rule (the forward's): ours with AVX-512 wherever the CPU has it (also
    /// against OpenBLAS's AVX-512 kernels), else ours with AVX2 or OpenBLAS; a request wins when
    /// supported.
    func testAutomaticWeightChoice() {
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: nil, avx2FMA: true, avx512: true, blasCore: "Cooperlake"),
                       .avx512)
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: nil, avx2FMA: true, avx512: true, blasCore: "Haswell"),
                       .avx512)
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: nil, avx2FMA: true, avx512: false, blasCore: "Haswell"),
                       .avx2)
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: nil, avx2FMA: false, avx512: false, blasCore: "Haswell"),
                       .blas, "no AVX2, no AVX-512 (or DRO_PORTABLE_KERNELS=1): OpenBLAS")
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: .blas, avx2FMA: true, avx512: true, blasCore: "Cooperlake"),
                       .blas)
        XCTAssertEqual(WinogradGEMM.chooseWeight(requested: .avx512, avx2FMA: true, avx512: false, blasCore: "Haswell"),
                       .blas, "a kernel the CPU lacks must fall back to OpenBLAS")
    }

    /// The whole convolution (plan layout, padded rows, several chunks on two workers) with each
    /// supported kernel against the OpenBLAS path. Both are Float32 with K ≤ 16 per GEMM, so
    /// 1e-5 of the largest value leaves an order of magnitude over their rounding differences.
    func testConvolutionWithEachKernelMatchesOpenBLASPath() {
        let (n, cin, cout, d, h, w) = (2, 7, 5, 5, 6, 11)
        let x = floats(randomDoubles(n * cin * d * h * w, seed: 91))
        let dy = floats(randomDoubles(n * cout * d * h * w, seed: 92))
        let weight = floats(randomDoubles(cout * cin * 27, seed: 93))
        let bias = floats(randomDoubles(cout, seed: 94))
        func run(_ kernel: WinogradGEMM.Kernel) -> [Float] {
            let tuning = WinogradTuning(chunkBytes: 0, minimumChunkTiles: 1, threading: .workersOwnChunks,
                                        threads: 2, gemm: kernel)
            let workspace = Workspace()
            var y = [Float](repeating: 0, count: n * cout * d * h * w)
            var dx = [Float](repeating: 0, count: n * cin * d * h * w)
            var dw = [Float](repeating: 0, count: cout * cin * 27)
            WinogradConv3d.forward(x: x, weight: weight, bias: bias, y: &y, n: n, cin: cin, cout: cout,
                                   d: d, h: h, width: w, workspace: workspace, tuning: tuning)
            WinogradConv3d.backwardInput(dy: dy, weight: weight, dx: &dx, n: n, cin: cin, cout: cout,
                                         d: d, h: h, width: w, workspace: workspace, tuning: tuning)
            WinogradConv3d.backwardWeight(x: x, dy: dy, dweight: &dw, dbias: nil, n: n, cin: cin, cout: cout,
                                          d: d, h: h, width: w, workspace: workspace, tuning: tuning)
            return y + dx + dw
        }
        let reference = run(.blas)
        let scale = reference.map { abs($0) }.max() ?? 1
        for kernel in [WinogradGEMM.Kernel.avx2, .avx512] where WinogradGEMM.isSupported(kernel) {
            let got = run(kernel)
            let worst = zip(got, reference).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5 * scale, "\(kernel) convolution differs from OpenBLAS path")
        }
    }
}
