import XCTest
@testable import Tensor

/// The stride-2 backward on the direct polyphase products where the forward stays on im2col
/// (ConvPolyphase+Backward.swift): which layers take it, and the direct backward at the output
/// channel counts it newly runs (up to 128: two 64-channel passes of the weight-gradient kernel,
/// K = taps·128 rows in the input-gradient kernel) against the gradients in Double from the
/// definition and against the im2col path it replaces.
final class ConvPolyphaseBackwardTests: XCTestCase {
    func testWhichLayersTakeTheDirectBackward() {
        func geometry(_ cin: Int, _ cout: Int, _ n: Int, batch: Int = 2) -> Conv3dGeometry {
            Conv3dGeometry(batch: batch, inChannels: cin, outChannels: cout, inD: n, inH: n, inW: n, kernel: 3, stride: 2, padding: 1)
        }
        let enc1 = geometry(32, 64, 96), enc2 = geometry(64, 128, 48), enc3 = geometry(128, 256, 24), enc4 = geometry(256, 320, 12)
        let reference128 = geometry(64, 128, 16)
        // The forward's rule is unchanged: enc1.0 on the polyphase products, the rest on im2col.
        XCTAssertTrue(ConvPolyphase.isProfitable(enc1))
        for g in [enc2, enc3, enc4, reference128] { XCTAssertFalse(ConvPolyphase.isProfitable(g), "\(g)") }
        // The backward: the fetal enc2.0 (128 channels, 24² output planes) on the direct products;
        // enc3.0 / enc4.0 (256 / 320 channels) and the reference network's 64 → 128 layer at 8² output
        // planes (1.27× extended columns) stay on im2col.
        XCTAssertTrue(ConvPolyphase.isProfitableDirectBackward(enc2) == CPUFeatures.avx512)
        for g in [enc3, enc4, reference128] { XCTAssertFalse(ConvPolyphase.isProfitableDirectBackward(g), "\(g)") }
        XCTAssertLessThanOrEqual(ConvPolyphase.scratchBytes(enc2, kernel: .direct), ConvPolyphase.maximumScratchBytes)
        guard ConvPolyphase.choice == .automatic else { return }
        XCTAssertEqual(ConvPolyphase.selectedBackwardKernel(enc1), ConvPolyphase.automaticKernel(enc1))
        let expected: ConvPolyphase.Kernel? = CPUFeatures.avx512 && !ConvPolyphase.backwardFollowsForward ? .direct : nil
        XCTAssertEqual(ConvPolyphase.selectedBackwardKernel(enc2), expected)
        for g in [enc3, enc4, reference128] { XCTAssertNil(ConvPolyphase.selectedBackwardKernel(g), "\(g)") }
    }

