import XCTest
@testable import Tensor

/// The im2col + sgemm convolution against the naive direct one, and its gradients against
/// central finite differences of the naive convolution run in Double.
final class Conv3dTests: XCTestCase {
    /// Awkward shapes: odd, non-cubic, stride 2 with odd sizes, 1×1×1, and tiles that end mid-row.
    static let shapes: [(Conv3dGeometry, tile: Int?)] = [
        (Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 4, inD: 5, inH: 6, inW: 7, kernel: 3, stride: 1, padding: 1), nil),
        (Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 4, inD: 5, inH: 6, inW: 7, kernel: 3, stride: 1, padding: 1), 37),
        (Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 5, inD: 5, inH: 7, inW: 6, kernel: 3, stride: 2, padding: 1), 5),
        (Conv3dGeometry(batch: 2, inChannels: 4, outChannels: 3, inD: 3, inH: 5, inW: 4, kernel: 1, stride: 1, padding: 0), 7),
        (Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 2, inD: 4, inH: 3, inW: 5, kernel: 3, stride: 2, padding: 1), nil),
        // Even sizes with stride 2 (the U-Net's downsampling), a tile ending mid-row.
        (Conv3dGeometry(batch: 2, inChannels: 2, outChannels: 3, inD: 6, inH: 4, inW: 10, kernel: 3, stride: 2, padding: 1), 13),
        // No padding with stride 2, and a strided 1×1×1 (not pointwise): the padding-free ends of rows.
        (Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 3, inD: 5, inH: 6, inW: 9, kernel: 3, stride: 2, padding: 0), 11),
        (Conv3dGeometry(batch: 1, inChannels: 3, outChannels: 2, inD: 5, inH: 4, inW: 7, kernel: 1, stride: 2, padding: 0), nil),
        // Cin = 1 through im2col (a tile forces it; without one the direct kernel runs).
        (Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 5, inD: 4, inH: 5, inW: 11, kernel: 3, stride: 1, padding: 1), 17),
    ]

    func testForwardMatchesDirect() {
        for (k, (g, tile)) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 1 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 50 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 99)
            let ref = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            var y = [Float](repeating: .nan, count: g.outputCount)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                Conv3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: ws, tile: tile, threads: 2)
            }}}
            // Float GEMM of K ≤ 108 products of values in [-1, 1]: ≲ 1e-5 relative to the output scale.
            let err = worstRelativeError(y, ref)
            report("conv forward vs direct \(g) tile \(tile ?? 0)", err)
            XCTAssertLessThan(err, 1e-4, "\(g)")
        }
    }

    func testGradientsAgainstFiniteDifferences() {
        for (k, (g, tile)) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 7 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 70 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 5), r = randomDoubles(g.outputCount, seed: 11)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                Conv3d.backward(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws, tile: tile, threads: 2)
            }}}
            let fdx = finiteDifferences(x) { dotLoss(ConvNaive.conv3d(x: $0, w: w, bias: b, g: g), r) }
            let fdw = finiteDifferences(w) { dotLoss(ConvNaive.conv3d(x: x, w: $0, bias: b, g: g), r) }
            let fdb = finiteDifferences(b) { dotLoss(ConvNaive.conv3d(x: x, w: w, bias: $0, g: g), r) }
            let ex = worstRelativeError(analytic: dx, reference: fdx)
            let ew = worstRelativeError(analytic: dw, reference: fdw)
            let eb = worstRelativeError(analytic: db, reference: fdb)
            report("conv dx \(g) tile \(tile ?? 0)", ex); report("conv dw", ew); report("conv dbias", eb)
            // Float sums of ≤ a few hundred terms against Double FD: 1e-4 leaves ~10× margin.
            XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4); XCTAssertLessThan(eb, 1e-4)
        }
    }

    func testBackwardAccumulatesWeightsAndOptionallyInput() {
        // A 3×3×3 conv (col2im path) and a 1×1×1 one (dx straight from one GEMM per tile).
        for g in [Self.shapes[0].0, Self.shapes[3].0] {
            let x = floats(randomDoubles(g.inputCount, seed: 3)), w = floats(randomDoubles(g.weightCount, seed: 4))
            let r = floats(randomDoubles(g.outputCount, seed: 5))
            let ws = Workspace()
            var dx1 = [Float](repeating: .nan, count: g.inputCount), dw1 = [Float](repeating: 0, count: g.weightCount)
            var dx2 = [Float](repeating: 1, count: g.inputCount), dw2 = [Float](repeating: 0, count: g.weightCount)
            x.withPtr { xp in w.withPtr { wp in r.withPtr { rp in
                Conv3d.backward(x: xp, w: wp, dy: rp, dx: &dx1, dw: &dw1, dbias: nil, g: g, workspace: ws)
                Conv3d.backward(x: xp, w: wp, dy: rp, dx: &dx2, dw: &dw2, dbias: nil, g: g, workspace: ws, accumulateInput: true)
                Conv3d.backward(x: xp, w: wp, dy: rp, dx: nil, dw: &dw2, dbias: nil, g: g, workspace: ws)
            }}}
            // dx1 started as NaN: overwriting must not read it.
            XCTAssertFalse(dx1.contains { $0.isNaN }, "\(g)")
            for i in dx1.indices { XCTAssertEqual(dx2[i], dx1[i] + 1, accuracy: 1e-5, "\(g)") }
            for i in dw1.indices { XCTAssertEqual(dw2[i], 2 * dw1[i], accuracy: 1e-4 * max(1, abs(dw1[i])), "\(g)") }
        }
    }
}
