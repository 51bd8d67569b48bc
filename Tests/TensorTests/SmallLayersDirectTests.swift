import XCTest
@testable import Tensor

/// The direct AVX-512 kernels of the transposed conv 2×2×2 stride 2 (ConvTranspose3d+Direct.swift)
/// and of the 1×1×1 head (Conv3d+Pointwise.swift) against the layers computed in Double from
/// their definitions, at shapes that reach every block and tail: W not a multiple of 16 (masked
/// lanes), Cout not a multiple of the forward's 8-channel block, Cin past the input gradient's
/// 16-channel block and not a multiple of the weight gradient's 4, batch 2 (chunks of rows that
/// cross samples), concat sample strides; pointwise with 1…16 output channels (the 8-channel
/// two-vector and the 16-channel one-vector register blocks) and voxel counts past the
/// 4096-voxel work item and the 4096-voxel chunk.
///
/// Tolerance 3e-5 relative (`worstRelativeError`: against max(|reference|, 1e-2·max|reference|)):
/// the kernels sum Float products with FMA in another order than OpenBLAS (forward: Cin terms;
/// dx: Cout·8 terms; dw and db: Float lane sums over ≤ 512 (convT) or 4096 (1×1) voxels, then
/// Double), so they agree with the Double definition to Float rounding of sums with
/// cancellation, not bit for bit.
/// Measured (2026-12-03): direct kernels ≤ 1.6e-5 (convT dx/dw, 1×1 db), the GEMM path on the
/// same shapes ≤ 2.3e-5 (convT dw; printed by the tests) — the bound sits just above both.
final class SmallLayersDirectTests: XCTestCase {
    static let transposeShapes: [ConvTranspose3dGeometry] = [
        ConvTranspose3dGeometry(batch: 2, inChannels: 19, outChannels: 11, inD: 3, inH: 2, inW: 21),
        ConvTranspose3dGeometry(batch: 1, inChannels: 3, outChannels: 2, inD: 2, inH: 3, inW: 5),
        ConvTranspose3dGeometry(batch: 2, inChannels: 8, outChannels: 16, inD: 2, inH: 2, inW: 16),
        ConvTranspose3dGeometry(batch: 2, inChannels: 33, outChannels: 9, inD: 2, inH: 5, inW: 40),
        ConvTranspose3dGeometry(batch: 1, inChannels: 4, outChannels: 3, inD: 3, inH: 3, inW: 600),
    ]

