import XCTest
@testable import Sampling

final class UniformSamplerTests: XCTestCase {
    /// Single-index frequencies are uniform (Bretagnolle–Huber–Carol bound, k = 5, δ = 1e-9) and
    /// batches hold distinct indices, on both paths (rejection for B ≤ N/2, shuffle otherwise).
    func testUniformAndDistinct() throws {
        let s = try UniformSampler(count: 5, generator: SeededGenerator(seed: 4))
        for b in [1, 2, 4, 5] {
            var counts = [Int](repeating: 0, count: 5)
            let n = 40_000
            for _ in 0 ..< n {
                let batch = try s.nextBatch(size: b)
                XCTAssertEqual(Set(batch).count, b)
                counts[batch[0]] += 1
            }
            XCTAssertLessThan(l1Distance(frequencies(counts), [Double](repeating: 0.2, count: 5)),
                              l1Bound(categories: 5, samples: n, falseFailure: statisticalDelta), "B=\(b)")
        }
        XCTAssertThrowsError(try s.nextBatch(size: 6))
        XCTAssertEqual(s.iterationsPerEpoch(batchSize: 2), 3)
        XCTAssertThrowsError(try UniformSampler(count: 0, generator: SeededGenerator(seed: 1)))
    }
}
