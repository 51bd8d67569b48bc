import Common
import XCTest
@testable import Evaluation

final class DistanceTransformTests: XCTestCase {
    /// Exact EDT vs brute force (min over all features) on random masks, anisotropic spacing.
    /// Tolerance 1e-9 mm²: both sum the same three squared terms in Double, in different order.
    func testMatchesBruteForceOnRandomMasks() {
        var rng = SplitMix64(seed: 7)
        for (trial, density) in [0.02, 0.1, 0.4, 0.002].enumerated() {
            let shape = [7 + trial, 5 + 2 * trial, 6]
            let spacing = [0.5, 0.8, 3.0]
            let n = shape[0] * shape[1] * shape[2]
            let features = (0..<n).map { _ in rng.nextUnitDouble() < density ? UInt8(1) : 0 }
            let edt = DistanceTransform.squaredEDT(features: features, shape: shape, spacing: spacing)
            let points = (0..<n).filter { features[$0] != 0 }.map { coords($0, shape) }
            var worst = 0.0
            for i in 0..<n {
                let p = coords(i, shape)
                let brute = points.map { q in
                    (0..<3).reduce(0.0) { acc, a in
                        let d = Double(p[a] - q[a]) * spacing[a]; return acc + d * d
                    }
                }.min() ?? .infinity
                if brute.isInfinite { XCTAssertEqual(edt[i], .infinity); continue }
                worst = max(worst, abs(edt[i] - brute))
            }
            XCTAssertLessThan(worst, 1e-9, "trial \(trial), density \(density)")
        }
    }

    func testNoFeatureGivesInfinity() {
        let edt = DistanceTransform.squaredEDT(features: [UInt8](repeating: 0, count: 24),
                                               shape: [2, 3, 4], spacing: [1, 1, 1])
        XCTAssertTrue(edt.allSatisfy { $0 == .infinity })
    }

    /// One feature at a corner: the far corner is at sx²·(nx−1)² + sy²·(ny−1)² + sz²·(nz−1)².
    func testSingleFeatureCorner() {
        var f = [UInt8](repeating: 0, count: 4 * 5 * 6)
        f[0] = 1
        let edt = DistanceTransform.squaredEDT(features: f, shape: [4, 5, 6], spacing: [0.5, 0.5, 3])
        let expected: Double = 0.25 * 9.0 + 0.25 * 16.0 + 9.0 * 25.0
        XCTAssertEqual(edt[edt.count - 1], expected, accuracy: 1e-12)
    }

    private func coords(_ i: Int, _ s: [Int]) -> [Int] { [i % s[0], (i / s[0]) % s[1], i / (s[0] * s[1])] }
}
