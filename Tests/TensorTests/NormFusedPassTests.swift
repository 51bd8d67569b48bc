import XCTest
@testable import Tensor

/// The one-pass forms of the norm's passes against the separate passes they replace, bit for bit
/// (the arithmetic is the same, only the order of rows and sweeps changes): statistics and output
/// row by row in one parallel region (`InstanceNorm3d.statisticsAndApply`) against
/// `InstanceNorm3d.statistics` followed by `InstanceNormLeakyReLU.apply`; the second contiguous
/// output (a skip written to its concat buffer and to the next conv's input); the transposed conv's
/// backward reading its output gradient with a sample stride (a concat gradient read in place)
/// against a contiguous copy.
/// Rows are not multiples of the 16-lane vectors or the 1024-element reduction blocks.
final class NormFusedPassTests: XCTestCase {
    let shapes: [(n: Int, c: Int, v: Int)] = [(2, 3, 2 * 1024 + 37), (1, 4, 5 * 6 * 7), (3, 2, 17), (2, 2, 16 * 8)]

    func testOnePassForwardEqualsStatisticsThenApply() {
        for (k, (n, c, v)) in shapes.enumerated() {
            let seed = UInt64(100 + 10 * k)
            let x = floats(randomDoubles(n * c * v, seed: seed, scale: 3)).map { $0 + 0.5 }
            let gamma = floats(randomDoubles(c, seed: seed + 1, scale: 2))
            let beta = floats(randomDoubles(c, seed: seed + 2, scale: 2))
            for threads in [1, 2] {
                for slope: Float in [0.01, 0, 1] {
                    // Reference: the separate passes.
                    var meanR = [Float](repeating: .nan, count: n * c), rstdR = meanR
                    var aR = [Float](repeating: .nan, count: x.count)
                    InstanceNorm3d.statistics(x: x, rows: n * c, voxels: v, eps: InstanceNorm3d.defaultEps,
                                              mean: &meanR, rstd: &rstdR, threads: threads)
                    InstanceNormLeakyReLU.apply(x: x, gamma: gamma, beta: beta, mean: meanR, rstd: rstdR, y: &aR,
                                                batch: n, channels: c, voxels: v, slope: slope, threads: threads)
                    // One pass, into the second half of a concat-like buffer plus a contiguous copy.
                    var mean = [Float](repeating: .nan, count: n * c), rstd = mean
                    var wide = [Float](repeating: -7, count: 2 * x.count), copy = [Float](repeating: .nan, count: x.count)
                    wide.withUnsafeMutableBufferPointer { w in
                        InstanceNormLeakyReLU.forward(x: x, gamma: gamma, beta: beta, y: w.baseAddress! + c * v,
                                                      ySampleStride: 2 * c * v, copy: &copy, mean: &mean, rstd: &rstd,
                                                      batch: n, channels: c, voxels: v, slope: slope, threads: threads)
                    }
                    XCTAssertEqual(mean.map(\.bitPattern), meanR.map(\.bitPattern))
                    XCTAssertEqual(rstd.map(\.bitPattern), rstdR.map(\.bitPattern))
                    XCTAssertEqual(copy.map(\.bitPattern), aR.map(\.bitPattern), "copy, v = \(v), slope \(slope)")
                    for s in 0..<n {
                        XCTAssertEqual(wide[(2 * s * c * v)..<((2 * s + 1) * c * v)], ArraySlice(repeating: -7, count: c * v))
                        XCTAssertEqual(wide[((2 * s + 1) * c * v)..<((2 * s + 2) * c * v)].map(\.bitPattern),
                                       aR[(s * c * v)..<((s + 1) * c * v)].map(\.bitPattern))
                    }
                    // `apply` with the copy gives the same two outputs.
                    var a2 = [Float](repeating: .nan, count: x.count), copy2 = a2
                    InstanceNormLeakyReLU.apply(x: x, gamma: gamma, beta: beta, mean: meanR, rstd: rstdR, y: &a2, copy: &copy2,
                                                batch: n, channels: c, voxels: v, slope: slope, threads: threads)
                    XCTAssertEqual(a2.map(\.bitPattern), aR.map(\.bitPattern))
                    XCTAssertEqual(copy2.map(\.bitPattern), aR.map(\.bitPattern))
                    if slope == 0.01 {
                        // The leaky branch is taken (else the test could not see a wrong mask).
                        let negatives = aR.filter { $0 < 0 }.count
                        XCTAssertGreaterThan(negatives, 0); XCTAssertLessThan(negatives, x.count)
                    }
                }
                // Bare norm, in place (y aliases x): the separate passes with slope 1.
                var meanR = [Float](repeating: .nan, count: n * c), rstdR = meanR, yR = [Float](repeating: .nan, count: x.count)
                InstanceNorm3d.statistics(x: x, rows: n * c, voxels: v, eps: InstanceNorm3d.defaultEps,
                                          mean: &meanR, rstd: &rstdR, threads: threads)
                InstanceNormLeakyReLU.apply(x: x, gamma: gamma, beta: beta, mean: meanR, rstd: rstdR, y: &yR,
                                            batch: n, channels: c, voxels: v, slope: 1, threads: threads)
                var y = x, mean = [Float](repeating: .nan, count: n * c), rstd = mean
                y.withUnsafeMutableBufferPointer { p in
                    InstanceNorm3d.forward(x: p.baseAddress!, gamma: gamma, beta: beta, y: p.baseAddress!, mean: &mean,
                                           rstd: &rstd, batch: n, channels: c, voxels: v, threads: threads)
                }
                XCTAssertEqual(y.map(\.bitPattern), yR.map(\.bitPattern), "in-place norm, v = \(v)")
                XCTAssertEqual(mean.map(\.bitPattern), meanR.map(\.bitPattern))
                XCTAssertEqual(rstd.map(\.bitPattern), rstdR.map(\.bitPattern))
            }
        }
    }

