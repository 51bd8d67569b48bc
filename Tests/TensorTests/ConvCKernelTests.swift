import XCTest
@testable import Tensor

/// The AVX2 C kernels (`ConvCKernels`) against the Swift paths they replace and against the naive
/// direct convolution in Double. Stride-2 im2col/col2im do the same operations in the same order
/// as the Swift path, so they must match it bit for bit; the single-channel kernels sum in another
/// order (FMA, bias first), so they are held to Float-rounding tolerances. Skipped on CPUs
/// without AVX2 + FMA or with DRO_PORTABLE_KERNELS=1 (then the Swift paths run everywhere).
final class ConvCKernelTests: XCTestCase {
    /// Stride-2, 3×3×3, padding-1 shapes: odd and even sizes, W below, at and above one or two
    /// 8-lane vectors of outputs, Cin = 1, batch 2. Tiles: whole sample, mid-row ends, 1 column.
    static let stride2Shapes: [Conv3dGeometry] = [
        Conv3dGeometry(batch: 2, inChannels: 3, outChannels: 4, inD: 5, inH: 6, inW: 7, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 3, inD: 6, inH: 4, inW: 10, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 2, inD: 3, inH: 5, inW: 33, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 5, inD: 4, inH: 4, inW: 32, kernel: 3, stride: 2, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 2, outChannels: 2, inD: 2, inH: 3, inW: 1, kernel: 3, stride: 2, padding: 1),
    ]

    func tiles(_ g: Conv3dGeometry) -> [Int] { [g.outVoxels, 13, 7, 1, g.outW + 3].filter { $0 <= g.outVoxels } }

    func requireKernels() throws {
        try XCTSkipUnless(ConvCKernels.available, "no AVX2 + FMA (or DRO_PORTABLE_KERNELS=1): the Swift paths run")
    }

    func bits(_ a: UnsafeMutablePointer<Float>, _ n: Int) -> [UInt32] { (0..<n).map { a[$0].bitPattern } }

    func testStride2Im2colBitIdenticalToSwift() throws {
        try requireKernels()
        for (k, g) in Self.stride2Shapes.enumerated() {
            XCTAssertTrue(ConvCKernels.appliesStride2(g))
            let x = floats(randomDoubles(g.batch * g.inChannels * g.inVoxels, seed: 900 + UInt64(k)))
            for tile in tiles(g) {
                let n = g.columnRows * tile
                let a = UnsafeMutablePointer<Float>.allocate(capacity: n), b = UnsafeMutablePointer<Float>.allocate(capacity: n)
                defer { a.deallocate(); b.deallocate() }
                for threads in [1, 2] {
                    for s in 0..<g.batch {
                        var v0 = 0
                        while v0 < g.outVoxels {
                            let t = min(tile, g.outVoxels - v0)
                            a.update(repeating: .nan, count: n); b.update(repeating: -.nan, count: n)
                            x.withPtr { xp in
                                let xs = xp + s * g.inChannels * g.inVoxels
                                Im2col.fillPortable(x: xs, g: g, v0: v0, count: t, col: a, threads: threads)
                                ConvCKernels.im2colStride2(x: xs, g: g, v0: v0, count: t, col: b, threads: threads)
                            }
                            XCTAssertEqual(bits(a, g.columnRows * t), bits(b, g.columnRows * t), "\(g) tile \(tile) v0 \(v0)")
                            v0 += t
                        }
                    }
                }
            }
        }
    }

    func testStride2Col2imBitIdenticalToSwift() throws {
        try requireKernels()
        for (k, g) in Self.stride2Shapes.enumerated() {
            let count = g.inChannels * g.inVoxels
            for tile in tiles(g) {
                let col = floats(randomDoubles(g.columnRows * tile, seed: 950 + UInt64(k)))
                // dx starts non-zero: the kernels ADD, and the order of the additions is checked.
                let start = floats(randomDoubles(count, seed: 970 + UInt64(k)))
                for threads in [1, 2] {
                    var a = start, b = start
                    var v0 = 0
                    while v0 < g.outVoxels {
                        let t = min(tile, g.outVoxels - v0)
                        col.withPtr { cp in
                            Im2col.accumulatePortable(col: cp, g: g, v0: v0, count: t, dx: &a, threads: threads)
                            ConvCKernels.col2imStride2(col: cp, g: g, v0: v0, count: t, dx: &b, threads: threads)
                        }
                        v0 += t
                    }
                    XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(g) tile \(tile) threads \(threads)")
                }
            }
        }
    }

