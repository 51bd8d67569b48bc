import XCTest
@testable import Evaluation

final class RobustnessTests: XCTestCase {
    private func metrics(_ dice: Double, _ hd95: Double) -> LabelMetrics {
        LabelMetrics(dice: dice, hd: hd95, hd95: hd95, assd: hd95, surfaceDice: nil, nGT: 1, nPred: 1,
                     volumeGT: 1, volumePred: 1, empty: .none)
    }

    private func results() -> EvaluationResults {
        let values: [(String, String, Double, Double)] = [
            ("a", "normal", 0.9, 2), ("b", "normal", 0.8, 3), ("c", "abnormal", 0.0, .infinity),
            ("d", "abnormal", .nan, .nan), ("e", "normal", 0.7, 9)]
        let cases = values.map { CaseResult(caseID: $0.0, group: $0.1, metrics: [[metrics($0.2, $0.3)]]) }
        return EvaluationResults(labels: [LabelInfo(value: 1, name: "wm")], methods: ["p"], cases: cases,
                                 caseErrors: [], match: CaseMatch(cases: [], missingPredictions: [], missingGroundTruth: []),
                                 options: MetricOptions())
    }

    func testOverallAndGroupSummaries() {
        let s = Robustness.summaries(results(), method: 0, worst: 2)
        XCTAssertEqual(s.map(\.group), [nil, "abnormal", "normal"])
        let all = s[0]
        XCTAssertEqual(all.caseCount, 5)
        XCTAssertEqual(all.dice.count, 4); XCTAssertEqual(all.dice.nanCount, 1)
        XCTAssertEqual(all.hd95.count, 3); XCTAssertEqual(all.hd95.infCount, 1); XCTAssertEqual(all.hd95.nanCount, 1)
        XCTAssertEqual(all.dice.mean, 0.6, accuracy: 1e-15)
        XCTAssertEqual(all.worstDice, [RankedCase(caseID: "c", value: 0), RankedCase(caseID: "e", value: 0.7)])
        XCTAssertEqual(all.worstHD95, [RankedCase(caseID: "c", value: .infinity), RankedCase(caseID: "e", value: 9)])
        let normal = s[2]
        XCTAssertEqual(normal.caseCount, 3)
        XCTAssertEqual(normal.dice.median, 0.8, accuracy: 1e-15)
        XCTAssertEqual(normal.hd95.value(atPercentile: 90)!, 7.8, accuracy: 1e-12)  // numpy: 7.8
    }

    /// JSON never holds Infinity/NaN literals; CSV starts with the contracted columns.
    func testJSONAndCSVSpellNonFinite() {
        let r = results()
        let json = FileReports.json(r, worst: 2)
        XCTAssertFalse(json.contains("Infinity")); XCTAssertFalse(json.contains("NaN"))
        XCTAssertTrue(json.contains("\"hd95\": \"inf\""))
        XCTAssertTrue(json.contains("\"dice\": \"nan\""))
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(json.utf8)))
        let csv = FileReports.csv(r).split(separator: "\n")
        XCTAssertTrue(csv[0].hasPrefix("case,label,dice,hd,hd95,assd,n_gt,n_pred,empty"))
        XCTAssertTrue(csv[3].hasPrefix("c,1,0.0,inf,inf,inf,1,1,none"))
    }
}
