import XCTest
@testable import Tensor

/// Single-channel convolutions (the U-Net's first conv): the forward (im2col + sgemm) against the
/// naive convolution, and the direct weight-gradient kernel against finite differences in Double,
/// an exact Double sum and the im2col path.
final class Conv3dSingleChannelTests: XCTestCase {
    /// Widths below, at and between SIMD widths (8 lanes), Cout not a multiple of the 4-channel
    /// block, non-cubic volumes, batch 2.
    static let shapes: [Conv3dGeometry] = [
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 6, inD: 4, inH: 5, inW: 11, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 1, outChannels: 3, inD: 3, inH: 4, inW: 5, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 4, inD: 5, inH: 3, inW: 16, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 1, outChannels: 5, inD: 2, inH: 6, inW: 19, kernel: 3, stride: 1, padding: 1),
    ]

    func testGeometryUsesDirectKernel() {
        for g in Self.shapes { XCTAssertTrue(Conv3dSingleChannel.applies(g)) }
        var g = Self.shapes[0]; g.stride = 2
        XCTAssertFalse(Conv3dSingleChannel.applies(g))
        g = Self.shapes[0]; g.inChannels = 2
        XCTAssertFalse(Conv3dSingleChannel.applies(g))
    }

    func testForwardMatchesDirectDefinition() {
        for (k, g) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 200 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 300 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 400)
            let ref = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            for threads in [1, 2] {
                var y = [Float](repeating: .nan, count: g.outputCount)
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                    Conv3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), threads: threads)
                }}}
                // 27 Float products of values in [-1, 1] plus a bias: ≲ 1e-6 relative to the output scale.
                let err = worstRelativeError(y, ref)
                report("single-channel forward (im2col) vs naive \(g) threads \(threads)", err)
                XCTAssertLessThan(err, 1e-5, "\(g)")
            }
        }
    }

    func testWeightGradientAgainstFiniteDifferences() {
        for (k, g) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 500 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 600 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 7), r = randomDoubles(g.outputCount, seed: 700 + UInt64(k))
            // dw starts non-zero: the kernel must ADD to it.
            var dw = [Float](repeating: 0.5, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                Conv3d.backward(x: xp, w: wp, dy: rp, dx: nil, dw: &dw, dbias: &db, g: g, workspace: Workspace(), threads: 2)
            }}}
            let fdw = finiteDifferences(w) { dotLoss(ConvNaive.conv3d(x: x, w: $0, bias: b, g: g), r) }
            let fdb = finiteDifferences(b) { dotLoss(ConvNaive.conv3d(x: x, w: w, bias: $0, g: g), r) }
            let ew = worstRelativeError(analytic: dw.map { $0 - 0.5 }, reference: fdw)
            let eb = worstRelativeError(analytic: db, reference: fdb)
            report("single-channel dw \(g)", ew); report("single-channel dbias", eb)
            // Float sums of ≤ 19 terms per row, rows summed in Double, against Double FD: 1e-4 is ~10× margin.
            XCTAssertLessThan(ew, 1e-4, "\(g)"); XCTAssertLessThan(eb, 1e-4, "\(g)")
        }
    }

    /// A larger volume (many rows summed): the direct weight gradient against the definition
    /// Σ dy·x evaluated in Double, and against the im2col path.
    func testWeightGradientOnLargerVolume() {
        let g = Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 8, inD: 12, inH: 10, inW: 21, kernel: 3, stride: 1, padding: 1)
        let x = randomDoubles(g.inputCount, seed: 11), r = randomDoubles(g.outputCount, seed: 12)
        let w = randomDoubles(g.weightCount, seed: 13)
        var exact = [Double](repeating: 0, count: g.weightCount)
        for n in 0..<g.batch { for co in 0..<g.outChannels {
            for d in 0..<g.inD { for h in 0..<g.inH { for wi in 0..<g.inW {
                let dy = r[(((n * g.outChannels + co) * g.inD + d) * g.inH + h) * g.inW + wi]
                for kd in 0..<3 { for kh in 0..<3 { for kw in 0..<3 {
                    let id = d + kd - 1, ih = h + kh - 1, iw = wi + kw - 1
                    guard id >= 0, id < g.inD, ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
                    exact[co * 27 + (kd * 3 + kh) * 3 + kw] += dy * x[((n * g.inD + id) * g.inH + ih) * g.inW + iw]
                }}}
            }}}
        }}
        var direct = [Float](repeating: 0, count: g.weightCount), viaIm2col = direct
        floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
            Conv3d.backward(x: xp, w: wp, dy: rp, dx: nil, dw: &direct, dbias: nil, g: g, workspace: Workspace(), threads: 2)
            Conv3d.backward(x: xp, w: wp, dy: rp, dx: nil, dw: &viaIm2col, dbias: nil, g: g, workspace: Workspace(), tile: 64, threads: 2)
        }}}
        let e1 = worstRelativeError(direct, exact), e2 = worstRelativeError(viaIm2col, exact)
        report("single-channel dw (5040 terms) vs exact", e1); report("im2col dw vs exact", e2)
        // Sums of ~5000 products in [-1, 1]: Float row sums, Double across rows; 1e-4 leaves margin.
        XCTAssertLessThan(e1, 1e-4); XCTAssertLessThan(e2, 1e-4)
    }
}