    /// The whole stride-2 layer through the dispatching `Conv3d` (C im2col/col2im + sgemm) against
    /// the naive convolution and its adjoint in Double.
    func testStride2LayerMatchesNaive() throws {
        try requireKernels()
        for (k, g) in Self.stride2Shapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 1000 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 1100 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 1200), dy = randomDoubles(g.outputCount, seed: 1300 + UInt64(k))
            let ref = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            let (dxRef, dwRef) = naiveGradients(x: x, w: w, dy: dy, g: g)
            for tile in tiles(g) {
                var y = [Float](repeating: .nan, count: g.outputCount)
                var dx = [Float](repeating: .nan, count: g.inputCount), dw = [Float](repeating: 0, count: g.weightCount)
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in floats(dy).withPtr { dp in
                    Conv3d.forward(x: xp, w: wp, bias: bp, y: &y, g: g, workspace: Workspace(), tile: tile, threads: 2)
                    Conv3d.backward(x: xp, w: wp, dy: dp, dx: &dx, dw: &dw, dbias: nil, g: g, workspace: Workspace(),
                                    tile: tile, threads: 2)
                }}}}
                // y, dx: Float sums of ≤ Cin·27 + 1 products of values in [-1, 1], ≲ 1e-6 relative to
                // the output's scale; 1e-5 leaves a 10× margin. dw sums N·outVoxels products per
                // entry in Float inside the GEMM (up to 1.0e-5 measured here), so it gets the 1e-4 of
                // Conv3dTests' dw check.
                let ey = worstRelativeError(y, ref), edx = worstRelativeError(dx, dxRef), edw = worstRelativeError(dw, dwRef)
                report("stride-2 C im2col: y \(g) tile \(tile)", ey); report("stride-2 C col2im: dx", edx); report("dw", edw)
                XCTAssertLessThan(ey, 1e-5, "\(g) tile \(tile)")
                XCTAssertLessThan(edx, 1e-5, "\(g) tile \(tile)")
                XCTAssertLessThan(edw, 1e-4, "\(g) tile \(tile)")
            }
        }
    }

    /// Cin = 1, 3×3×3, stride 1, padding 1: widths below, at, between and above 8-lane vectors
    /// (tail masks), Cout below, at and above the 8-channel register block, batch 2.
    static let singleChannelShapes: [Conv3dGeometry] = [
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 16, inD: 4, inH: 5, inW: 11, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 1, outChannels: 3, inD: 3, inH: 4, inW: 5, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 8, inD: 5, inH: 3, inW: 16, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 1, inChannels: 1, outChannels: 11, inD: 2, inH: 6, inW: 19, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 16, inD: 6, inH: 5, inW: 24, kernel: 3, stride: 1, padding: 1),
        // 3 and 6 chunks of 16 lanes (the AVX-512 forward's chunk pairs and a single last chunk).
        Conv3dGeometry(batch: 1, inChannels: 1, outChannels: 9, inD: 3, inH: 4, inW: 40, kernel: 3, stride: 1, padding: 1),
        Conv3dGeometry(batch: 2, inChannels: 1, outChannels: 32, inD: 3, inH: 3, inW: 96, kernel: 3, stride: 1, padding: 1),
    ]

    func testSingleChannelForwardAgainstIm2colAndNaive() throws {
        try requireKernels()
        for (k, g) in Self.singleChannelShapes.enumerated() {
            XCTAssertTrue(Conv3dSingleChannel.applies(g))
            let x = randomDoubles(g.inputCount, seed: 1400 + UInt64(k)), w = randomDoubles(g.weightCount, seed: 1500 + UInt64(k))
            let b = randomDoubles(g.outChannels, seed: 1600)
            let ref = ConvNaive.conv3d(x: x, w: w, bias: b, g: g)
            var avx2Output: [Float] = []
            // The AVX2 kernel, then the AVX-512 one where the CPU has it (its values bit for bit).
            for (threads, avx512) in [(1, false), (2, false)] + (CPUFeatures.avx512 ? [(1, true), (2, true)] : []) {
                var direct = [Float](repeating: .nan, count: g.outputCount), im2col = direct
                floats(x).withPtr { xp in floats(w).withPtr { wp in floats(b).withPtr { bp in
                    ConvCKernels.singleChannelForward(x: xp, w: wp, bias: bp, y: &direct, g: g, threads: threads,
                                                      avx512: avx512)
                    // A tile forces the im2col + sgemm path (the oracle and fallback).
                    Conv3d.forward(x: xp, w: wp, bias: bp, y: &im2col, g: g, workspace: Workspace(),
                                   tile: g.outVoxels, threads: threads)
                }}}
                // 27 Float FMAs + a bias, values in [-1, 1]: ≲ 1e-6 relative to the output scale.
                let eNaive = worstRelativeError(direct, ref), eIm2col = worstRelativeError(direct, im2col.map(Double.init))
                report("single-channel C forward (avx512 \(avx512)) vs naive \(g) threads \(threads)", eNaive)
                report("single-channel C forward vs im2col", eIm2col)
                XCTAssertLessThan(eNaive, 1e-5, "\(g)"); XCTAssertLessThan(eIm2col, 1e-5, "\(g)")
                if avx2Output.isEmpty { avx2Output = direct }
                XCTAssertEqual(direct.map(\.bitPattern), avx2Output.map(\.bitPattern), "\(g) avx512 \(avx512)")
            }
        }
    }

    func testSingleChannelWeightGradientAgainstSwiftAndNaive() throws {
        try requireKernels()
        for (k, g) in Self.singleChannelShapes.enumerated() {
            let x = randomDoubles(g.inputCount, seed: 1700 + UInt64(k)), dy = randomDoubles(g.outputCount, seed: 1800 + UInt64(k))
            let w = [Double](repeating: 0, count: g.weightCount)
            let (_, dwRef) = naiveGradients(x: x, w: w, dy: dy, g: g)
            // The AVX2 kernel, and the AVX-512 one where the CPU has it.
            // AVX-512: one row at a time and groups of 4 rows.
            let avx512Cases = [(1, true, false), (2, true, false), (1, true, true), (2, true, true)]
            for (threads, avx512, groups) in [(1, false, false), (2, false, false)] + (CPUFeatures.avx512 ? avx512Cases : []) {
                // dw starts non-zero: both kernels must ADD to it.
                var c = [Float](repeating: 0.5, count: g.weightCount), swift = c
                var db = [Float](repeating: -0.25, count: g.outChannels)
                floats(x).withPtr { xp in floats(dy).withPtr { dp in
                    ConvCKernels.singleChannelWeightGradient(x: xp, dy: dp, dw: &c, dbias: &db, g: g, threads: threads,
                                                             avx512: avx512, rowGroups: groups)
                    Conv3dSingleChannel.accumulateWeightGradient(x: xp, dy: dp, dw: &swift, g: g, threads: threads)
                }}
                // Per lane ≤ 16 rows × W / 8 Float terms, then Double (both kernels; FMA rounds once
                // where the Swift kernel rounds twice). Measured: ≤ 8.2e-6 against the exact sum and
                // ≤ 1.1e-5 between the two kernels (each off the exact sum in its own direction);
                // bounds 2e-5 and 4e-5 (= the two kernels' errors added) leave a 2× margin.
                let eNaive = worstRelativeError(c.map { $0 - 0.5 }, dwRef)
                let eSwift = worstRelativeError(c, swift.map(Double.init))
                report("single-channel C dw (avx512 \(avx512), row groups \(groups)) vs naive \(g) threads \(threads)", eNaive)
                report("single-channel C dw vs Swift kernel", eSwift)
                XCTAssertLessThan(eNaive, 2e-5, "\(g)"); XCTAssertLessThan(eSwift, 4e-5, "\(g)")
                // dbias = Σ dy per channel in Double (fused into the row-group kernel, else its own pass);
                // Float lane sums of ≤ 16·W terms: 1e-5 of the channel's Σ|dy| scale.
                for co in 0..<g.outChannels {
                    var ref = 0.0, scale = 0.0
                    for n in 0..<g.batch {
                        for i in 0..<g.outVoxels { let v = dy[(n * g.outChannels + co) * g.outVoxels + i]; ref += v; scale += abs(v) }
                    }
                    XCTAssertEqual(Double(db[co]) + 0.25, ref, accuracy: 1e-6 * scale + 1e-6, "\(g) bias \(co) groups \(groups)")
                }
            }
        }
    }

    /// Transposed conv k2 s2: input sizes odd and even, W below and above one 8-lane vector,
    /// tiles ending mid-row; scatter (with bias) and gather bit for bit against the Swift loops.
    func testTransposeScatterGatherBitIdenticalToSwift() throws {
        try requireKernels()
        let shapes = [ConvTranspose3dGeometry(batch: 1, inChannels: 3, outChannels: 5, inD: 3, inH: 4, inW: 5),
                      ConvTranspose3dGeometry(batch: 1, inChannels: 2, outChannels: 3, inD: 2, inH: 3, inW: 19),
                      ConvTranspose3dGeometry(batch: 1, inChannels: 2, outChannels: 2, inD: 4, inH: 2, inW: 16)]
        for (k, g) in shapes.enumerated() {
            for tile in [g.inVoxels, 7, g.inW + 3] {
                let p = floats(randomDoubles(g.outChannels * 8 * tile, seed: 2000 + UInt64(k)))
                let bias = floats(randomDoubles(g.outChannels, seed: 2100))
                let dy = floats(randomDoubles(g.outChannels * g.outVoxels, seed: 2200 + UInt64(k)))
                for threads in [1, 2] {
                    var v0 = 0
                    while v0 < g.inVoxels {
                        let t = min(tile, g.inVoxels - v0)
                        var ya = [Float](repeating: .nan, count: g.outChannels * g.outVoxels), yb = ya
                        var pa = [Float](repeating: .nan, count: g.outChannels * 8 * t), pb = pa
                        p.withPtr { pp in bias.withPtr { bp in
                            ConvTranspose3d.scatterPortable(p: pp, count: t, bias: bp, y: &ya, g: g, v0: v0, threads: threads)
                            ConvCKernels.transposeScatter(p: pp, count: t, bias: bp, y: &yb, g: g, v0: v0, threads: threads)
                        }}
                        dy.withPtr { dp in
                            ConvTranspose3d.gatherPortable(dy: dp, p: &pa, count: t, g: g, v0: v0, threads: threads)
                            ConvCKernels.transposeGather(dy: dp, p: &pb, count: t, g: g, v0: v0, threads: threads)
                        }
                        // NaN-filled outputs: every element the Swift loop leaves unwritten must stay so.
                        XCTAssertEqual(ya.map(\.bitPattern), yb.map(\.bitPattern), "scatter \(g) tile \(tile) v0 \(v0)")
                        XCTAssertEqual(pa.map(\.bitPattern), pb.map(\.bitPattern), "gather \(g) tile \(tile) v0 \(v0)")
                        v0 += t
                    }
                }
            }
        }
    }

    /// dx and dw of the convolution in Double straight from the definition (adjoint of ConvNaive):
    /// dx[n, ci, i] = Σ w[co, ci, k] · dy[n, co, o] and dw[co, ci, k] = Σ dy[n, co, o] · x[n, ci, i]
    /// over every (o, k) with i = o·s − p + k inside the input.
    func naiveGradients(x: [Double], w: [Double], dy: [Double], g: Conv3dGeometry) -> ([Double], [Double]) {
        var dx = [Double](repeating: 0, count: g.inputCount), dw = [Double](repeating: 0, count: g.weightCount)
        let k = g.kernel
        for n in 0..<g.batch { for co in 0..<g.outChannels {
            for od in 0..<g.outD { for oh in 0..<g.outH { for ow in 0..<g.outW {
                let gy = dy[(((n * g.outChannels + co) * g.outD + od) * g.outH + oh) * g.outW + ow]
                for ci in 0..<g.inChannels { for kd in 0..<k { for kh in 0..<k { for kw in 0..<k {
                    let id = od * g.stride - g.padding + kd, ih = oh * g.stride - g.padding + kh
                    let iw = ow * g.stride - g.padding + kw
                    guard id >= 0, id < g.inD, ih >= 0, ih < g.inH, iw >= 0, iw < g.inW else { continue }
                    let xi = (((n * g.inChannels + ci) * g.inD + id) * g.inH + ih) * g.inW + iw
                    let wi = (((co * g.inChannels + ci) * k + kd) * k + kh) * k + kw
                    dx[xi] += w[wi] * gy
                    dw[wi] += x[xi] * gy
                }}}}
            }}}
        }}
        return (dx, dw)
    }
}
