// Empirical draw frequencies of the tree sampler against the exact (floored) softmax computed
// independently in Double (TestSupport.exactDistribution).
//
// Bound: Bretagnolle–Huber–Carol, ‖p̂ − p‖₁ < λ = sqrt(2(k ln 2 + ln(1/δ))/n) for n i.i.d. draws
// over k categories, δ = 1e-9 per check (about 25 checks here: union false failure < 3e-8).
// With n = 200 000 and k = 5, λ ≈ 0.0156.

import XCTest
@testable import Sampling

final class HardnessDistributionTests: XCTestCase {
    /// Spread-out losses (the authors' style) and a narrow spread that keeps β = 100 non-trivial.
    let lossSets: [[Double]] = [[0, 0.5, 1.0, 1.5, 2.0], [2.0, 2.01, 2.02, 2.05, 1.99]]
    let betas: [Double] = [0, 0.1, 1, 10, 100]

    private func checkSingleDraws(losses: [Double], beta: Double, floor: Double, draws n: Int,
                                  file: StaticString = #filePath, line: UInt = #line) throws {
        let s = try makeHardness(losses, beta: beta, floor: floor, seed: UInt64(beta * 1000 + floor * 10 + 7))
        var counts = [Int](repeating: 0, count: losses.count)
        for _ in 0 ..< n { counts[try s.nextBatch(size: 1)[0]] += 1 }
        let exact = exactDistribution(losses, beta: beta, floor: floor)
        let d = l1Distance(frequencies(counts), exact)
        let bound = l1Bound(categories: losses.count, samples: n, falseFailure: statisticalDelta)
        XCTAssertLessThan(d, bound, "β=\(beta) floor=\(floor) losses=\(losses)", file: file, line: line)
        // The sampler's own probabilities are the exact ones (1e-12: a few roundings of exp and sums).
        for (a, b) in zip(s.probabilities(), exact) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(b, 1e-300), file: file, line: line) }
    }

    func testSingleDrawsMatchSoftmaxForEveryBeta() throws {
        for losses in lossSets {
            for beta in betas {
                try checkSingleDraws(losses: losses, beta: beta, floor: HardnessSamplerOptions.defaultFloor, draws: 200_000)
            }
        }
    }

    /// A large floor makes the floored entries frequent, so the rejection step is seen: with
    /// β = 100 on [0, 1, 2, 3, 4], q ≈ (0, 0, 0, 0, 1) and ε = floor/5.
    func testFloorIsExact() throws {
        for floor in [0.0, 0.5, 1.0] {
            try checkSingleDraws(losses: [0, 1, 2, 3, 4], beta: 100, floor: floor, draws: 200_000)
        }
        try checkSingleDraws(losses: [0, 0.5, 1.0, 1.5, 2.0], beta: 1, floor: 1.0, draws: 200_000)
    }

    /// β = 0 gives exactly 1/N whatever the history.
    func testBetaZeroIsUniform() throws {
        var g = SeededGenerator(seed: 3)
        let losses = (0 ..< 6).map { _ in g.nextDouble(in: 0, 10) }
        let s = try makeHardness(losses, beta: 0)
        for p in s.probabilities() { XCTAssertEqual(p, 1.0 / 6, accuracy: 1e-15) }
        var counts = [Int](repeating: 0, count: 6)
        let n = 120_000
        for _ in 0 ..< n / 2 { for i in try s.nextBatch(size: 2) { counts[i] += 1 } }
        XCTAssertLessThan(l1Distance(frequencies(counts), [Double](repeating: 1.0 / 6, count: 6)),
                          l1Bound(categories: 6, samples: n / 2, falseFailure: statisticalDelta))
    }

    /// B = 2 on N = 4: ordered pair (i, j) has probability p_i·p_j/(1 − p_i) (successive draws
    /// renormalised over the remaining indices, numpy's choice(replace=False)), so the unordered
    /// pair {i, j} has p_i·p_j/(1 − p_i) + p_j·p_i/(1 − p_j). k = 12 ordered categories,
    /// n = 300 000 batches: λ ≈ 0.0138.
    func testPairsFollowSuccessiveDraws() throws {
        for (losses, beta, floor) in [([0, 0.5, 1.0, 2.0], 1.0, 1e-4), ([0, 0.5, 1.0, 2.0], 1.0, 0.8),
                                      ([0, 0.01, 0.02, 0.03], 100.0, 1e-4)] {
            let s = try makeHardness(losses, beta: beta, floor: floor, seed: 11)
            let p = exactDistribution(losses, beta: beta, floor: floor)
            var ordered = [[Int]](repeating: [Int](repeating: 0, count: 4), count: 4)
            let n = 300_000
            for _ in 0 ..< n {
                let b = try s.nextBatch(size: 2)
                XCTAssertNotEqual(b[0], b[1])
                ordered[b[0]][b[1]] += 1
            }
            var emp = [Double](), exact = [Double](), empU = [Double](), exactU = [Double]()
            for i in 0 ..< 4 {
                for j in 0 ..< 4 where j != i {
                    emp.append(Double(ordered[i][j]) / Double(n))
                    exact.append(p[i] * p[j] / (1 - p[i]))
                    if i < j {
                        empU.append(Double(ordered[i][j] + ordered[j][i]) / Double(n))
                        exactU.append(p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j]))
                    }
                }
            }
            XCTAssertLessThan(l1Distance(emp, exact), l1Bound(categories: 12, samples: n, falseFailure: statisticalDelta),
                              "ordered pairs, β=\(beta) floor=\(floor)")
            XCTAssertLessThan(l1Distance(empU, exactU), l1Bound(categories: 6, samples: n, falseFailure: statisticalDelta),
                              "unordered pairs, β=\(beta) floor=\(floor)")
        }
    }

    /// B = N returns a permutation; B outside 1...N is refused with a message naming it.
    func testBatchSizeLimits() throws {
        let s = try makeHardness([0, 1, 2, 3, 4], beta: 10)
        for _ in 0 ..< 100 { XCTAssertEqual(try s.nextBatch(size: 5).sorted(), [0, 1, 2, 3, 4]) }
        XCTAssertThrowsError(try s.nextBatch(size: 6)) { XCTAssertEqual("\($0)", "batch size 6 is invalid for a sampler over 5 samples: allowed 1...5") }
        XCTAssertThrowsError(try s.nextBatch(size: 0))
        // Draw counts add up to the draws made.
        XCTAssertEqual(s.drawCounts.reduce(0) { $0 + Int($1) }, 500)
    }
}
