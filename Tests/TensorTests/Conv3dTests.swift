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
        // Per-axis kernels and strides (anisotropic U-Nets), all through the portable im2col/col2im:
        // 1×3×3 stride 1 and 1×2×2 (thick slices on D), a tile ending mid-row.
        (aniso(batch: 2, cin: 3, cout: 4, in: [3, 5, 6], k: [1, 3, 3], s: [1, 1, 1]), nil),
        (aniso(batch: 2, cin: 2, cout: 3, in: [4, 6, 8], k: [1, 3, 3], s: [1, 2, 2]), 7),
        // Kernel 1 and stride 1 on W only (the coarse axis last), stride 2 on D and H.
        (aniso(batch: 1, cin: 3, cout: 2, in: [6, 4, 5], k: [3, 3, 1], s: [2, 2, 1]), 9),
        // Mixed sizes on every axis, stride 2 on a kernel-1 axis, Cin = 1 (no direct kernel).
        (aniso(batch: 1, cin: 1, cout: 3, in: [5, 6, 7], k: [5, 1, 3], s: [1, 2, 2]), nil),
        // A 9-class head (the fetal network's) without a tile: the direct AVX-512 kernel's
        // one-vector block, or the GEMM path under DRO_PORTABLE_KERNELS=1 / DRO_HEAD=gemm.
        (Conv3dGeometry(batch: 2, inChannels: 5, outChannels: 9, inD: 3, inH: 2, inW: 7, kernel: 1, stride: 1, padding: 0), nil),
    ]

    /// Padding k/2 per axis, as the U-Net's convs.
    static func aniso(batch: Int, cin: Int, cout: Int, in d: [Int], k: [Int], s: [Int]) -> Conv3dGeometry {
        Conv3dGeometry(batch: batch, inChannels: cin, outChannels: cout, inD: d[0], inH: d[1], inW: d[2],
                       kernelDHW: k, strideDHW: s, paddingDHW: k.map { $0 / 2 })
    }

    /// The per-axis naive conv against the cubic one: a 1×3×3 kernel (padding 0×1×1) equals the
    /// 3×3×3 kernel (padding 1) whose kd = 0 and kd = 2 taps are zero, and a stride (s_D, s_H, s_W)
    /// output equals the stride-1 output sampled at o ⊙ s. Checks the oracle's per-axis indexing
    /// with the cubic definition written out here, independent of ConvNaive.
    func testPerAxisNaiveAgreesWithEmbeddedCubicKernel() {
        let cubic = Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 2, inD: 4, inH: 6, inW: 5, kernel: 3, stride: 1, padding: 1)
        let x = randomDoubles(cubic.inputCount, seed: 301), w2 = randomDoubles(2 * 2 * 9, seed: 302)
        // Direct 3×3×3 stride-1 padding-1 conv (the definition, written out again).
        var w3 = [Double](repeating: 0, count: cubic.weightCount)
        for co in 0..<2 { for ci in 0..<2 { for t in 0..<9 { w3[(co * 2 + ci) * 27 + 9 + t] = w2[(co * 2 + ci) * 9 + t] } } }
        func direct(_ od: Int, _ oh: Int, _ ow: Int, _ co: Int) -> Double {
            var s = 0.0
            for ci in 0..<2 { for kd in 0..<3 { for kh in 0..<3 { for kw in 0..<3 {
                let (id, ih, iw) = (od + kd - 1, oh + kh - 1, ow + kw - 1)
                guard (0..<4).contains(id), (0..<6).contains(ih), (0..<5).contains(iw) else { continue }
                s += w3[(co * 2 + ci) * 27 + (kd * 3 + kh) * 3 + kw] * x[((ci * 4 + id) * 6 + ih) * 5 + iw]
            }}}}
            return s
        }
        for stride in [[1, 1, 1], [1, 2, 2], [2, 1, 2]] {
            let g = Self.aniso(batch: 1, cin: 2, cout: 2, in: [4, 6, 5], k: [1, 3, 3], s: stride)
            let y = ConvNaive.conv3d(x: x, w: w2, bias: nil, g: g)
            var worst = 0.0
            for co in 0..<2 { for od in 0..<g.outD { for oh in 0..<g.outH { for ow in 0..<g.outW {
                let v = y[((co * g.outD + od) * g.outH + oh) * g.outW + ow]
                worst = max(worst, abs(v - direct(od * stride[0], oh * stride[1], ow * stride[2], co)))
            }}}}
            XCTAssertLessThan(worst, 1e-12, "stride \(stride)")   // the same Double sums, reordered
        }
    }

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
