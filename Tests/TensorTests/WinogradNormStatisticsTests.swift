import XCTest
@testable import Tensor

/// Instance-norm statistics gathered in the Winograd output stage against (1) the separate pass
/// the U-Net used before (`InstanceNorm3d.statistics` over the same conv output) and (2) a
/// two-pass Double reference over the same Float output computed here; and the norm built on them
/// against `InstanceNormLeakyReLU.forward`.
///
/// Tolerances: both methods sum Float values in Float lanes over ≤ ~1000 elements before going to
/// Double, so each is within ~1e-6 of the Double reference relative to the spread σ, plus a few
/// Float ulps of |mean| for the mean (values of magnitude |μ| are summed in Float, and the mean is
/// stored as a Float): mean error ≤ 1e-5·σ + 1e-6·|μ|, rstd relative error ≤ 1e-5 (an order of
/// margin), while a missed border line, a wrong row count or a wrong channel gives errors of
/// order 1e-2 and more.
final class WinogradNormStatisticsTests: XCTestCase {
    static let tolerance = 1e-5

    /// Odd extents, one-voxel axes, batch 2, rows wider than a vector, and a bias that puts the
    /// mean far from 0 (offset 50 × the spread) to exercise the centring.
    static let shapes = WinogradConv3dTests.shapes