    func testTransposedConvBackwardReadsStridedOutputGradient() {
        for stride in [[2, 2, 2], [2, 2, 1]] {
            let g = ConvTranspose3dGeometry(batch: 2, inChannels: 6, outChannels: 3, inD: 3, inH: 4, inW: 5, strideDHW: stride)
            let x = floats(randomDoubles(g.inputCount, seed: 7)), w = floats(randomDoubles(g.weightCount, seed: 8))
            let dy = floats(randomDoubles(g.outputCount, seed: 9))
            let sample = g.outChannels * g.outVoxels
            // dy as the first half of each sample of a [N, 2·Cout, V] concat gradient.
            var wide = [Float](repeating: 1e6, count: 2 * g.outputCount)
            for s in 0..<g.batch { for i in 0..<sample { wide[2 * s * sample + i] = dy[s * sample + i] } }
            var dxC = [Float](repeating: .nan, count: g.inputCount), dwC = [Float](repeating: 0.25, count: g.weightCount)
            var dbC = [Float](repeating: 0.5, count: g.outChannels)
            var dxS = dxC, dwS = dwC, dbS = dbC
            ConvTranspose3d.backward(x: x, w: w, dy: dy, dx: &dxC, dw: &dwC, dbias: &dbC, g: g, workspace: Workspace(), threads: 2)
            ConvTranspose3d.backward(x: x, w: w, dy: wide, dx: &dxS, dw: &dwS, dbias: &dbS, g: g, dySampleStride: 2 * sample,
                                     workspace: Workspace(), threads: 2)
            XCTAssertEqual(dxS.map(\.bitPattern), dxC.map(\.bitPattern), "dx, stride \(stride)")
            XCTAssertEqual(dwS.map(\.bitPattern), dwC.map(\.bitPattern), "dw, stride \(stride)")
            XCTAssertEqual(dbS.map(\.bitPattern), dbC.map(\.bitPattern), "dbias, stride \(stride)")
        }
    }
}
