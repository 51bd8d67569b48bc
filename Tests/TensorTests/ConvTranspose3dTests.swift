import XCTest
@testable import Tensor

final class ConvTranspose3dTests: XCTestCase {
    static let shapes: [(ConvTranspose3dGeometry, tile: Int?)] = [
        (ConvTranspose3dGeometry(batch: 2, inChannels: 3, outChannels: 2, inD: 3, inH: 2, inW: 5), nil),
        (ConvTranspose3dGeometry(batch: 1, inChannels: 4, outChannels: 3, inD: 2, inH: 3, inW: 3), 4),
        // Rows longer than a tile and tiles ending mid-row, batch 2.
        (ConvTranspose3dGeometry(batch: 2, inChannels: 3, outChannels: 5, inD: 2, inH: 3, inW: 7), 5),
        // Per-axis kernel = stride (the general scatter/gather): thick slices on D, on W, stride 1
        // everywhere, and a tile ending mid-row.
        (ConvTranspose3dGeometry(batch: 2, inChannels: 3, outChannels: 2, inD: 3, inH: 2, inW: 5, strideDHW: [1, 2, 2]), nil),
        (ConvTranspose3dGeometry(batch: 1, inChannels: 2, outChannels: 3, inD: 2, inH: 3, inW: 7, strideDHW: [2, 2, 1]), 5),
        (ConvTranspose3dGeometry(batch: 1, inChannels: 2, outChannels: 2, inD: 2, inH: 3, inW: 4, strideDHW: [1, 1, 1]), nil),
        (ConvTranspose3dGeometry(batch: 2, inChannels: 2, outChannels: 2, inD: 2, inH: 2, inW: 3, strideDHW: [2, 1, 2]), 4),
    ]

