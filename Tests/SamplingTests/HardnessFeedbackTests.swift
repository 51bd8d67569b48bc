// Importance weights, the momentum update, convergence of the history, hardest-k and input errors.

import XCTest
@testable import Sampling

final class HardnessFeedbackTests: XCTestCase {
    /// w_i = exp(β(1−m)(ℓ_i − L̃_i)) with the history BEFORE the update, clipped to [0.1, 10].
    /// Expected values are written out by hand (L̃ = 1, β = 2, m = 0, ℓ = i): e^{-2}, 1, e^{2},
    /// e^{4} → 0.135…, 1, 7.389…, clipped 10; β = 3 gives e^{-3} = 0.0498 → clipped 0.1.
    func testImportanceWeightsBeforeUpdateAndClipped() throws {
        let s = try makeHardness([1, 1, 1, 1], beta: 2, importance: true)
        let w = try s.feedBack(indices: [0, 1, 2, 3], losses: [0, 1, 2, 3])
        XCTAssertEqual(w[0], 0.1353352832366127, accuracy: 1e-15)
        XCTAssertEqual(w[1], 1, accuracy: 1e-15)
        XCTAssertEqual(w[2], 7.38905609893065, accuracy: 1e-14)
        XCTAssertEqual(w[3], 10)
        let t = try makeHardness([1, 1], beta: 3, importance: true)
        XCTAssertEqual(try t.feedBack(indices: [0], losses: [0]), [0.1])
        // After the update L̃_0 = 0, so the same loss now gives weight exp(0) = 1.
        XCTAssertEqual(try t.feedBack(indices: [0], losses: [0]), [1])
    }

    /// With momentum m the exponent is β(1−m)(ℓ − L̃): β = 1, m = 0.5, L̃ = 2, ℓ = 3 → e^{0.5};
    /// then L̃ = 0.5·2 + 0.5·3 = 2.5.
    func testImportanceWeightWithMomentumAndOffSwitch() throws {
        let s = try makeHardness([2, 2], beta: 1, momentum: 0.5, importance: true)
        XCTAssertEqual(try s.feedBack(indices: [1], losses: [3])[0], 1.6487212707001282, accuracy: 1e-15)
        XCTAssertEqual(s.staleLosses[1], 2.5)
        let off = try makeHardness([2, 2], beta: 1, momentum: 0.5, importance: false)
        XCTAssertEqual(try off.feedBack(indices: [0, 1], losses: [9, 0]), [1, 1])
        XCTAssertEqual(try UniformSampler(count: 3, generator: SeededGenerator(seed: 1)).feedBack(indices: [2], losses: [5]), [1])
    }

    /// L̃ ← m·L̃ + (1−m)·ℓ; after k identical updates L̃ − ℓ = m^k (L̃₀ − ℓ).
    func testMomentumUpdate() throws {
        let m = 0.9
        let s = try makeHardness([2, 2, 2], beta: 5, momentum: m)
        for k in 1 ... 20 {
            _ = try s.feedBack(indices: [1], losses: [0.5])
            XCTAssertEqual(s.staleLosses[1] - 0.5, pow(m, Double(k)) * 1.5, accuracy: 1e-13)
        }
        XCTAssertEqual(s.staleLosses[0], 2)
        let z = try makeHardness([2, 2], beta: 5, momentum: 0)
        _ = try z.feedBack(indices: [0], losses: [0.25])
        XCTAssertEqual(z.staleLosses[0], 0.25)
    }