    /// dx, dw, db of the transposed conv in Double from the definition (the adjoint of
    /// ConvNaive.convTranspose3d): every output o = 2i + t gets x[i]·w[t], so dx[i] += w[t]·dy[o],
    /// dw[t] += x[i]·dy[o], db += dy[o].
    static func naiveTransposeGradients(x: [Double], w: [Double], dy: [Double], g: ConvTranspose3dGeometry)
        -> (dx: [Double], dw: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: g.inputCount), dw = [Double](repeating: 0, count: g.weightCount)
        var db = [Double](repeating: 0, count: g.outChannels)
        for n in 0..<g.batch { for co in 0..<g.outChannels {
            for o in 0..<g.outVoxels { db[co] += dy[(n * g.outChannels + co) * g.outVoxels + o] }
            for d in 0..<g.inD { for h in 0..<g.inH { for iw in 0..<g.inW {
                for t in 0..<8 {
                    let a = t >> 2, b = (t >> 1) & 1, c = t & 1
                    let o = ((2 * d + a) * g.outH + (2 * h + b)) * g.outW + 2 * iw + c
                    let gy = dy[(n * g.outChannels + co) * g.outVoxels + o]
                    for ci in 0..<g.inChannels {
                        let xi = (((n * g.inChannels + ci) * g.inD + d) * g.inH + h) * g.inW + iw
                        let wi = (ci * g.outChannels + co) * 8 + t
                        dx[xi] += w[wi] * gy
                        dw[wi] += x[xi] * gy
                    }
                }
            }}}
        }}
        return (dx, dw, db)
    }

    func testTransposeForwardMatchesDefinition() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        for (s, g) in Self.transposeShapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 71 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 81 + UInt64(s))
            let b = randomDoubles(g.outChannels, seed: 91)
            let ref = ConvNaive.convTranspose3d(x: x, w: w, bias: b, g: g)
            // Into the first half of a concat-like buffer (sample stride 2·Cout·outVoxels): the
            // second half must stay untouched.
            let stride = 2 * g.outChannels * g.outVoxels
            for threads in [1, 2, 3] {
                var cat = [Float](repeating: 7.5, count: g.batch * stride)
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                    ConvTranspose3d.forwardDirect(x: xp, w: wp, bias: bp, y: &cat, g: g, ySampleStride: stride, threads: threads)
                }}}
                var y = [Float](), rest = [Float]()
                for n in 0..<g.batch {
                    y += cat[(n * stride)..<(n * stride + stride / 2)]
                    rest += cat[(n * stride + stride / 2)..<((n + 1) * stride)]
                }
                let err = worstRelativeError(y, ref)
                report("direct convT forward vs Double (\(threads) threads)", err)
                XCTAssertLessThan(err, 3e-5)
                XCTAssertTrue(rest.allSatisfy { $0 == 7.5 }, "second half of the concat buffer written")
            }
            // The public entry point picks the direct kernel on this CPU (unless DRO_CONVT=gemm).
            var y = [Float](repeating: .nan, count: g.outputCount)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                ConvTranspose3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), threads: 2)
            }}}
            XCTAssertLessThan(worstRelativeError(y, ref), 3e-5)
        }
    }

    func testTransposeBackwardMatchesDefinition() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        for (s, g) in Self.transposeShapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 101 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 111 + UInt64(s))
            let r = randomDoubles(g.outputCount, seed: 121 + UInt64(s))
            let ref = Self.naiveTransposeGradients(x: x, w: w, dy: r, g: g)
            // dy read in place from the first half of a concat gradient (sample stride 2·Cout·outVoxels).
            let stride = 2 * g.outChannels * g.outVoxels
            var cat = [Float](repeating: .nan, count: g.batch * stride)
            for n in 0..<g.batch {
                for i in 0..<(stride / 2) { cat[n * stride + i] = Float(r[n * stride / 2 + i]) }
            }
            for threads in [1, 2, 3] {
                var dx = [Float](repeating: .nan, count: g.inputCount)
                // Accumulating: dw from 0.25, db from −0.5, removed before the comparison.
                var dw = [Float](repeating: 0.25, count: g.weightCount), db = [Float](repeating: -0.5, count: g.outChannels)
                var dwNoDx = [Float](repeating: 0, count: g.weightCount)
                floats(x).withPtr { xp in floats(w).withPtr { wp in cat.withPtr { rp in
                    ConvTranspose3d.backwardDirect(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                                   dySampleStride: stride, threads: threads)
                    ConvTranspose3d.backwardDirect(x: xp, w: wp, dy: rp, dx: nil, dw: &dwNoDx, dbias: nil, g: g,
                                                   dySampleStride: stride, threads: threads)
                }}}
                let ex = worstRelativeError(dx, ref.dx)
                let ew = worstRelativeError(dw.map { $0 - 0.25 }, ref.dw)
                let eb = worstRelativeError(db.map { $0 + 0.5 }, ref.db)
                report("direct convT dx / dw / db vs Double (\(threads) threads)", max(ex, ew, eb))
                if threads == 2 {
                    var gdx = [Float](repeating: .nan, count: g.inputCount)
                    var gdw = [Float](repeating: 0, count: g.weightCount), gdb = [Float](repeating: 0, count: g.outChannels)
                    floats(x).withPtr { xp in floats(w).withPtr { wp in cat.withPtr { rp in
                        ConvTranspose3d.backward(x: xp, w: wp, dy: rp, dx: &gdx, dw: &gdw, dbias: &gdb, g: g,
                                                 dySampleStride: stride, workspace: Workspace(), tile: 256, threads: threads)
                    }}}
                    print("  same shape, GEMM path: dx \(worstRelativeError(gdx, ref.dx)) dw \(worstRelativeError(gdw, ref.dw)) db \(worstRelativeError(gdb, ref.db))")
                }
                XCTAssertLessThan(ex, 3e-5); XCTAssertLessThan(ew, 3e-5); XCTAssertLessThan(eb, 3e-5)
                XCTAssertLessThan(worstRelativeError(dwNoDx, ref.dw), 3e-5, "dw without dx")
            }
        }
    }

    /// Central finite differences of Σ r·convT(x, w, b) (ConvNaive in Double), a check independent
    /// of the hand-written adjoint above.
    func testTransposeGradientsAgainstFiniteDifferences() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        let g = ConvTranspose3dGeometry(batch: 2, inChannels: 5, outChannels: 3, inD: 2, inH: 2, inW: 17)
        let x = randomDoubles(g.inputCount, seed: 131), w = randomDoubles(g.weightCount, seed: 132)
        let b = randomDoubles(g.outChannels, seed: 133), r = randomDoubles(g.outputCount, seed: 134)
        var dx = [Float](repeating: .nan, count: g.inputCount)
        var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
        floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
            ConvTranspose3d.backwardDirect(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g, threads: 2)
        }}}
        let loss = { (x: [Double], w: [Double], b: [Double]) in dotLoss(ConvNaive.convTranspose3d(x: x, w: w, bias: b, g: g), r) }
        let ex = worstRelativeError(analytic: dx, reference: finiteDifferences(x, indices: sampledIndices(x.count, every: 7)) { loss($0, w, b) })
        let ew = worstRelativeError(analytic: dw, reference: finiteDifferences(w) { loss(x, $0, b) })
        let eb = worstRelativeError(analytic: db, reference: finiteDifferences(b) { loss(x, w, $0) })
        report("direct convT dx / dw / db vs finite differences", max(ex, ew, eb))
        XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4); XCTAssertLessThan(eb, 1e-4)
    }

    /// Forward writes each output once (independent of the thread count); the backward's dw and
    /// db are summed per worker in a fixed order: two runs with the same thread count agree bit for bit.
    func testTransposeIsReproducible() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        let g = ConvTranspose3dGeometry(batch: 2, inChannels: 9, outChannels: 5, inD: 5, inH: 6, inW: 19)
        let x = floats(randomDoubles(g.inputCount, seed: 141)), w = floats(randomDoubles(g.weightCount, seed: 142))
        let b = floats(randomDoubles(g.outChannels, seed: 143)), r = floats(randomDoubles(g.outputCount, seed: 144))
        func run(_ threads: Int) -> [[UInt32]] {
            var y = [Float](repeating: .nan, count: g.outputCount), dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            x.withPtr { xp in w.withPtr { wp in b.withPtr { bp in r.withPtr { rp in
                ConvTranspose3d.forwardDirect(x: xp, w: wp, bias: bp, y: &y, g: g, threads: threads)
                ConvTranspose3d.backwardDirect(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g, threads: threads)
            }}}}
            return [y, dx, dw, db].map { $0.map(\.bitPattern) }
        }
        let one = run(1)
        for threads in [2, 3] {
            let a = run(threads), again = run(threads)
            XCTAssertEqual(a, again, "\(threads) threads, twice")
            XCTAssertEqual(a[0], one[0], "forward, \(threads) vs 1 thread")
            XCTAssertEqual(a[1], one[1], "dx, \(threads) vs 1 thread")
        }
    }

    static let pointwiseShapes: [Conv3dGeometry] = (1...16).map { c in
        Conv3dGeometry(batch: 2, inChannels: c == 4 ? 16 : (c > 8 ? c + 6 : 19 - c), outChannels: c, inD: 3, inH: 5, inW: 7,
                       kernel: 1, stride: 1, padding: 0)
    } + [
        Conv3dGeometry(batch: 2, inChannels: 16, outChannels: 4, inD: 9, inH: 10, inW: 47, kernel: 1, stride: 1, padding: 0),
        Conv3dGeometry(batch: 1, inChannels: 5, outChannels: 3, inD: 8, inH: 16, inW: 32, kernel: 1, stride: 1, padding: 0),
        // The one-vector register blocks (9…16 classes) past the 4096-voxel work item and chunk:
        // the fetal head's 32 → 9, and 13 and 16 classes; voxel counts not multiples of 16.
        Conv3dGeometry(batch: 2, inChannels: 32, outChannels: 9, inD: 9, inH: 10, inW: 47, kernel: 1, stride: 1, padding: 0),
        Conv3dGeometry(batch: 1, inChannels: 7, outChannels: 13, inD: 5, inH: 31, inW: 29, kernel: 1, stride: 1, padding: 0),
        Conv3dGeometry(batch: 2, inChannels: 5, outChannels: 16, inD: 3, inH: 37, inW: 41, kernel: 1, stride: 1, padding: 0),
        Conv3dGeometry(batch: 2, inChannels: 11, outChannels: 5, inD: 3, inH: 37, inW: 41, kernel: 1, stride: 1, padding: 0),
    ]

    /// dx, dw, db of the 1×1×1 conv in Double from the definition.
    static func naivePointwiseGradients(x: [Double], w: [Double], dy: [Double], g: Conv3dGeometry)
        -> (dx: [Double], dw: [Double], db: [Double]) {
        let v = g.outVoxels, cin = g.inChannels, cout = g.outChannels
        var dx = [Double](repeating: 0, count: g.inputCount), dw = [Double](repeating: 0, count: g.weightCount)
        var db = [Double](repeating: 0, count: cout)
        for n in 0..<g.batch { for c in 0..<cout { for p in 0..<v {
            let gy = dy[(n * cout + c) * v + p]
            db[c] += gy
            for ci in 0..<cin {
                dx[(n * cin + ci) * v + p] += w[c * cin + ci] * gy
                dw[c * cin + ci] += x[(n * cin + ci) * v + p] * gy
            }
        }}}
        return (dx, dw, db)
    }

    func testPointwiseMatchesDefinition() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        for (s, g) in Self.pointwiseShapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 151 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 161 + UInt64(s))
            let b = randomDoubles(g.outChannels, seed: 171), r = randomDoubles(g.outputCount, seed: 181 + UInt64(s))
            let yRef = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            let ref = Self.naivePointwiseGradients(x: x, w: w, dy: r, g: g)
            for threads in [1, 2, 3] {
                var y = [Float](repeating: .nan, count: g.outputCount), dx = [Float](repeating: .nan, count: g.inputCount)
                var dxAcc = [Float](repeating: 0.5, count: g.inputCount)
                var dw = [Float](repeating: 0.25, count: g.weightCount), db = [Float](repeating: -0.5, count: g.outChannels)
                var dwNoDx = [Float](repeating: 0, count: g.weightCount)
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(r).withPtr { rp in
                    Conv3d.pointwiseForwardDirect(x: xp, w: wp, bias: bp, y: &y, g: g, threads: threads)
                    Conv3d.pointwiseBackwardDirect(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                                   accumulateInput: false, threads: threads, packDy: true)
                    Conv3d.pointwiseBackwardDirect(x: xp, w: wp, dy: rp, dx: &dxAcc, dw: &dwNoDx, dbias: nil, g: g,
                                                   accumulateInput: true, threads: threads, packDy: true)
                    // dy read in place instead of through the packed chunk copy: the same bits.
                    var sdx = [Float](repeating: .nan, count: g.inputCount)
                    var sdw = [Float](repeating: 0.25, count: g.weightCount), sdb = [Float](repeating: -0.5, count: g.outChannels)
                    Conv3d.pointwiseBackwardDirect(x: xp, w: wp, dy: rp, dx: &sdx, dw: &sdw, dbias: &sdb, g: g,
                                                   accumulateInput: false, threads: threads, packDy: false)
                    XCTAssertEqual(sdx.map(\.bitPattern), dx.map(\.bitPattern), "cout \(g.outChannels)")
                    XCTAssertEqual(sdw.map(\.bitPattern), dw.map(\.bitPattern))
                    XCTAssertEqual(sdb.map(\.bitPattern), db.map(\.bitPattern))
                }}}}
                let ey = worstRelativeError(y, yRef), ex = worstRelativeError(dx, ref.dx)
                let ew = worstRelativeError(dw.map { $0 - 0.25 }, ref.dw), eb = worstRelativeError(db.map { $0 + 0.5 }, ref.db)
                let ea = worstRelativeError(dxAcc, ref.dx.map { $0 + 0.5 })
                report("direct 1x1 y / dx / dw / db vs Double (cout \(g.outChannels), \(threads) threads)", max(ey, ex, ew, eb, ea))
                if threads == 2 {
                    var gy = [Float](repeating: .nan, count: g.outputCount), gdx = [Float](repeating: .nan, count: g.inputCount)
                    var gdw = [Float](repeating: 0, count: g.weightCount), gdb = [Float](repeating: 0, count: g.outChannels)
                    floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(r).withPtr { rp in
                        Conv3d.forward(x: xp, w: wp, bias: bp, y: &gy, g: g, workspace: Workspace(), tile: 4096, threads: threads)
                        Conv3d.backward(x: xp, w: wp, dy: rp, dx: &gdx, dw: &gdw, dbias: &gdb, g: g, workspace: Workspace(),
                                        tile: 4096, threads: threads)
                    }}}}
                    print("  same shape, GEMM path: y \(worstRelativeError(gy, yRef)) dx \(worstRelativeError(gdx, ref.dx)) dw \(worstRelativeError(gdw, ref.dw)) db \(worstRelativeError(gdb, ref.db))")
                }
                XCTAssertLessThan(ey, 3e-5); XCTAssertLessThan(ex, 3e-5); XCTAssertLessThan(ew, 3e-5)
                XCTAssertLessThan(eb, 3e-5); XCTAssertLessThan(ea, 3e-5)
                XCTAssertLessThan(worstRelativeError(dwNoDx, ref.dw), 3e-5, "dw with accumulated dx")
            }
            // The public entry points pick the direct kernel on this CPU (unless DRO_HEAD=gemm).
            var y = [Float](repeating: .nan, count: g.outputCount)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                Conv3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), threads: 2)
            }}}
            XCTAssertLessThan(worstRelativeError(y, yRef), 3e-5)
        }
    }

    func testPointwiseGradientsAgainstFiniteDifferencesAndReproducible() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        // 4 classes: the two-vector block; 9: the one-vector block (the fetal head).
        for classes in [4, 9] { try checkPointwiseFiniteDifferences(classes: classes) }
    }

    private func checkPointwiseFiniteDifferences(classes: Int) throws {
        let g = Conv3dGeometry(batch: 2, inChannels: 6, outChannels: classes, inD: 3, inH: 4, inW: 21, kernel: 1, stride: 1, padding: 0)
        let x = randomDoubles(g.inputCount, seed: 191), w = randomDoubles(g.weightCount, seed: 192)
        let b = randomDoubles(g.outChannels, seed: 193), r = randomDoubles(g.outputCount, seed: 194)
        func run(_ threads: Int) -> (dx: [Float], dw: [Float], db: [Float]) {
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(r).withPtr { rp in
                Conv3d.pointwiseBackwardDirect(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                               accumulateInput: false, threads: threads)
            }}}
            return (dx, dw, db)
        }
        let a = run(2)
        let loss = { (x: [Double], w: [Double], b: [Double]) in dotLoss(ConvNaive.conv3d(x: x, w: w, bias: b, g: g), r) }
        let ex = worstRelativeError(analytic: a.dx, reference: finiteDifferences(x, indices: sampledIndices(x.count, every: 5)) { loss($0, w, b) })
        let ew = worstRelativeError(analytic: a.dw, reference: finiteDifferences(w) { loss(x, $0, b) })
        let eb = worstRelativeError(analytic: a.db, reference: finiteDifferences(b) { loss(x, w, $0) })
        report("direct 1x1 dx / dw / db vs finite differences (\(classes) classes)", max(ex, ew, eb))
        XCTAssertLessThan(ex, 1e-4); XCTAssertLessThan(ew, 1e-4); XCTAssertLessThan(eb, 1e-4)
        for threads in [1, 2, 3] {
            let p = run(threads), q = run(threads)
            XCTAssertEqual(p.dx.map(\.bitPattern), q.dx.map(\.bitPattern))
            XCTAssertEqual(p.dw.map(\.bitPattern), q.dw.map(\.bitPattern))
            XCTAssertEqual(p.db.map(\.bitPattern), q.db.map(\.bitPattern))
        }
    }

    /// 64-byte aligned buffers (FloatBuffer) with whole cache lines: the kernels' streaming-store
    /// branch (convT forward output, 1×1 forward output and input gradient) against Double.
    func testStreamingStoresOnAlignedBuffers() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        func buffer(_ d: [Double]) -> FloatBuffer { FloatBuffer(floats(d)) }
        let g = ConvTranspose3dGeometry(batch: 2, inChannels: 5, outChannels: 3, inD: 2, inH: 3, inW: 32)
        let x = randomDoubles(g.inputCount, seed: 201), w = randomDoubles(g.weightCount, seed: 202)
        let b = randomDoubles(g.outChannels, seed: 203)
        let xb = buffer(x), wb = buffer(w), bb = buffer(b), y = FloatBuffer(count: g.outputCount)
        XCTAssertEqual(Int(bitPattern: y.pointer) % 64, 0)
        ConvTranspose3d.forwardDirect(x: xb.pointer, w: wb.pointer, bias: bb.pointer, y: y.pointer, g: g, threads: 2)
        let ey = worstRelativeError(y.array, ConvNaive.convTranspose3d(x: x, w: w, bias: b, g: g))
        report("direct convT forward, aligned", ey)
        XCTAssertLessThan(ey, 3e-5)

        let pg = Conv3dGeometry(batch: 2, inChannels: 7, outChannels: 4, inD: 4, inH: 8, inW: 32, kernel: 1, stride: 1, padding: 0)
        let px = randomDoubles(pg.inputCount, seed: 211), pw = randomDoubles(pg.weightCount, seed: 212)
        let pb = randomDoubles(pg.outChannels, seed: 213), pr = randomDoubles(pg.outputCount, seed: 214)
        let pxb = buffer(px), pwb = buffer(pw), pbb = buffer(pb), prb = buffer(pr)
        let py = FloatBuffer(count: pg.outputCount), pdx = FloatBuffer(count: pg.inputCount)
        let pdw = FloatBuffer(count: pg.weightCount), pdb = FloatBuffer(count: pg.outChannels)
        Conv3d.pointwiseForwardDirect(x: pxb.pointer, w: pwb.pointer, bias: pbb.pointer, y: py.pointer, g: pg, threads: 2)
        Conv3d.pointwiseBackwardDirect(x: pxb.pointer, w: pwb.pointer, dy: prb.pointer, dx: pdx.pointer, dw: pdw.pointer,
                                       dbias: pdb.pointer, g: pg, accumulateInput: false, threads: 2)
        let ref = Self.naivePointwiseGradients(x: px, w: pw, dy: pr, g: pg)
        let e1 = worstRelativeError(py.array, ConvNaive.conv3d(x: px, w: pw, bias: pb, g: pg))
        let e2 = worstRelativeError(pdx.array, ref.dx)
        report("direct 1x1 y / dx, aligned", max(e1, e2))
        XCTAssertLessThan(e1, 3e-5); XCTAssertLessThan(e2, 3e-5)
    }
}