    /// A hand-worked per-axis case: one input voxel, kernel = stride 1×2×2 (4 taps), w = 1…4,
    /// x = 2, bias 0.5: the output is the 1×2×2 block 2·w + 0.5 in (h, w) raster order.
    func testSingleVoxelPerAxisStride() {
        let g = ConvTranspose3dGeometry(batch: 1, inChannels: 1, outChannels: 1, inD: 1, inH: 1, inW: 1, strideDHW: [1, 2, 2])
        var y = [Float](repeating: 0, count: 4)
        [Float(2)].withPtr { xp in [Float(1), 2, 3, 4].withPtr { wp in [Float(0.5)].withPtr { bp in
            ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace())
        }}}
        XCTAssertEqual(y, [2.5, 4.5, 6.5, 8.5])
        XCTAssertEqual(ConvNaive.convTranspose3d(x: [2.0], w: [1, 2, 3, 4], bias: [0.5], g: g), [2.5, 4.5, 6.5, 8.5])
    }

    /// Against the definition y[2i + t] = b + Σ_ci x[ci, i]·w[ci, co, t] (ConvNaive).
    func testForwardMatchesDefinition() {
        for (g, tile) in Self.shapes {
            let x = randomDoubles(g.inputCount, seed: 21), w = randomDoubles(g.weightCount, seed: 22)
            let b = randomDoubles(g.outChannels, seed: 23)
            let ref = ConvNaive.convTranspose3d(x: x, w: w, bias: b, g: g)
            var y = [Float](repeating: .nan, count: g.outputCount)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), tile: tile, threads: 2)
            }}}
            let err = worstRelativeError(y, ref)
            report("convT forward vs definition", err)
            XCTAssertLessThan(err, 1e-5)   // sums of ≤ 4 Float products
        }
    }

    /// A hand-worked case: one input voxel, one channel each, w = 1…8, bias 0.5.
    func testSingleVoxelSpreadsToTwoCubedBlock() {
        let g = ConvTranspose3dGeometry(batch: 1, inChannels: 1, outChannels: 1, inD: 1, inH: 1, inW: 1)
        let w: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        var y = [Float](repeating: 0, count: 8)
        [Float(2)].withPtr { xp in w.withPtr { wp in [Float(0.5)].withPtr { bp in
            ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace())
        }}}
        XCTAssertEqual(y, [2.5, 4.5, 6.5, 8.5, 10.5, 12.5, 14.5, 16.5])
    }

    func testGradientsAgainstFiniteDifferences() {
        for (g, tile) in Self.shapes {
            let x = randomDoubles(g.inputCount, seed: 31), w = randomDoubles(g.weightCount, seed: 32)
            let b = randomDoubles(g.outChannels, seed: 33), r = randomDoubles(g.outputCount, seed: 34)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                ConvTranspose3d.backward(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                         workspace: Workspace(), tile: tile, threads: 2)
            }}}
            let ex = worstRelativeError(analytic: dx, reference: finiteDifferences(x) {
                dotLoss(ConvNaive.convTranspose3d(x: $0, w: w, bias: b, g: g), r) })
            let ew = worstRelativeError(analytic: dw, reference: finiteDifferences(w) {
                dotLoss(ConvNaive.convTranspose3d(x: x, w: $0, bias: b, g: g), r) })
            let eb = worstRelativeError(analytic: db, reference: finiteDifferences(b) {
                dotLoss(ConvNaive.convTranspose3d(x: x, w: w, bias: $0, g: g), r) })
            report("convT dx", ex); report("convT dw", ew); report("convT dbias", eb)
            XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4); XCTAssertLessThan(eb, 1e-4)
        }
    }

    /// Workers own tiles: the forward writes each output once, so its values must not depend on
    /// the thread count; the backward sums each worker's weight gradient in a fixed order, so two
    /// runs with the same thread count must agree bit for bit (and other counts to rounding).
    func testWorkersOwningTilesAreReproducible() {
        let g = ConvTranspose3dGeometry(batch: 2, inChannels: 5, outChannels: 3, inD: 5, inH: 6, inW: 7)
        let x = floats(randomDoubles(g.inputCount, seed: 41)), w = floats(randomDoubles(g.weightCount, seed: 42))
        let b = floats(randomDoubles(g.outChannels, seed: 43)), r = floats(randomDoubles(g.outputCount, seed: 44))
        func run(threads: Int) -> (y: [Float], dx: [Float], dw: [Float]) {
            var y = [Float](repeating: .nan, count: g.outputCount)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0.25, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            x.withPtr { xp in w.withPtr { wp in b.withPtr { bp in r.withPtr { rp in
                ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), tile: 16, threads: threads)
                ConvTranspose3d.backward(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                         workspace: Workspace(), tile: 16, threads: threads)
            }}}}
            return (y, dx, dw)
        }
        let one = run(threads: 1)
        for threads in [2, 3] {
            let a = run(threads: threads), again = run(threads: threads)
            XCTAssertEqual(a.y.map(\.bitPattern), one.y.map(\.bitPattern), "forward, \(threads) threads")
            XCTAssertEqual(a.dx.map(\.bitPattern), one.dx.map(\.bitPattern), "dx, \(threads) threads")
            XCTAssertEqual(a.dw.map(\.bitPattern), again.dw.map(\.bitPattern), "dw, \(threads) threads twice")
            XCTAssertLessThan(worstRelativeError(a.dw, one.dw.map(Double.init)), 1e-5, "dw, \(threads) vs 1 thread")
        }
    }

    /// `backward(path:)` runs the kernel it names at the automatic tile (the per-layer choice of
    /// `automaticBackwardKernel`): every path this CPU supports against the Double definition
    /// (SmallLayersDirectTests.naiveTransposeGradients) on stride-2 shapes with rows narrower and
    /// wider than the direct kernel's 16 lanes, odd sizes, batch 2; dw and db accumulate.
    func testEveryBackwardPathMatchesDefinition() {
        let shapes = [ConvTranspose3dGeometry(batch: 2, inChannels: 7, outChannels: 5, inD: 3, inH: 2, inW: 17),
                      ConvTranspose3dGeometry(batch: 2, inChannels: 3, outChannels: 9, inD: 2, inH: 3, inW: 5),
                      ConvTranspose3dGeometry(batch: 1, inChannels: 20, outChannels: 12, inD: 1, inH: 3, inW: 35)]
        for g in shapes {
            let x = randomDoubles(g.inputCount, seed: 51), w = randomDoubles(g.weightCount, seed: 52)
            let r = randomDoubles(g.outputCount, seed: 53)
            let ref = SmallLayersDirectTests.naiveTransposeGradients(x: x, w: w, dy: r, g: g)
            for path in ConvTranspose3d.Kernel.allCases where ConvTranspose3d.supports(path, g) {
                var dx = [Float](repeating: .nan, count: g.inputCount)
                var dw = [Float](repeating: 0.5, count: g.weightCount), db = [Float](repeating: -0.25, count: g.outChannels)
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                    ConvTranspose3d.backward(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                             workspace: Workspace(), path: path, threads: 2)
                }}}
                let ex = worstRelativeError(dx, ref.dx), ew = worstRelativeError(dw, ref.dw.map { $0 + 0.5 })
                let eb = worstRelativeError(db, ref.db.map { $0 - 0.25 })
                report("convT \(path) dx / dw / db vs definition", max(ex, ew, eb))
                // Float sums of Cout·8 (dx) and N·voxels (dw, db) products of values in [-1, 1].
                XCTAssertLessThan(ex, 1e-4, "\(path) dx \(g)"); XCTAssertLessThan(ew, 1e-4, "\(path) dw \(g)")
                XCTAssertLessThan(eb, 1e-4, "\(path) db \(g)")
            }
        }
    }
}
