import XCTest
@testable import Evaluation

/// Expected values from numpy 2.4 (np.percentile default "linear", np.mean, np.std ddof=0),
/// typed in from an independent run; tolerance 1e-12 (same formula, rounding only).
final class StatisticsTests: XCTestCase {
    func testPercentileMatchesNumpy() {
        XCTAssertEqual(Statistics.percentile([1, 2, 3, 4], 95), 3.8499999999999996, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile([0, 10], 25), 2.5, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile([3, 1, 2, 10, 7], 90), 8.8, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile([0.1, 0.7, 0.2], 95), 0.6499999999999999, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile([5], 95), 5)
        XCTAssertTrue(Statistics.percentile([], 50).isNaN)
    }

    func testMeanAndPopulationStd() {
        XCTAssertEqual(Statistics.mean([1, 2, 4, 8]), 3.75)
        XCTAssertEqual(Statistics.standardDeviation([1, 2, 4, 8]), 2.680951323690902, accuracy: 1e-12)
    }

    func testSummaryExcludesAndCountsNonFinite() {
        let s = MetricSummary([1, .nan, 2, .infinity, 4, 8, .nan])
        XCTAssertEqual(s.count, 4)
        XCTAssertEqual(s.nanCount, 2)
        XCTAssertEqual(s.infCount, 1)
        XCTAssertEqual(s.mean, 3.75)
        XCTAssertEqual(s.median, 3)
        XCTAssertEqual(s.value(atPercentile: 95)!, Statistics.percentile([1, 2, 4, 8], 95))
    }
}
