// Large β (10⁴) and large N (10⁶): no NaN/Inf, probabilities sum to 1, agreement with the naive
// recomputation, and the memory budget (≤ 32 bytes per sample).
//
// Tolerances: Σp = 1 within 1e-6 (the bound; the measured error is ~N·2⁻⁵³ ≈ 1e-10 at
// N = 10⁶). Per-probability agreement with the oracle: 1e-9 relative, as in the property tests
// (floor on, so every p ≥ ε/(1 + floor) is far from underflow).

import XCTest
@testable import Sampling

final class StabilityTests: XCTestCase {
    private func checkAgainstOracle(_ s: HardnessWeightedSampler, _ label: String) throws {
        let p = s.probabilities()
        XCTAssertTrue(p.allSatisfy { $0.isFinite && $0 >= 0 }, label)
        XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-6, label)
        let oracle = try NaiveSoftmaxSampler(initialLosses: s.staleLosses, options: s.options, generator: SeededGenerator(seed: 0))
        var worst = 0.0
        for (a, e) in zip(p, oracle.probabilities()) { worst = max(worst, relativeDifference(a, e)) }
        XCTAssertLessThan(worst, 1e-9, label)
        print("\(label): worst relative difference to the naive oracle \(worst), \(s.rebuildCount) re-basings")
    }

    /// β = 10⁴ with losses in [0, 10]: exponents span 10⁵ nats, so c must be re-based often.
    func testLargeBetaStaysFiniteAndExact() throws {
        var g = SeededGenerator(seed: 10)
        for n in [2, 10, 1000] {
            let s = try HardnessWeightedSampler(count: n, options: HardnessSamplerOptions(beta: 1e4, initLoss: 5),
                                                generator: g.spawn())
            for _ in 0 ..< 3000 {
                let b = try s.nextBatch(size: min(2, n))
                let w = try s.feedBack(indices: b, losses: b.map { _ in g.nextDouble(in: 0, 10) })
                XCTAssertTrue(w.allSatisfy { $0 == 1 })
                XCTAssert(s.treeTotal.isFinite && s.treeTotal > 0)
            }
            try checkAgainstOracle(s, "β=1e4 N=\(n)")
        }
    }

    /// N = 10⁶ for β ∈ {100, 10⁴}: iterations of B = 2 with random losses in [0, 10]. At β = 10⁴
    /// such losses force an O(N) re-basing almost every iteration (the top sample, drawn with
    /// p ≈ 1, is replaced by a random loss), so that run is kept short.
    func testMillionSamples() throws {
        var g = SeededGenerator(seed: 11)
        for (beta, iterations) in [(100.0, 2000), (1e4, 100)] {
            let s = try HardnessWeightedSampler(count: 1_000_000, options: HardnessSamplerOptions(beta: beta),
                                                generator: g.spawn())
            XCTAssertLessThanOrEqual(s.bytesPerSample, 32)
            for _ in 0 ..< iterations {
                let b = try s.nextBatch(size: 2)
                _ = try s.feedBack(indices: b, losses: [g.nextDouble(in: 0, 10), g.nextDouble(in: 0, 10)])
            }
            try checkAgainstOracle(s, "β=\(beta) N=1e6")
            // Losses above L_init = 2 are drawn preferentially at β = 100: the hardest are fed-back ones.
            XCTAssertTrue(s.hardest(5).allSatisfy { s.drawCounts[$0.index] > 0 })
        }
    }

    /// Losses far outside [0, 10] (up to ±1e6) with β = 10⁴ still give finite, exact results.
    func testExtremeLossesAreRebased() throws {
        var g = SeededGenerator(seed: 12)
        let s = try makeHardness([0, 0, 0, 0, 0, 0, 0, 0], beta: 1e4)
        for k in 0 ..< 200 {
            let b = try s.nextBatch(size: 2)
            let scale = k % 2 == 0 ? 1e6 : 1e-3
            _ = try s.feedBack(indices: b, losses: b.map { _ in g.nextDouble(in: -scale, scale) })
        }
        XCTAssertGreaterThan(s.rebuildCount, 0)
        try checkAgainstOracle(s, "extreme losses")
    }
}
