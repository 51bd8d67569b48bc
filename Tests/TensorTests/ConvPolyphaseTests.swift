import XCTest
@testable import Tensor

/// The polyphase stride-2 convolution against the naive direct convolution (run in Double),
/// its gradients against central finite differences of that convolution, and against the
/// im2col + sgemm path it replaces.
final class ConvPolyphaseTests: XCTestCase {
    /// Odd and even sizes per axis (odd sizes leave the last odd phase partly outside the input),
    /// non-cubic, 1-voxel axes, batch 2; tiles that end mid-row and mid-plane, and one tile.
    static let shapes: [(Conv3dGeometry, tile: Int?)] = [
        (Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 4, inD: 6, inH: 4, inW: 10, kernel: 3, stride: 2, padding: 1), nil),
        (Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 4, inD: 6, inH: 4, inW: 10, kernel: 3, stride: 2, padding: 1), 7),
        (Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 5, inD: 5, inH: 7, inW: 6, kernel: 3, stride: 2, padding: 1), 5),
        (Conv3dGeometry(batch: 1, inChannels: 4, outChannels: 3, inD: 7, inH: 5, inW: 9, kernel: 3, stride: 2, padding: 1), 13),
        (Conv3dGeometry(batch: 2, inChannels: 2, outChannels: 2, inD: 1, inH: 3, inW: 2, kernel: 3, stride: 2, padding: 1), nil),
        (Conv3dGeometry(batch: 1, inChannels: 5, outChannels: 6, inD: 8, inH: 8, inW: 8, kernel: 3, stride: 2, padding: 1), 29),
    ]

    /// The products to check: the OpenBLAS GEMMs always, the direct AVX-512 kernels when the CPU
    /// has AVX-512 (and DRO_PORTABLE_KERNELS=1 is not set).
    static var kernels: [ConvPolyphase.Kernel] { CPUFeatures.avx512 ? [.sgemm, .direct] : [.sgemm] }

    func testGroupsCoverEveryTapOnce() {
        var seen = [Int](repeating: 0, count: 27)
        for grp in ConvPolyphase.groups { for t in grp.taps { seen[t] += 1 } }
        XCTAssertEqual(seen, [Int](repeating: 1, count: 27))
        XCTAssertEqual(ConvPolyphase.groups.count, 14)
    }

    func testForwardMatchesDirect() {
        for kernel in Self.kernels { for (k, (g, tile)) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 1 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 50 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 99)
            let ref = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            var y = [Float](repeating: .nan, count: g.outputCount)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                ConvPolyphase.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: ws, tile: tile, kernel: kernel,
                                      threads: 2)
            }}}
            // Float sums of ≤ 27·Cin = 135 products of values in [-1, 1]: ≲ 1e-6 relative to the
            // output scale; 1e-5 leaves margin and still catches any wrong or missing tap (≥ 1e-2).
            let err = worstRelativeError(y, ref)
            report("polyphase \(kernel) forward vs direct \(g) tile \(tile ?? 0)", err)
            // The direct kernel adds all 27·Cin products in one FMA chain per output (the GEMMs in
            // 14 shorter ones): measured ≤ 2.2e-5 at K = 135, still 1e-3 below a wrong or missing
            // tap; its bound is the project's 1e-4.
            XCTAssertLessThan(err, kernel == .direct ? 1e-4 : 1e-5, "\(kernel) \(g)")
        }}
    }

    func testGradientsAgainstFiniteDifferences() {
        for kernel in Self.kernels { for (k, (g, tile)) in Self.shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 7 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 70 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 5), r = randomDoubles(g.outputCount, seed: 11)
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                ConvPolyphase.backward(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                       tile: tile, kernel: kernel, threads: 2)
            }}}
            let fdx = finiteDifferences(x) { dotLoss(ConvNaive.conv3d(x: $0, w: w, bias: b, g: g), r) }
            let fdw = finiteDifferences(w) { dotLoss(ConvNaive.conv3d(x: x, w: $0, bias: b, g: g), r) }
            let fdb = finiteDifferences(b) { dotLoss(ConvNaive.conv3d(x: x, w: w, bias: $0, g: g), r) }
            let ex = worstRelativeError(analytic: dx, reference: fdx)
            let ew = worstRelativeError(analytic: dw, reference: fdw)
            let eb = worstRelativeError(analytic: db, reference: fdb)
            report("polyphase \(kernel) dx \(g) tile \(tile ?? 0)", ex); report("polyphase dw", ew); report("polyphase dbias", eb)
            // Float sums of ≤ a few hundred terms against Double FD (truncation ~1e-10): the same
            // 1e-4 bound as the im2col path's test; a wrong tap or phase gives O(1) errors.
            XCTAssertLessThan(ex, 1e-4, "\(kernel) \(g)"); XCTAssertLessThan(ew, 1e-4, "\(kernel) \(g)")
            XCTAssertLessThan(eb, 1e-4, "\(kernel) \(g)")
        }}
    }

    /// The U-Net's shapes at a reduced size, against im2col + sgemm (which the FD tests above check
    /// independently), including accumulation into dx and dw and skipping dx.
    func testMatchesIm2colPathAndAccumulates() {
        for kernel in Self.kernels { matchesIm2colPathAndAccumulates(kernel) }
    }

    func matchesIm2colPathAndAccumulates(_ kernel: ConvPolyphase.Kernel) {
        let g = Conv3dGeometry(batch: 2, inChannels: 16, outChannels: 32, inD: 16, inH: 16, inW: 16,
                               kernel: 3, stride: 2, padding: 1)
        let x = floats(randomDoubles(g.inputCount, seed: 3)), w = floats(randomDoubles(g.weightCount, seed: 4))
        let b = floats(randomDoubles(g.outChannels, seed: 6)), r = floats(randomDoubles(g.outputCount, seed: 5))
        let ws = Workspace()
        var y1 = [Float](repeating: .nan, count: g.outputCount), y2 = y1
        var dx1 = [Float](repeating: .nan, count: g.inputCount), dx2 = [Float](repeating: 1, count: g.inputCount)
        var dw1 = [Float](repeating: 0, count: g.weightCount), dw2 = dw1, dw3 = dw1
        var db1 = [Float](repeating: 0, count: g.outChannels), db2 = db1
        x.withPtr { xp in w.withPtr { wp in r.withPtr { rp in b.withPtr { bp in
            Conv3d.forward(x: xp, w: wp, bias: bp, y: &y1, g: g, workspace: ws, tile: 1024, threads: 2)
            ConvPolyphase.forward(x: xp, w: wp, bias: bp, y: &y2, g: g, workspace: ws, kernel: kernel, threads: 2)
            Conv3d.backward(x: xp, w: wp, dy: rp, dx: &dx1, dw: &dw1, dbias: &db1, g: g, workspace: ws, threads: 2)
            ConvPolyphase.backward(x: xp, w: wp, dy: rp, dx: &dx2, dw: &dw2, dbias: &db2, g: g, workspace: ws,
                                   accumulateInput: true, kernel: kernel, threads: 2)
            ConvPolyphase.backward(x: xp, w: wp, dy: rp, dx: nil, dw: &dw3, dbias: nil, g: g, workspace: ws,
                                   kernel: kernel, threads: 2)
        }}}}
        // K = 432-term Float sums in two orders: differences ~1e-6 of the scale.
        func close(_ a: [Float], _ b: [Float], _ what: String, offset: Float = 0) {
            let scale = b.map { abs($0) }.max() ?? 1
            var worst: Float = 0
            for i in a.indices { worst = max(worst, abs(a[i] - offset - b[i])) }
            report("polyphase \(kernel) vs im2col \(what)", Double(worst / scale))
            XCTAssertLessThan(worst / scale, 1e-5, what)
        }
        close(y2, y1, "y"); close(dx2, dx1, "dx (+1 accumulated)", offset: 1); close(dw2, dw1, "dw"); close(db2, db1, "db")
        close(dw3, dw1, "dw without dx")
    }

    /// The AVX2 split and merge (CKernels/conv_polyphase.c) against the Swift loops, bit for bit,
    /// sentinel-filled buffers so stray or missing stores count; widths 1–19 cover partial vectors.
    func testCSplitAndMergeAreBitIdenticalToSwift() throws {
        try XCTSkipUnless(ConvCKernels.available, "no AVX2 + FMA (or DRO_PORTABLE_KERNELS=1): the Swift loops run")
        let shapes = Self.shapes.map(\.0) + [1, 2, 3, 15, 16, 17, 19].map {
            Conv3dGeometry(batch: 1, inChannels: 3, outChannels: 2, inD: 3, inH: 4, inW: $0, kernel: 3, stride: 2, padding: 1)
        }
        for g in shapes {
            let l = ConvPolyphase.Layout(g), size = 8 * g.inChannels * l.volume
            let x = floats(randomDoubles(g.inChannels * g.inVoxels, seed: 17))
            var pc = [Float](repeating: .nan, count: size), ps = pc
            x.withPtr { xp in
                ConvPolyphase.split(xp, g, l, into: &pc, threads: 2, portable: false)
                ConvPolyphase.split(xp, g, l, into: &ps, threads: 2, portable: true)
            }
            XCTAssertEqual(pc.map(\.bitPattern), ps.map(\.bitPattern), "split \(g)")
            let phases = floats(randomDoubles(size, seed: 19))
            for accumulate in [false, true] {
                let start = floats(randomDoubles(g.inChannels * g.inVoxels, seed: 23))
                var dc = accumulate ? start : [Float](repeating: .nan, count: start.count), ds = dc
                phases.withPtr { pp in
                    ConvPolyphase.merge(pp, g, l, into: &dc, accumulate: accumulate, threads: 2, portable: false)
                    ConvPolyphase.merge(pp, g, l, into: &ds, accumulate: accumulate, threads: 2, portable: true)
                }
                XCTAssertEqual(dc.map(\.bitPattern), ds.map(\.bitPattern), "merge \(g) accumulate \(accumulate)")
                XCTAssertFalse(dc.contains { $0.isNaN }, "merge left unwritten voxels \(g)")
            }
        }
    }
}
