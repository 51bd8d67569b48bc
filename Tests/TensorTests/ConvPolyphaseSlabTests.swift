import XCTest
@testable import Tensor

/// The polyphase stride-2 convolution over depth slabs (ConvPolyphase+Slabs.swift): volumes that
/// span several slabs (slabs of 1, 2 and 3 output planes forced), odd sizes, batch 2, both
/// products, against the convolution and its gradients in Double from the definition and against
/// central finite differences; dx starts as NaN so a dx plane no slab writes (or one written at a
/// slab border from an incomplete phase gradient) fails.
final class ConvPolyphaseSlabTests: XCTestCase {
    /// Odd and even depths (odd: the last slab's last phase plane reads one input plane only),
    /// odd H / W, a depth of one output plane, Cout past the direct kernels' 8-row block.
    static let shapes: [Conv3dGeometry] = [
        Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 5, inD: 9, inH: 7, inW: 6, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 4, outChannels: 13, inD: 10, inH: 5, inW: 9, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 3, inD: 13, inH: 4, inW: 5, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 2, outChannels: 4, inD: 2, inH: 3, inW: 5, kernel: 3, stride: 2, padding: 1),
    ]
    static let slabSizes = [1, 2, 3]

    static var kernels: [ConvPolyphase.Kernel] { CPUFeatures.avx512 ? [.sgemm, .direct] : [.sgemm] }

    struct Result { var y, dx, dxAcc, dw, dwNoDx: [Float] }

    /// Forward; backward with dx overwritten (NaN before) and dw accumulated onto 0.25; backward
    /// accumulating into dx = 0.5; backward without dx.
    static func run(_ g: Conv3dGeometry, x: [Double], w: [Double], b: [Double], dy: [Double],
                    kernel: ConvPolyphase.Kernel, slab: Int?, threads: Int, tile: Int? = nil) -> Result {
        var r = Result(y: [Float](repeating: .nan, count: g.outputCount), dx: [Float](repeating: .nan, count: g.inputCount),
                       dxAcc: [Float](repeating: 0.5, count: g.inputCount),
                       dw: [Float](repeating: 0.25, count: g.weightCount), dwNoDx: [Float](repeating: 0, count: g.weightCount))
        let ws = Workspace()
        floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(dy).withPtr { dyp in
            ConvPolyphase.forward(x: xp, w: wp, bias: bp, y: &r.y, g: g, workspace: ws, tile: tile, kernel: kernel,
                                  slabPlanes: slab, threads: threads)
            ConvPolyphase.backward(x: xp, w: wp, dy: dyp, dx: &r.dx, dw: &r.dw, dbias: nil, g: g, workspace: ws,
                                   tile: tile, kernel: kernel, slabPlanes: slab, threads: threads)
            ConvPolyphase.backward(x: xp, w: wp, dy: dyp, dx: &r.dxAcc, dw: &r.dwNoDx, dbias: nil, g: g, workspace: ws,
                                   accumulateInput: true, tile: tile, kernel: kernel, slabPlanes: slab, threads: threads)
            ConvPolyphase.backward(x: xp, w: wp, dy: dyp, dx: nil, dw: &r.dwNoDx, dbias: nil, g: g, workspace: ws,
                                   tile: tile, kernel: kernel, slabPlanes: slab, threads: threads)
        }}}}
        return r
    }

    func testSlabsMatchDoubleDefinition() {
        for kernel in Self.kernels { for (s, g) in Self.shapes.enumerated() { for slab in Self.slabSizes {
            let x = randomDoubles(g.inputCount, seed: 101 + UInt64(s)), w = randomDoubles(g.weightCount, seed: 111 + UInt64(s))
            let b = randomDoubles(g.outChannels, seed: 121), dy = randomDoubles(g.outputCount, seed: 131 + UInt64(s))
            let yRef = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            let (dxRef, dwRef) = ConvPolyphaseDirectTests.naiveGradients(x: x, w: w, dy: dy, g: g)
            // Tiles of 7 columns: tiles end mid-row inside every slab (sgemm path).
            let r = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: kernel, slab: slab, threads: 2, tile: 7)
            let label = "\(kernel) slab \(slab) \(g)"
            XCTAssertFalse(r.dx.contains { $0.isNaN }, "dx planes left unwritten: \(label)")
            let ey = worstRelativeError(r.y, yRef), edx = worstRelativeError(r.dx, dxRef)
            let edxAcc = worstRelativeError(r.dxAcc.map { $0 - 0.5 }, dxRef)
            let edw = worstRelativeError(r.dw.map { $0 - 0.25 }, dwRef), edw2 = worstRelativeError(r.dwNoDx.map { $0 / 2 }, dwRef)
            report("slabs \(label) y", ey); report("slabs dx", edx); report("slabs dx accumulated", edxAcc)
            report("slabs dw", edw); report("slabs dw twice, once without dx", edw2)
            // Float sums of ≤ 27·Cin = 108 (forward, dw per slab) or ≤ 8·Cout = 104 (dx) products of
            // values in [-1, 1] against Double: ≲ 1e-5 in this metric (relative, floor 1 % of the
            // scale); the bound is the project's 1e-4. A dx plane merged from a phase gradient
            // missing one slab's share, a halo plane read from the wrong input planes or a dw
            // missing a slab gives errors ≥ 1e-2.
            XCTAssertLessThan(ey, 1e-4, "y \(label)"); XCTAssertLessThan(edx, 1e-4, "dx \(label)")
            XCTAssertLessThan(edxAcc, 1e-4, "dx accumulated \(label)")
            XCTAssertLessThan(edw, 1e-4, "dw \(label)"); XCTAssertLessThan(edw2, 1e-4, "dw without dx \(label)")
        }}}
    }

    /// Gradients over two-plane slabs against central finite differences of the naive convolution.
    func testSlabGradientsAgainstFiniteDifferences() {
        let g = Conv3dGeometry(batch: 2, inChannels: 2, outChannels: 3, inD: 7, inH: 5, inW: 4, kernel: 3, stride: 2, padding: 1)
        for kernel in Self.kernels { for slab in [1, 2] {
            let x = randomDoubles(g.inputCount, seed: 141), w = randomDoubles(g.weightCount, seed: 142)
            let b = randomDoubles(g.outChannels, seed: 143), dy = randomDoubles(g.outputCount, seed: 144)
            var dx = [Float](repeating: .nan, count: g.inputCount), dw = [Float](repeating: 0, count: g.weightCount)
            var db = [Float](repeating: 0, count: g.outChannels)
            let ws = Workspace()
            floats(x).withPtr { xp in floats(w).withPtr { wp in floats(dy).withPtr { dyp in
                ConvPolyphase.backward(x: xp, w: wp, dy: dyp, dx: &dx, dw: &dw, dbias: &db, g: g, workspace: ws,
                                       kernel: kernel, slabPlanes: slab, threads: 2)
            }}}
            let fdx = finiteDifferences(x) { dotLoss(ConvNaive.conv3d(x: $0, w: w, bias: b, g: g), dy) }
            let fdw = finiteDifferences(w) { dotLoss(ConvNaive.conv3d(x: x, w: $0, bias: b, g: g), dy) }
            let fdb = finiteDifferences(b) { dotLoss(ConvNaive.conv3d(x: x, w: w, bias: $0, g: g), dy) }
            let ex = worstRelativeError(analytic: dx, reference: fdx), ew = worstRelativeError(analytic: dw, reference: fdw)
            let eb = worstRelativeError(analytic: db, reference: fdb)
            report("slabs FD \(kernel) slab \(slab) dx", ex); report("slabs FD dw", ew); report("slabs FD dbias", eb)
            // Float sums of ≤ 54 terms against Double FD (truncation ~1e-10): the 1e-4 bound of the
            // other polyphase FD tests.
            XCTAssertLessThan(ex, 1e-4, "\(kernel) slab \(slab)"); XCTAssertLessThan(ew, 1e-4, "\(kernel) slab \(slab)")
            XCTAssertLessThan(eb, 1e-4, "\(kernel) slab \(slab)")
        }}
    }

    /// The direct products compute each output and each phase-gradient entry with the same
    /// products in the same order whatever the slabs: y and dx are bit-identical to the whole
    /// sample's; every result is bit-identical for 1, 2 and 3 threads (the existing standard of
    /// these kernels), slabs or not.
    func testDirectSlabsSameBitsAsWholeSampleAndAnyThreadCount() throws {
        try XCTSkipUnless(CPUFeatures.avx512, "no AVX-512 (or DRO_PORTABLE_KERNELS=1): the sgemm path runs")
        let g = Conv3dGeometry(batch: 2, inChannels: 5, outChannels: 19, inD: 11, inH: 10, inW: 9, kernel: 3, stride: 2, padding: 1)
        let x = randomDoubles(g.inputCount, seed: 151), w = randomDoubles(g.weightCount, seed: 152)
        let b = randomDoubles(g.outChannels, seed: 153), dy = randomDoubles(g.outputCount, seed: 154)
        let whole = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: .direct, slab: g.outD, threads: 1)
        func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }
        for slab in [1, 2, 4] {
            let one = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: .direct, slab: slab, threads: 1)
            XCTAssertEqual(bits(one.y), bits(whole.y), "y slab \(slab)")
            XCTAssertEqual(bits(one.dx), bits(whole.dx), "dx slab \(slab)")
            XCTAssertEqual(bits(one.dxAcc), bits(whole.dxAcc), "dx accumulated slab \(slab)")
            for threads in [2, 3] {
                let t = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: .direct, slab: slab, threads: threads)
                XCTAssertEqual(bits(t.y + t.dx + t.dxAcc + t.dw + t.dwNoDx),
                               bits(one.y + one.dx + one.dxAcc + one.dw + one.dwNoDx), "slab \(slab) threads \(threads)")
            }
        }
    }

    /// The sgemm path over slabs: same bits for 1, 2 and 3 workers (its GEMMs split by
    /// `parallelSgemm`, whose parts equal one single-threaded call).
    func testSgemmSlabsSameBitsForAnyThreadCount() {
        let saved = Parallel.blasThreading
        Parallel.blasThreading = .workers
        defer { Parallel.blasThreading = saved }
        let g = Conv3dGeometry(batch: 1, inChannels: 16, outChannels: 32, inD: 32, inH: 32, inW: 30, kernel: 3, stride: 2, padding: 1)
        let x = randomDoubles(g.inputCount, seed: 161), w = randomDoubles(g.weightCount, seed: 162)
        let b = randomDoubles(g.outChannels, seed: 163), dy = randomDoubles(g.outputCount, seed: 164)
        let one = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: .sgemm, slab: 5, threads: 1)
        for threads in [2, 3] {
            let t = Self.run(g, x: x, w: w, b: b, dy: dy, kernel: .sgemm, slab: 5, threads: threads)
            let differing = zip(t.y + t.dx + t.dw, one.y + one.dx + one.dw).filter { $0.0.bitPattern != $0.1.bitPattern }.count
            XCTAssertEqual(differing, 0, "threads \(threads)")
        }
        let (dxRef, dwRef) = ConvPolyphaseDirectTests.naiveGradients(x: x, w: w, dy: dy, g: g)
        let ey = worstRelativeError(one.y, ConvNaive.conv3d(x: x, w: w, bias: b, g: g))
        let edx = worstRelativeError(one.dx, dxRef), edw = worstRelativeError(one.dw.map { $0 - 0.25 }, dwRef)
        report("slabs sgemm 16→32 y", ey); report("slabs sgemm dx", edx); report("slabs sgemm dw", edw)
        // Sums of ≤ 432 (y), ≤ 256 (dx) products, dw of ≤ 16·32·30 per tile: ~1e-6 of the scale; 1e-4.
        XCTAssertLessThan(ey, 1e-4); XCTAssertLessThan(edx, 1e-4); XCTAssertLessThan(edw, 1e-4)
    }

    /// Slab sizing: the slabs cover every output plane once; the scratch stays within the budget
    /// (when one plane fits); the fetal network's 32 → 64 layer at 96³ (240 MB as one slab) fits.
    func testSlabSizingAndCover() {
        let fetal = Conv3dGeometry(batch: 2, inChannels: 32, outChannels: 64, inD: 96, inH: 96, inW: 96, kernel: 3, stride: 2, padding: 1)
        for g in Self.shapes + [fetal] {
            for kernel in Self.kernels { for backward in [false, true] {
                let s = ConvPolyphase.slabPlanes(g, kernel: kernel, backward: backward)
                let perPlane = ConvPolyphase.slabFloatsPerPlane(g, kernel: kernel, backward: backward) * 4
                XCTAssertTrue(s == 1 || (s + 1) * perPlane <= ConvPolyphase.slabBudgetBytes, "\(g)")
                XCTAssertTrue(s == g.outD || (s + 2) * perPlane > ConvPolyphase.slabBudgetBytes, "largest slab \(g)")
            }}
            for s in 1...(g.outD + 1) {
                let covered = ConvPolyphase.slabs(g, planes: s).flatMap { Array($0) }
                XCTAssertEqual(covered, Array(0..<g.outD), "\(g) slabs of \(s)")
            }
        }
        XCTAssertLessThanOrEqual(ConvPolyphase.scratchBytes(fetal), ConvPolyphase.slabBudgetBytes)
        XCTAssertTrue(ConvPolyphase.isProfitable(fetal))
    }

    /// The AVX2 split and merge of slabs against the Swift loops, bit for bit (sentinel-filled
    /// buffers), and the slabs' merges together against the whole sample's merge.
    func testCSplitAndMergeOfSlabsAreBitIdenticalToSwift() throws {
        try XCTSkipUnless(ConvCKernels.available, "no AVX2 + FMA (or DRO_PORTABLE_KERNELS=1): the Swift loops run")
        for g in Self.shapes + [Conv3dGeometry(batch: 1, inChannels: 3, outChannels: 2, inD: 15, inH: 6, inW: 17,
                                               kernel: 3, stride: 2, padding: 1)] {
            for slab in Self.slabSizes {
                var dxSlabs = [Float](repeating: .nan, count: g.inChannels * g.inVoxels)
                let x = floats(randomDoubles(g.inChannels * g.inVoxels, seed: 171))
                let lw = ConvPolyphase.Layout(g)
                var whole = [Float](repeating: .nan, count: 8 * g.inChannels * lw.volume)
                x.withPtr { xp in ConvPolyphase.split(xp, g, lw, into: &whole, threads: 2, portable: true) }
                for planes in ConvPolyphase.slabs(g, planes: slab) {
                    let l = ConvPolyphase.Layout(g, planes: planes), size = 8 * g.inChannels * l.volume
                    var pc = [Float](repeating: .nan, count: size), ps = pc
                    x.withPtr { xp in
                        ConvPolyphase.split(xp, g, l, into: &pc, threads: 2, portable: false)
                        ConvPolyphase.split(xp, g, l, into: &ps, threads: 2, portable: true)
                    }
                    XCTAssertEqual(pc.map(\.bitPattern), ps.map(\.bitPattern), "split \(g) \(planes)")
                    XCTAssertFalse(pc.contains { $0.isNaN }, "split left entries unwritten \(g) \(planes)")
                    // The slab's phase planes 0 ... outD are the whole sample's planes firstPlane + i.
                    let pp = l.ph * l.pw
                    for pc0 in 0..<(8 * g.inChannels) {
                        let a = Array(pc[(pc0 * l.volume)..<((pc0 + 1) * l.volume)])
                        let start = pc0 * lw.volume + l.firstPlane * pp
                        XCTAssertEqual(a.map(\.bitPattern), whole[start..<(start + l.volume)].map(\.bitPattern),
                                       "slab split against the whole sample's \(g) \(planes)")
                    }
                    let phases = floats(randomDoubles(size, seed: 173 + UInt64(planes.lowerBound)))
                    for accumulate in [false, true] {
                        let start = floats(randomDoubles(g.inChannels * g.inVoxels, seed: 177))
                        var dc = accumulate ? start : [Float](repeating: .nan, count: start.count), ds = dc
                        phases.withPtr { pp in
                            ConvPolyphase.merge(pp, g, l, into: &dc, accumulate: accumulate, threads: 2, portable: false)
                            ConvPolyphase.merge(pp, g, l, into: &ds, accumulate: accumulate, threads: 2, portable: true)
                        }
                        XCTAssertEqual(dc.map(\.bitPattern), ds.map(\.bitPattern), "merge \(g) \(planes) accumulate \(accumulate)")
                    }
                    phases.withPtr { pp in
                        ConvPolyphase.merge(pp, g, l, into: &dxSlabs, accumulate: false, threads: 2, portable: false)
                    }
                }
                XCTAssertFalse(dxSlabs.contains { $0.isNaN }, "slab merges left dx voxels unwritten \(g) slab \(slab)")
            }
        }
    }
}
