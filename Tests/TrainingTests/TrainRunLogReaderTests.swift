import XCTest
@testable import Training
import TestSupport

final class TrainRunLogReaderTests: XCTestCase {
    func testFieldsUndoCSVQuoting() {
        let original = ["a", "b,c", "say \"hi\"", "", "x;y"]
        let line = CSVLog.line(original).dropLast()
        XCTAssertEqual(RunLogReader.fields(line), original)
        XCTAssertEqual(RunLogReader.fields("1,,3"), ["1", "", "3"])
    }

    /// Curves computed by hand from a small log: Dice means exclude background and nan.
    func testCurvesFromLogs() throws {
        let folder = NSTemporaryDirectory() + "curves-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let run = try RunDirectory(path: folder)
        let logs = try run.openLogs(resume: nil)
        for i in 1...4 {
            try logs.logIteration(IterationRecord(iteration: i, epoch: (i + 1) / 2, loss: Double(i) / 4, learningRate: 0.01,
                                                  gradientNorm: 1, seconds: 0, cases: ["a"], caseLosses: [1], caseWeights: [1]))
        }
        for epoch in [1, 2] {
            try logs.logValidation(epoch: epoch, rows: [
                ValidationRow(caseName: "v1", label: 0, labelName: "background", dice: 0.99),
                ValidationRow(caseName: "v1", label: 1, labelName: "wm", dice: 0.5 * Double(epoch)),
                ValidationRow(caseName: "v2", label: 1, labelName: "wm", dice: 0.25),
                ValidationRow(caseName: "v1", label: 2, labelName: "gm", dice: .nan),
                ValidationRow(caseName: "v2", label: 2, labelName: "gm", dice: 0.75),
            ])
            try logs.logSampler(epoch: epoch, rows: [
                SamplerRow(index: 0, caseName: "c,0", group: "rare", staleLoss: 1, probability: 0.1 * Double(epoch), draws: 1),
                SamplerRow(index: 1, caseName: "c1", group: "common", staleLoss: 1, probability: 0.5, draws: 1),
                SamplerRow(index: 2, caseName: "c2", group: "common", staleLoss: 1, probability: 0.4, draws: 1),
            ])
        }
        let curves = try RunCurves.read(run: run)
        XCTAssertEqual(curves.loss.map(\.x), [1, 2, 3, 4])
        XCTAssertEqual(curves.loss.map(\.y), [0.25, 0.5, 0.75, 1])
        XCTAssertEqual(curves.dice.map(\.name), ["wm", "gm", "mean foreground"])
        XCTAssertEqual(curves.dice[0].points.map(\.y), [0.375, 0.625])
        XCTAssertEqual(curves.dice[1].points.map(\.y), [0.75, 0.75])
        // epoch 1: (0.5 + 0.25 + 0.75) / 3; epoch 2: (1 + 0.25 + 0.75) / 3
        XCTAssertEqual(curves.dice[2].points[0].y, 0.5, accuracy: 1e-15)
        XCTAssertEqual(curves.dice[2].points[1].y, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(curves.probability.epochs, [1, 2])
        XCTAssertEqual(curves.probability.cases, ["c1", "c2", "c,0"])
        XCTAssertEqual(curves.probability.groups, ["common", "common", "rare"])
        XCTAssertEqual(curves.probability.values, [[0.5, 0.5], [0.4, 0.4], [0.1, 0.2]])
    }
}
