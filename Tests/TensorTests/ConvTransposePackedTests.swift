import XCTest
@testable import Tensor

/// The packed AVX-512 kernels of the transposed conv 2×2×2 stride 2 (ConvTranspose3d+Packed.swift)
/// against the direct kernels (ConvTranspose3d+Direct.swift, themselves tested against the Double
/// definition in SmallLayersDirectTests) and the Double definition.
/// - Forward and dx sum in the direct kernel's order (forward: bias after Σ over Cin in order,
///   one FMA per term from 0; dx: Σ over k = co·8 + tap in order): equal bit for bit.
/// - dw and db sum in another order (Float over a chunk's voxels in order, up to a few hundred
///   terms, then Double per chunk and worker): against the Double definition, bound 1e-4 relative
///   (`worstRelativeError`; as ConvTranspose3dTests.testEveryBackwardPathMatchesDefinition for
///   every path), measured 3.1e-5 (printed; at a 280-voxel chunk of the 33 → 9 shape, where the
///   direct kernel's 4-row lane sums measure ≤ 1.6e-5 and the GEMM path ≤ 2.3e-5).
/// Shapes: rows narrower and wider than 16 voxels and not multiples of 16, Cin not a multiple of
/// 16 or 8, chunks forced short (whole rows; ending inside a (n, d) plane, at a sample's end,
/// crossing planes), batch 2, concat sample strides, 1–3 workers.
final class ConvTransposePackedTests: XCTestCase {
    static let shapes: [ConvTranspose3dGeometry] = [
        ConvTranspose3dGeometry(batch: 2, inChannels: 19, outChannels: 11, inD: 3, inH: 2, inW: 21),
        ConvTranspose3dGeometry(batch: 1, inChannels: 3, outChannels: 2, inD: 2, inH: 3, inW: 5),
        ConvTranspose3dGeometry(batch: 2, inChannels: 8, outChannels: 16, inD: 2, inH: 2, inW: 16),
        ConvTranspose3dGeometry(batch: 2, inChannels: 33, outChannels: 9, inD: 2, inH: 5, inW: 40),
        ConvTranspose3dGeometry(batch: 2, inChannels: 40, outChannels: 6, inD: 3, inH: 3, inW: 6),
        ConvTranspose3dGeometry(batch: 2, inChannels: 17, outChannels: 8, inD: 2, inH: 3, inW: 24),
    ]

    /// nil = the automatic chunk; then one row, 2 rows + part of a third (rounded down to whole
    /// rows), 7 rows (crosses (n, d) planes of 2–5 rows).
    static func chunks(_ g: ConvTranspose3dGeometry) -> [Int?] { [nil, g.inW, 2 * g.inW + 3, 7 * g.inW] }