    /// The authors' convergence test: feed back ℓ_i = i after each draw (N = 4, B = 1, m = 0).
    /// Once every index has been drawn, L̃_i = i exactly, so later draws are i.i.d. from the
    /// floored softmax(β·i): checked with the Bretagnolle–Huber–Carol bound (k = 4, δ = 1e-9).
    func testFeedingIndexAsLossConvergesToSoftmaxOfIndex() throws {
        for beta in [0.1, 1.0] {
            let s = try HardnessWeightedSampler(count: 4, options: HardnessSamplerOptions(beta: beta),
                                                generator: SeededGenerator(seed: 17))
            var seen = Set<Int>(), counts = [0, 0, 0, 0], n = 0
            for _ in 0 ..< 200_000 {
                let i = try s.nextBatch(size: 1)[0]
                if seen.count == 4 { counts[i] += 1; n += 1 }
                seen.insert(i)
                _ = try s.feedBack(indices: [i], losses: [Double(i)])
            }
            XCTAssertEqual(s.staleLosses, [0, 1, 2, 3])
            let exact = exactDistribution([0, 1, 2, 3], beta: beta, floor: HardnessSamplerOptions.defaultFloor)
            XCTAssertLessThan(l1Distance(frequencies(counts), exact), l1Bound(categories: 4, samples: n, falseFailure: statisticalDelta), "β=\(beta)")
        }
    }

    /// Initial history L̃_i = L_init·(1 + 0.001 ε_i): within 6·0.001·L_init of L_init, not all equal,
    /// and reproducible from the seed.
    func testInitialHistory() throws {
        let o = HardnessSamplerOptions(initLoss: 2)
        let a = try HardnessWeightedSampler(count: 1000, options: o, generator: SeededGenerator(seed: 4))
        let b = try HardnessWeightedSampler(count: 1000, options: o, generator: SeededGenerator(seed: 4))
        XCTAssertEqual(a.staleLosses, b.staleLosses)
        XCTAssertTrue(a.staleLosses.allSatisfy { abs($0 - 2) < 6 * 0.001 * 2 })
        XCTAssertGreaterThan(Set(a.staleLosses).count, 990)
        let mean = a.staleLosses.reduce(0, +) / 1000
        XCTAssertEqual(mean, 2, accuracy: 6 * 0.002 / 1000.0.squareRoot())  // 6 standard errors
    }

    /// The authors' hardest-samples example, plus ties (smaller index first) and k > N.
    func testHardest() throws {
        let s = try makeHardness([10, 2, 14, 6], beta: 1)
        XCTAssertEqual(s.hardest(2).map { $0.index }, [2, 0])
        XCTAssertEqual(s.hardest(2).map { $0.staleLoss }, [14, 10])
        let t = try makeHardness([1, 3, 3, 0, 3], beta: 1)
        XCTAssertEqual(t.hardest(10).map { $0.index }, [1, 2, 4, 0, 3])
        XCTAssertEqual(t.hardest(0).count, 0)
        var g = SeededGenerator(seed: 8)
        let losses = (0 ..< 5000).map { _ in Double(g.nextIndex(below: 100)) }
        let u = try makeHardness(losses, beta: 1)
        let expected = (0 ..< 5000).sorted { losses[$0] > losses[$1] || (losses[$0] == losses[$1] && $0 < $1) }
        XCTAssertEqual(u.hardest(37).map { $0.index }, Array(expected.prefix(37)))
    }

    func testBadFeedbackIsRejectedWithMessages() throws {
        let s = try makeHardness([1, 1, 1], beta: 1)
        XCTAssertThrowsError(try s.feedBack(indices: [0, 1], losses: [1])) {
            XCTAssertEqual("\($0)", "sampler feedback has 2 indices but 1 losses: they must match")
        }
        XCTAssertThrowsError(try s.feedBack(indices: [3], losses: [1])) {
            XCTAssertEqual("\($0)", "sample index 3 fed back to the sampler is out of range: allowed 0..<3")
        }
        XCTAssertThrowsError(try s.feedBack(indices: [1], losses: [.nan])) {
            XCTAssertTrue("\($0)".hasPrefix("loss nan fed back for sample 1 is invalid"), "\($0)")
        }
        XCTAssertThrowsError(try s.feedBack(indices: [1], losses: [.infinity]))
        XCTAssertEqual(s.staleLosses, [1, 1, 1])  // nothing changed by refused feedback
        XCTAssertThrowsError(try makeHardness([], beta: 1))
        XCTAssertThrowsError(try makeHardness([1, .nan], beta: 1)) { XCTAssertTrue("\($0)".contains("sample 1"), "\($0)") }
    }
}