    /// Output channel counts 128 (two full 4-vector passes of the weight-gradient kernel), 96 (a
    /// 4-vector and a 2-vector pass) and 120 (masked last vector), batch 2, odd sizes, whole
    /// samples and slabs of 1 and 2 output planes, 1 and 2 threads, dx overwritten and accumulated,
    /// dw accumulated, against the Double definition; and against the im2col + sgemm backward.
    func testDirectBackwardUpTo128ChannelsMatchesDoubleDefinitionAndIm2col() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the backward follows the forward")
        let shapes = [
            Conv3dGeometry(batch: 2, inChannels: 5, outChannels: 128, inD: 5, inH: 9, inW: 8, kernel: 3, stride: 2, padding: 1),
            Conv3dGeometry(batch: 1, inChannels: 9, outChannels: 96, inD: 6, inH: 7, inW: 11, kernel: 3, stride: 2, padding: 1),
            Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 120, inD: 7, inH: 6, inW: 6, kernel: 3, stride: 2, padding: 1),
        ]
        for (s, g) in shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 71 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 81 + UInt64(s))
            let r = randomDoubles(g.outputCount, seed: 91 + UInt64(s))
            let (dxRef, dwRef) = ConvPolyphaseDirectTests.naiveGradients(x: x, w: w, dy: r, g: g)
            var dbRef = [Double](repeating: 0, count: g.outChannels)
            for n in 0..<g.batch { for co in 0..<g.outChannels { for v in 0..<g.outVoxels {
                dbRef[co] += r[(n * g.outChannels + co) * g.outVoxels + v]
            }}}
            let xf = floats(x), wf = floats(w), rf = floats(r), ws = Workspace()
            // The path it replaces: im2col + sgemm.
            var dxI = [Float](repeating: .nan, count: g.inputCount), dwI = [Float](repeating: 0, count: g.weightCount)
            var dbI = [Float](repeating: 0, count: g.outChannels)
            Conv3d.backward(x: xf, w: wf, dy: rf, dx: &dxI, dw: &dwI, dbias: &dbI, g: g, workspace: ws, threads: 2)
            for threads in [1, 2] {
                for slab in [nil, 1, 2] as [Int?] {
                    var dx = [Float](repeating: .nan, count: g.inputCount), dxAcc = [Float](repeating: 0.5, count: g.inputCount)
                    var dw = [Float](repeating: 0.25, count: g.weightCount), dwNoDx = [Float](repeating: 0, count: g.weightCount)
                    var db = [Float](repeating: 0, count: g.outChannels)
                    ConvPolyphase.backward(x: xf, w: wf, dy: rf, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                           kernel: .direct, slabPlanes: slab, threads: threads)
                    ConvPolyphase.backward(x: xf, w: wf, dy: rf, dx: &dxAcc, dw: &dwNoDx, dbias: nil, g: g, workspace: ws,
                                           accumulateInput: true, kernel: .direct, slabPlanes: slab, threads: threads)
                    ConvPolyphase.backward(x: xf, w: wf, dy: rf, dx: nil, dw: &dwNoDx, dbias: nil, g: g, workspace: ws,
                                           kernel: .direct, slabPlanes: slab, threads: threads)
                    let tag = "\(g) threads \(threads) slab \(slab.map(String.init) ?? "whole")"
                    let edx = worstRelativeError(dx, dxRef), edxAcc = worstRelativeError(dxAcc.map { $0 - 0.5 }, dxRef)
                    let edw = worstRelativeError(dw.map { $0 - 0.25 }, dwRef), edw2 = worstRelativeError(dwNoDx.map { $0 / 2 }, dwRef)
                    let edb = worstRelativeError(db, dbRef)
                    report("direct backward dx \(tag)", edx); report("dx accumulated", edxAcc)
                    report("dw", edw); report("dw twice, once without dx", edw2); report("dbias", edb)
                    // Bounds as in ConvPolyphaseDirectTests (the project's 1e-4): dx is one FMA chain of
                    // ≤ 8·Cout = 1024 products per phase entry, dw FMA chains of ≤ 64 columns added into
                    // dw; a wrong or missing tap, channel pass or slab share gives ≥ 1e-2.
                    XCTAssertLessThan(edx, 1e-4, "dx \(tag)")
                    XCTAssertLessThan(edxAcc, 1e-4, "dx accumulated \(tag)")
                    XCTAssertLessThan(edw, 1e-4, "dw \(tag)")
                    XCTAssertLessThan(edw2, 1e-4, "dw without dx \(tag)")
                    XCTAssertLessThan(edb, 1e-5, "dbias \(tag)")
                    // Against the im2col backward it replaces (same Double-relative metric, its own
                    // rounding within the same bound); dbias is the same function on both paths.
                    XCTAssertLessThan(worstRelativeError(dx, dxI.map(Double.init)), 1e-4, "dx vs im2col \(tag)")
                    XCTAssertLessThan(worstRelativeError(dw.map { $0 - 0.25 }, dwI.map(Double.init)), 1e-4, "dw vs im2col \(tag)")
                    XCTAssertEqual(db.map(\.bitPattern), dbI.map(\.bitPattern), "dbias bits \(tag)")
                }
            }
        }
    }

    /// The forward / input-gradient kernel with and without the B prefetches: bit for bit the same
    /// C (prefetches change no arithmetic), and both within Float rounding of the Double product,
    /// at shapes that take both prefetch targets (the next K chunk: K > 128; the next column block:
    /// more than 48 columns) and the tails (m not a multiple of 8, a last partial column block,
    /// K not a multiple of 128, n0 > 0).
    func testRowsGemmPrefetchSameBits() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1)")
        for (m, k, n0, n1) in [(8, 7, 0, 48), (13, 300, 3, 3 + 3 * 48 + 17), (64, 129, 0, 5 * 48), (5, 512, 1, 200),
                               (32, 128, 0, 97)] {
            let rowLength = n1 + 64
            let b = randomDoubles(k * rowLength, seed: UInt64(m * 1000 + k)), av = randomDoubles(m * k, seed: UInt64(k))
            let packed = UnsafeMutablePointer<Float>.allocate(capacity: ConvPolyphase.packedCount(m: m, k: k))
            let bf = UnsafeMutablePointer<Float>.allocate(capacity: k * rowLength)
            let rows = UnsafeMutablePointer<UnsafePointer<Float>?>.allocate(capacity: k)
            defer { packed.deallocate(); bf.deallocate(); rows.deallocate() }
            for i in 0..<(k * rowLength) { bf[i] = Float(b[i]) }
            // Rows in a scattered order (as the taps' shifted phase rows are).
            for p in 0..<k { rows[p] = UnsafePointer(bf + ((p * 37) % k) * rowLength + p % 3) }
            ConvPolyphase.packBlocks(m: m, k: k, into: packed) { p, i in Float(av[i * k + p]) }
            let ldc = n1 - n0 + 5
            var with = [Float](repeating: .nan, count: m * ldc), without = [Float](repeating: .nan, count: m * ldc)
            with.withUnsafeMutableBufferPointer { ConvPolyphase.rowsGemm(m, k, packed, rows, n0, n1, $0.baseAddress!, ldc, prefetch: true) }
            without.withUnsafeMutableBufferPointer { ConvPolyphase.rowsGemm(m, k, packed, rows, n0, n1, $0.baseAddress!, ldc, prefetch: false) }
            XCTAssertEqual(with.map(\.bitPattern), without.map(\.bitPattern), "m \(m) k \(k) columns \(n0)..<\(n1)")
            var worst = 0.0
            for i in 0..<m {
                for n in n0..<n1 {
                    var ref = 0.0, mag = 0.0
                    for p in 0..<k {
                        let t = Double(Float(av[i * k + p])) * Double(rows[p]![n]); ref += t; mag += abs(t)
                    }
                    worst = max(worst, abs(Double(with[i * ldc + n - n0]) - ref) / mag)
                }
            }
            // Relative to Σ|terms|: one FMA chain of k ≤ 512 terms, bound k·2⁻²³ (≤ 6e-5); a wrong row or
            // column gives O(1).
            XCTAssertLessThan(worst, Double(k) * 0x1p-23, "m \(m) k \(k)")
            // The columns outside [n0, n1) of each C row are not written.
            for i in 0..<m { for j in (n1 - n0)..<ldc { XCTAssertTrue(with[i * ldc + j].isNaN) } }
        }
    }
}