    func testForwardEqualsDirectBitForBit() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        for (s, g) in Self.shapes.enumerated() {
            let x = floats(randomDoubles(g.inputCount, seed: 201 + UInt64(s)))
            let w = floats(randomDoubles(g.weightCount, seed: 211 + UInt64(s)))
            let b = floats(randomDoubles(g.outChannels, seed: 221 + UInt64(s)))
            let stride = 2 * g.outChannels * g.outVoxels
            var direct = [Float](repeating: 7.5, count: g.batch * stride)
            x.withPtr { xp in w.withPtr { wp in b.withPtr { bp in
                ConvTranspose3d.forwardDirect(x: xp, w: wp, bias: bp, y: &direct, g: g, ySampleStride: stride, threads: 2)
            }}}
            for chunk in Self.chunks(g) {
                for threads in [1, 2, 3] {
                    var y = [Float](repeating: 7.5, count: g.batch * stride)
                    x.withPtr { xp in w.withPtr { wp in b.withPtr { bp in
                        ConvTranspose3d.forwardPacked(x: xp, w: wp, bias: bp, y: &y, g: g, ySampleStride: stride,
                                                      workspace: Workspace(), chunkVoxels: chunk, threads: threads)
                    }}}
                    // Includes the untouched second half of each sample (7.5).
                    XCTAssertEqual(y.map(\.bitPattern), direct.map(\.bitPattern), "\(g) chunk \(String(describing: chunk)) threads \(threads)")
                }
            }
        }
    }

    func testBackwardMatchesDirectAndDefinition() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        var worst = 0.0
        for (s, g) in Self.shapes.enumerated() {
            let xd = randomDoubles(g.inputCount, seed: 231 + UInt64(s)), wd = randomDoubles(g.weightCount, seed: 241 + UInt64(s))
            let r = randomDoubles(g.outputCount, seed: 251 + UInt64(s))
            let ref = SmallLayersDirectTests.naiveTransposeGradients(x: xd, w: wd, dy: r, g: g)
            let x = floats(xd), w = floats(wd)
            // dy read from the first half of a concat gradient (sample stride 2·Cout·outVoxels).
            let stride = 2 * g.outChannels * g.outVoxels
            var cat = [Float](repeating: .nan, count: g.batch * stride)
            for n in 0..<g.batch {
                for i in 0..<(stride / 2) { cat[n * stride + i] = Float(r[n * stride / 2 + i]) }
            }
            var directDx = [Float](repeating: .nan, count: g.inputCount)
            var scratchW = [Float](repeating: 0, count: g.weightCount)
            x.withPtr { xp in w.withPtr { wp in cat.withPtr { rp in
                ConvTranspose3d.backwardDirect(x: xp, w: wp, dy: rp, dx: &directDx, dw: &scratchW, dbias: nil, g: g,
                                               dySampleStride: stride, threads: 2)
            }}}
            for chunk in Self.chunks(g) {
                for threads in [1, 2, 3] {
                    var dx = [Float](repeating: .nan, count: g.inputCount)
                    // Accumulating: dw from 0.25, db from −0.5, removed before the comparison.
                    var dw = [Float](repeating: 0.25, count: g.weightCount), db = [Float](repeating: -0.5, count: g.outChannels)
                    var dwNoDx = [Float](repeating: 0, count: g.weightCount)
                    x.withPtr { xp in w.withPtr { wp in cat.withPtr { rp in
                        ConvTranspose3d.backwardPacked(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                                       dySampleStride: stride, workspace: Workspace(), chunkVoxels: chunk,
                                                       threads: threads)
                        ConvTranspose3d.backwardPacked(x: xp, w: wp, dy: rp, dx: nil, dw: &dwNoDx, dbias: nil, g: g,
                                                       dySampleStride: stride, workspace: Workspace(), chunkVoxels: chunk,
                                                       threads: threads)
                    }}}
                    let label = "\(g) chunk \(String(describing: chunk)) threads \(threads)"
                    XCTAssertEqual(dx.map(\.bitPattern), directDx.map(\.bitPattern), "dx " + label)
                    let ew = worstRelativeError(dw.map { $0 - 0.25 }, ref.dw)
                    let eb = worstRelativeError(db.map { $0 + 0.5 }, ref.db)
                    let ew2 = worstRelativeError(dwNoDx, ref.dw)
                    worst = max(worst, ew, eb, ew2, worstRelativeError(dx, ref.dx))
                    XCTAssertLessThan(ew, 1e-4, "dw " + label); XCTAssertLessThan(eb, 1e-4, "db " + label)
                    XCTAssertLessThan(ew2, 1e-4, "dw without dx " + label)
                }
            }
        }
        report("packed convT dx / dw / db vs Double", worst)
    }

    /// dw and db are summed per worker (fixed rows) in worker order: two runs agree bit for bit;
    /// dx does not depend on the thread count.
    func testBackwardIsReproducible() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the GEMM path runs")
        let g = ConvTranspose3dGeometry(batch: 2, inChannels: 9, outChannels: 5, inD: 5, inH: 6, inW: 19)
        let x = floats(randomDoubles(g.inputCount, seed: 261)), w = floats(randomDoubles(g.weightCount, seed: 262))
        let r = floats(randomDoubles(g.outputCount, seed: 263))
        func run(_ threads: Int) -> [[UInt32]] {
            var dx = [Float](repeating: .nan, count: g.inputCount)
            var dw = [Float](repeating: 0, count: g.weightCount), db = [Float](repeating: 0, count: g.outChannels)
            x.withPtr { xp in w.withPtr { wp in r.withPtr { rp in
                ConvTranspose3d.backwardPacked(x: xp, w: wp, dy: rp, dx: &dx, dw: &dw, dbias: &db, g: g,
                                               workspace: Workspace(), chunkVoxels: 3 * g.inW, threads: threads)
            }}}
            return [dx, dw, db].map { $0.map(\.bitPattern) }
        }
        let one = run(1)
        for threads in [2, 3] {
            let a = run(threads), again = run(threads)
            XCTAssertEqual(a, again, "\(threads) threads, twice")
            XCTAssertEqual(a[0], one[0], "dx, \(threads) vs 1 thread")
        }
    }

    /// The automatic choice: the fetal network's up0–up2 backward and the up1 / up2 forward (rows
    /// of 24 and 12 voxels) take the packed kernels, up0's forward (rows of 48) the direct one,
    /// up3 (chunks of 48 voxels) keeps the GEMM path.
    func testAutomaticChoice() throws {
        try XCTSkipUnless(CPUFeatures.avx512 && ConvTranspose3d.requested == nil && ConvTranspose3d.packedSetting == (true, true),
                          "needs AVX-512 and no DRO_CONVT / DRO_CONVT_PACKED")
        let up0 = ConvTranspose3dGeometry(batch: 2, inChannels: 64, outChannels: 32, inD: 48, inH: 48, inW: 48)
        let up3 = ConvTranspose3dGeometry(batch: 2, inChannels: 320, outChannels: 256, inD: 6, inH: 6, inW: 6)
        let up1 = ConvTranspose3dGeometry(batch: 2, inChannels: 128, outChannels: 64, inD: 24, inH: 24, inW: 24)
        XCTAssertEqual(ConvTranspose3d.automaticForwardKernel(up0), .direct)
        XCTAssertEqual(ConvTranspose3d.automaticForwardKernel(up1), .packed)
        XCTAssertEqual(ConvTranspose3d.automaticBackwardKernel(up1), .packed)
        XCTAssertEqual(ConvTranspose3d.automaticBackwardKernel(up0), .packed)
        XCTAssertNotEqual(ConvTranspose3d.automaticBackwardKernel(up3), .packed)
        XCTAssertNotEqual(ConvTranspose3d.automaticForwardKernel(up3), .packed)
    }
}