    func testStatisticsMatchTheSeparatePassAndDouble() {
        for (tuningName, tuning) in WinogradConv3dTests.tunings {
            for (k, s) in Self.shapes.enumerated() {
                let x = floats(randomDoubles(s.n * s.cin * s.d * s.h * s.w, seed: UInt64(300 + k)))
                let w = floats(randomDoubles(s.cout * s.cin * 27, seed: UInt64(400 + k), scale: 0.3))
                let bias = (0..<s.cout).map { Float($0 % 2 == 0 ? 50 : -0.5) }
                let v = s.d * s.h * s.w, rows = s.n * s.cout
                var y = [Float](repeating: .nan, count: rows * v)
                var mean = [Float](repeating: .nan, count: rows), rstd = mean
                let ws = Workspace()
                mean.withUnsafeMutableBufferPointer { mp in
                    rstd.withUnsafeMutableBufferPointer { rp in
                        WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                               d: s.d, h: s.h, width: s.w, workspace: ws, tuning: tuning,
                                               statistics: WinogradNormStatistics(mean: mp.baseAddress!, rstd: rp.baseAddress!,
                                                                                  eps: InstanceNorm3d.defaultEps))
                    }
                }
                var sepMean = [Float](repeating: .nan, count: rows), sepRstd = sepMean
                InstanceNorm3d.statistics(x: y, rows: rows, voxels: v, eps: InstanceNorm3d.defaultEps,
                                          mean: &sepMean, rstd: &sepRstd, threads: 2)
                var worst = 0.0
                for r in 0..<rows {
                    let row = y[(r * v)..<((r + 1) * v)].map(Double.init)
                    let m = row.reduce(0, +) / Double(v)
                    let variance = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v)
                    let sigma = (variance + Double(InstanceNorm3d.defaultEps)).squareRoot()
                    for (label, mm, rr) in [("fused", mean[r], rstd[r]), ("separate", sepMean[r], sepRstd[r])] {
                        let em = abs(Double(mm) - m) / (sigma + 0.1 * abs(m)), er = abs(Double(rr) * sigma - 1)
                        worst = max(worst, em, er)
                        XCTAssertLessThan(em, Self.tolerance, "\(tuningName) shape \(k) row \(r) \(label) mean")
                        XCTAssertLessThan(er, Self.tolerance, "\(tuningName) shape \(k) row \(r) \(label) rstd")
                    }
                }
                // The conv output itself is unchanged by gathering statistics.
                var plain = [Float](repeating: .nan, count: rows * v)
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &plain, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: Workspace(), tuning: tuning)
                XCTAssertEqual(plain, y, "\(tuningName) shape \(k): output")
                report("fused norm statistics, \(tuningName), shape \(k)", worst)
            }
        }
    }

    /// The statistics do not depend on the number of workers or on the chunking (same per-row
    /// arithmetic, rows merged in order): bit-identical across the tunings.
    func testStatisticsDoNotDependOnThreadsOrChunks() {
        let s = WinogradConv3dTests.Shape(n: 2, cin: 16, cout: 8, d: 4, h: 5, w: 18)
        let x = floats(randomDoubles(s.n * s.cin * s.d * s.h * s.w, seed: 77))
        let w = floats(randomDoubles(s.cout * s.cin * 27, seed: 78, scale: 0.3))
        var results: [[Float]] = []
        var tunings = WinogradConv3dTests.tunings.map(\.1)
        var one = WinogradTuning.standard
        one.threads = 1
        tunings.append(one)
        for tuning in tunings {
            var y = [Float](repeating: 0, count: s.n * s.cout * s.d * s.h * s.w)
            var mean = [Float](repeating: .nan, count: s.n * s.cout), rstd = mean
            mean.withUnsafeMutableBufferPointer { mp in
                rstd.withUnsafeMutableBufferPointer { rp in
                    WinogradConv3d.forward(x: x, weight: w, bias: nil, y: &y, n: s.n, cin: s.cin, cout: s.cout,
                                           d: s.d, h: s.h, width: s.w, workspace: Workspace(), tuning: tuning,
                                           statistics: WinogradNormStatistics(mean: mp.baseAddress!, rstd: rp.baseAddress!,
                                                                              eps: 1e-5))
                }
            }
            results.append(mean + rstd)
        }
        for r in results.dropFirst() { XCTAssertEqual(r, results[0]) }
    }

    /// The norm + leaky ReLU applied with the fused statistics against the separate forward on the
    /// same conv output: the outputs differ only through the statistics (≤ 1e-5 relative each), so
    /// by ≤ ~1e-5 × (|x̂| + 1)·|γ| plus rounding; 1e-4 of the largest output is the bound checked.
    func testNormOutputsMatchTheSeparatePath() {
        let s = WinogradConv3dTests.Shape(n: 2, cin: 8, cout: 6, d: 6, h: 7, w: 9)
        let x = floats(randomDoubles(s.n * s.cin * s.d * s.h * s.w, seed: 91))
        let w = floats(randomDoubles(s.cout * s.cin * 27, seed: 92, scale: 0.3))
        let bias = floats(randomDoubles(s.cout, seed: 93, scale: 3))
        let gamma = floats(randomDoubles(s.cout, seed: 94)).map { $0 + 1.5 }, beta = floats(randomDoubles(s.cout, seed: 95))
        let v = s.d * s.h * s.w, rows = s.n * s.cout
        var z = [Float](repeating: 0, count: rows * v)
        var mean = [Float](repeating: .nan, count: rows), rstd = mean
        mean.withUnsafeMutableBufferPointer { mp in
            rstd.withUnsafeMutableBufferPointer { rp in
                WinogradConv3d.forward(x: x, weight: w, bias: bias, y: &z, n: s.n, cin: s.cin, cout: s.cout,
                                       d: s.d, h: s.h, width: s.w, workspace: Workspace(),
                                       statistics: WinogradNormStatistics(mean: mp.baseAddress!, rstd: rp.baseAddress!,
                                                                          eps: InstanceNorm3d.defaultEps))
            }
        }
        var fused = [Float](repeating: .nan, count: rows * v), separate = fused
        InstanceNormLeakyReLU.apply(x: z, gamma: gamma, beta: beta, mean: mean, rstd: rstd, y: &fused,
                                    batch: s.n, channels: s.cout, voxels: v)
        var m2 = mean, r2 = rstd
        InstanceNormLeakyReLU.forward(x: z, gamma: gamma, beta: beta, y: &separate, mean: &m2, rstd: &r2,
                                      batch: s.n, channels: s.cout, voxels: v)
        let scale = separate.map { abs(Double($0)) }.max()!
        let worst = zip(fused, separate).map { abs(Double($0) - Double($1)) }.max()! / scale
        report("norm+lrelu with fused statistics vs separate", worst)
        XCTAssertLessThan(worst, 1e-4)
    }
}
