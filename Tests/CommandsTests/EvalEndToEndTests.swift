import Foundation
import NIfTI
import XCTest
@testable import Commands
@testable import Evaluation

/// Folders of NIfTI files through `EvalCommand`: matching, labels, groups, geometry errors,
/// exit status. Metric values themselves are checked against MedPy in
/// scripts/interop/test_eval_medpy.py and against analytic cases in SurfaceMetricsTests.
final class EvalEndToEndTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("dro-eval-\(UUID().uuidString)").path
        for d in ["gt", "pred", "other"] {
            try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    let shape = [10, 9, 8]

    /// Label volume: label 1 = box, label 2 = a single voxel (when `withTwo`).
    func volume(shift: Int = 0, withTwo: Bool = true) -> [Int32] {
        var v = [Int32](repeating: 0, count: 720)
        for z in 2...5 { for y in 2...6 { for x in (2 + shift)...(6 + shift) { v[x + 10 * (y + 9 * z)] = 1 } } }
        if withTwo { v[8 + 10 * (7 + 9 * 6)] = 2 }
        return v
    }

    func write(_ labels: [Int32], _ path: String, spacing: [Double] = [0.5, 0.5, 3]) throws {
        let ref = NIfTIImage(shape: shape, spacing: spacing, values: [Float](repeating: 0, count: 720))
        try NIfTIImage.like(ref, shape: shape, labels: labels).write(to: root + "/" + path)
    }

    func testFoldersMatchedByCaseWithLabelsFoundInGroundTruth() throws {
        try write(volume(), "gt/a.nii.gz"); try write(volume(shift: 1), "pred/a.nii.gz")
        try write(volume(withTwo: false), "gt/b.nii.gz"); try write(volume(), "pred/b.nii.gz")
        try write(volume(), "gt/onlygt.nii.gz"); try write(volume(), "pred/onlypred.nii")
        let r = try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/gt"))
        XCTAssertEqual(r.cases.map(\.caseID), ["a", "b"])
        XCTAssertEqual(r.labels.map(\.value), [1, 2])
        XCTAssertEqual(r.match.missingPredictions.map(\.caseID), ["onlygt"])
        XCTAssertEqual(r.match.missingGroundTruth.map(\.caseID), ["onlypred"])
        let a1 = r.cases[0].metrics[0][0]
        XCTAssertEqual(a1.dice, 2.0 * 80 / 200, accuracy: 1e-15)   // 4·5·5 boxes overlapping 4·5·4
        XCTAssertEqual(a1.hd, 0.5, accuracy: 1e-12)                 // one voxel along x at 0.5 mm
        XCTAssertEqual(a1.volumeGT, 100 * 0.75, accuracy: 1e-9)
        XCTAssertEqual(r.cases[1].metrics[0][1].empty, .gt)         // label 2 only in b's prediction
        XCTAssertEqual(r.cases[1].metrics[0][1].hd95, .infinity)
        var o = EvalOptions(pred: root + "/pred", gt: root + "/gt")
        o.csv = root + "/out.csv"
        XCTAssertEqual(EvalCommand.run(o), EvalCommand.exitFailure)  // onlygt has no prediction
        XCTAssertTrue(try String(contentsOfFile: o.csv!, encoding: .utf8).contains("b,2,0.0,inf,inf,inf,0,1,gt"))
    }

    func testGeometryMismatchIsNamedAndOthersStillScored() throws {
        try write(volume(), "gt/good.nii.gz"); try write(volume(), "pred/good.nii.gz")
        try write(volume(), "gt/bad.nii.gz"); try write(volume(), "pred/bad.nii.gz", spacing: [0.5, 0.5, 2.9])
        let r = try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/gt"))
        XCTAssertEqual(r.cases.map(\.caseID), ["good"])
        XCTAssertEqual(r.caseErrors.map(\.caseID), ["bad"])
        XCTAssertTrue(r.caseErrors[0].message.contains("case bad: prediction affine[2][2] 2.9"), r.caseErrors[0].message)
        XCTAssertEqual(EvalCommand.run(EvalOptions(pred: root + "/pred", gt: root + "/gt")), EvalCommand.exitFailure)
    }

    func testSingleFilesLabelsListAndDatasetJSON() throws {
        try write(volume(), "gt/x.nii.gz"); try write(volume(), "pred/x.nii.gz")
        var o = EvalOptions(pred: root + "/pred/x.nii.gz", gt: root + "/gt/x.nii.gz")
        o.labels = "3,1"
        let r = try EvalCommand.evaluate(o)
        XCTAssertEqual(r.labels.map(\.value), [1, 3])
        XCTAssertEqual(r.cases[0].metrics[0][1].empty, .both)
        XCTAssertTrue(r.cases[0].metrics[0][1].dice.isNaN)
        XCTAssertEqual(EvalCommand.run(o), EvalCommand.exitOK)

        let nnunet = root + "/nnunet.json", msd = root + "/msd.json"
        try #"{"labels": {"background": 0, "wm": 1, "csf": 2}}"#.write(toFile: nnunet, atomically: true, encoding: .utf8)
        try #"{"labels": {"0": "background", "1": "edema", "3": "tumour"}}"#.write(toFile: msd, atomically: true, encoding: .utf8)
        XCTAssertEqual(try LabelSource.fromDatasetJSON(path: nnunet), [LabelInfo(value: 1, name: "wm"), LabelInfo(value: 2, name: "csf")])
        XCTAssertEqual(try LabelSource.fromDatasetJSON(path: msd).map(\.name), ["edema", "tumour"])
        let regions = root + "/regions.json"
        try #"{"labels": {"background": 0, "whole": [1, 2]}}"#.write(toFile: regions, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabelSource.fromDatasetJSON(path: regions)) {
            XCTAssertTrue("\($0)".contains("labels.whole"), "\($0)")
        }
        XCTAssertThrowsError(try LabelSource.parseList("1,x")) {
            XCTAssertEqual("\($0)", "--labels '1,x': expected comma-separated positive integers, e.g. 1,2,3")
        }
    }

    func testGroupsAndBadInputs() throws {
        try write(volume(), "gt/a.nii.gz"); try write(volume(), "pred/a.nii.gz")
        try write(volume(), "gt/b.nii.gz"); try write(volume(), "pred/b.nii.gz")
        let groups = root + "/groups.csv"
        try "case,group\na,normal\nb,abnormal\n".write(toFile: groups, atomically: true, encoding: .utf8)
        var o = EvalOptions(pred: root + "/pred", gt: root + "/gt")
        o.groups = groups
        let r = try EvalCommand.evaluate(o)
        XCTAssertEqual(r.cases.map { $0.group ?? "" }, ["normal", "abnormal"])
        try "case,group\na,normal\n".write(toFile: groups, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try EvalCommand.evaluate(o)) {
            XCTAssertEqual($0 as? EvaluationError, .caseWithoutGroup(caseID: "b", path: groups))
        }
        try "a;normal\n".write(toFile: groups, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try EvalCommand.evaluate(o)) { XCTAssertTrue("\($0)".contains("line 1"), "\($0)") }

        // a non-integer label value is refused, naming the file
        let ref = NIfTIImage(shape: shape, spacing: [1, 1, 1], values: [Float](repeating: 0.5, count: 720))
        try ref.write(to: root + "/pred/a.nii.gz")
        let bad = try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/gt"))
        XCTAssertTrue(bad.caseErrors.first?.message.contains("pred/a.nii.gz: voxel value 0.5") ?? false)
        // a label beyond uint16 is refused instead of sizing per-label tables by it
        try NIfTIImage(shape: shape, spacing: [1, 1, 1], values: [Float](repeating: 70000, count: 720))
            .write(to: root + "/pred/a.nii.gz")
        let huge = try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/gt"))
        XCTAssertTrue(huge.caseErrors.first?.message.contains("label value 70000 is larger than 65535") ?? false)
        // a zero or non-finite voxel size is refused, naming the file (distances are in mm)
        for spacing in [[0, 0.5, 3], [Double.nan, 0.5, 3], [0.5, .infinity, 3]] {
            try write(volume(), "pred/a.nii.gz", spacing: spacing)
            let flat = try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/gt"))
            XCTAssertTrue(flat.caseErrors.first?.message.contains("pred/a.nii.gz: voxel size") ?? false,
                          "spacing \(spacing): \(flat.caseErrors.map(\.message))")
        }
        XCTAssertThrowsError(try EvalCommand.evaluate(EvalOptions(pred: root + "/pred", gt: root + "/nope"))) {
            XCTAssertEqual("\($0)", "--gt: '\(root)/nope' does not exist")
        }
        XCTAssertThrowsError(try EvalCommand.evaluate(EvalOptions(pred: root + "/pred/b.nii.gz", gt: root + "/gt")))
    }
}
