import XCTest
@testable import Sampling

/// `sampler.kind: group_balanced` against the exact law written from its definition: a group
/// uniformly (G groups), then a sample uniformly within it, so p_i = 1/(G·n_g); within a batch,
/// draw k is renormalised over the samples not yet drawn, so an ordered pair (i, j) has
/// probability p_i · p_j / (1 − p_i).
final class GroupBalancedSamplerTests: XCTestCase {
    /// Groups a (3 samples), b (1), c (2): p = (1/9, 1/9, 1/9, 1/3, 1/6, 1/6).
    let groups = ["a", "b", "a", "c", "a", "c"]
    var exact: [Double] { [1.0 / 9, 1.0 / 3, 1.0 / 9, 1.0 / 6, 1.0 / 9, 1.0 / 6] }

    func testSnapshotProbabilities() throws {
        let s = try GroupBalancedSampler(groups: groups, generator: SeededGenerator(seed: 1))
        for (row, p) in zip(s.snapshot(), exact) { XCTAssertEqual(row.probability, p, accuracy: 1e-15) }
    }

    /// First draws follow p and ordered pairs of a batch of 2 follow p_i·p_j/(1 − p_i): L1 distance
    /// of the frequencies below the Bretagnolle–Huber–Carol bound (false failure ≤ 1e-9).
    func testBatchLaw() throws {
        let s = try GroupBalancedSampler(groups: groups, generator: SeededGenerator(seed: 7))
        let n = 200_000, count = groups.count
        var first = [Int](repeating: 0, count: count)
        var pairs = [Int](repeating: 0, count: count * count)
        for _ in 0 ..< n {
            let batch = try s.nextBatch(size: 2)
            XCTAssertNotEqual(batch[0], batch[1])
            first[batch[0]] += 1
            pairs[batch[0] * count + batch[1]] += 1
        }
        let p = exact
        XCTAssertLessThan(l1Distance(frequencies(first), p), l1Bound(categories: count, samples: n, falseFailure: statisticalDelta))
        var pairLaw = [Double](repeating: 0, count: count * count)
        for i in 0 ..< count { for j in 0 ..< count where j != i { pairLaw[i * count + j] = p[i] * p[j] / (1 - p[i]) } }
        XCTAssertEqual(pairLaw.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertLessThan(l1Distance(frequencies(pairs), pairLaw),
                          l1Bound(categories: count * count, samples: n, falseFailure: statisticalDelta))
        XCTAssertEqual(s.drawCounts.map(Int.init).reduce(0, +), 2 * n)
        // The whole set: a permutation; importance weights 1.
        let all = try s.nextBatch(size: count)
        XCTAssertEqual(Set(all).count, count)
        XCTAssertEqual(try s.feedBack(indices: [0, 3], losses: [0.5, 1.5]), [1, 1])
        XCTAssertEqual(s.snapshot()[3].staleLoss, 1.5)
        XCTAssertThrowsError(try s.nextBatch(size: count + 1))
    }

    /// A restored state continues bit-identically; a state of other groups is refused.
    func testStateRoundTrip() throws {
        let a = try GroupBalancedSampler(groups: groups, generator: SeededGenerator(seed: 3))
        for _ in 0 ..< 10 { _ = try a.nextBatch(size: 2) }
        let b = try GroupBalancedSampler(groups: groups, generator: SeededGenerator(seed: 99))
        try b.restore(from: a.stateBytes())
        for _ in 0 ..< 20 { XCTAssertEqual(try a.nextBatch(size: 3), try b.nextBatch(size: 3)) }
        XCTAssertEqual(a.drawCounts, b.drawCounts)
        let other = try GroupBalancedSampler(groups: ["a", "a", "a", "c", "a", "c"], generator: SeededGenerator(seed: 3))
        XCTAssertThrowsError(try other.restore(from: a.stateBytes()))
        XCTAssertThrowsError(try b.restore(from: Array(a.stateBytes().dropLast())))
    }

    func testSampleWithoutGroupIsRefused() {
        XCTAssertThrowsError(try GroupBalancedSampler(groups: ["a", ""], generator: SeededGenerator(seed: 1))) { error in
            XCTAssertTrue("\(error)".contains("group_balanced"), "\(error)")
        }
    }
}
