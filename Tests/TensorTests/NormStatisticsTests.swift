import XCTest
@testable import Tensor

/// Instance-norm statistics over rows longer than one `Reduce.block` (several blocks merged, a
/// partial last block, a tail shorter than one SIMD vector) and far from zero mean, against a
/// two-pass Double reference computed here on the same Float values.
final class NormStatisticsTests: XCTestCase {
    func testStatisticsMatchDoubleReferenceOverManyBlocks() {
        // 3·1024 + 16·5 + 7 voxels: three full blocks, a partial one, and a 7-element tail.
        let rows = 3, voxels = 3 * Reduce.block + 16 * 5 + 7
        // Offsets up to 1000× the spread: a Float Σx² − (Σx)²/V would lose every digit here.
        let offsets: [Double] = [1000, -3, 0.25]
        var x = [Float]()
        for r in 0..<rows {
            x += randomDoubles(voxels, seed: UInt64(20 + r)).map { Float(offsets[r] + $0) }
        }
        var mean = [Float](repeating: .nan, count: rows), rstd = mean
        x.withUnsafeBufferPointer { xp in
            InstanceNorm3d.statistics(x: xp.baseAddress!, rows: rows, voxels: voxels, eps: InstanceNorm3d.defaultEps,
                                      mean: &mean, rstd: &rstd, threads: 2)
        }
        for r in 0..<rows {
            let s = x[(r * voxels)..<((r + 1) * voxels)].map(Double.init)
            let m = s.reduce(0, +) / Double(voxels)
            let variance = s.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(voxels)
            let refRstd = 1 / (variance + Double(InstanceNorm3d.defaultEps)).squareRoot()
            // Mean: Float block sums of ~1000-valued data, ~1e-7 relative; 1e-6 margin.
            XCTAssertLessThan(abs(Double(mean[r]) - m), 1e-6 * max(1, abs(m)), "row \(r) mean")
            // rstd: Float squared deviations summed in 16 lanes per block, ~1e-6 relative; 1e-5 margin.
            XCTAssertLessThan(abs(Double(rstd[r]) - refRstd) / refRstd, 1e-5, "row \(r) rstd")
        }
    }
}
