import ArgumentParser
import XCTest
import Config
import NIfTI
@testable import Commands
@testable import Common
@testable import DataPipeline
import TestSupport

/// The repository root, found from this file's path (Tests/SegmentationTests/<file>).
let datasetTestsRepositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

/// Lines written by a command, for assertions.
final class DatasetCommandOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var outLines: [String] = []
    private var errLines: [String] = []
    var out: [String] { lock.lock(); defer { lock.unlock() }; return outLines }
    var err: [String] { lock.lock(); defer { lock.unlock() }; return errLines }
    var output: CommandOutput {
        CommandOutput(out: { s in self.lock.lock(); self.outLines.append(s); self.lock.unlock() },
                      err: { s in self.lock.lock(); self.errLines.append(s); self.lock.unlock() })
    }
}

/// `dro-train`'s logic (TrainCommand) end to end on a small generated dataset.
final class DatasetDryRunTests: XCTestCase {
    func makeDataset(_ t: DatasetTestFolder, badLabel: Bool = false) throws {
        try t.write("ds/dataset.json", """
        {"channel_names": {"0": "T2"}, "labels": {"background": 0, "x": 1}, "numTraining": 3, "file_ending": ".nii.gz"}
        """)
        try FileManager.default.createDirectory(atPath: t.path + "/ds/imagesTr", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: t.path + "/ds/labelsTr", withIntermediateDirectories: true)
        for id in ["a", "b", "c"] {
            let labels: [Float] = (0..<64).map { Float($0 % 2) + (badLabel && id == "b" && $0 == 0 ? 5 : 0) }
            try NIfTIImage(shape: [4, 4, 4], spacing: [1, 1, 1], values: (0..<64).map(Float.init))
                .write(to: "\(t.path)/ds/imagesTr/\(id)_0000.nii.gz")
            try NIfTIImage(shape: [4, 4, 4], spacing: [1, 1, 1], values: labels).write(to: "\(t.path)/ds/labelsTr/\(id).nii.gz")
        }
        try t.write("cfg/run.cfg", "data:\n  dataset: ../ds\nmodel:\n  features: [4, 8]\ntraining:\n  patch_size: [4, 4, 4]\n")
    }

    func options(_ t: DatasetTestFolder, _ body: (inout TrainOptions) -> Void) -> TrainOptions {
        var o = try! TrainOptions.parse([])
        o.configPath = t.path + "/cfg/run.cfg"
        body(&o)
        return o
    }

    func testDryRunCleanDataset() throws {
        let t = try DatasetTestFolder()
        try makeDataset(t)
        let c = DatasetCommandOutput()
        XCTAssertEqual(TrainCommand.run(options(t) { $0.dryRun = true }, output: c.output), ExitStatus.ok)
        XCTAssertEqual(c.err, [])
        let text = c.out.joined(separator: "\n")
        XCTAssertTrue(text.contains("cases: 3 training (3 read without problems)"), text)
        XCTAssertTrue(text.contains("network: 1 input channel(s), 2 classes"), text)
        XCTAssertTrue(text.hasSuffix("dry run OK: config valid, 3 cases checked"), text)
    }

    /// The shipped demo config against the phantom dataset the data pipeline writes.
    func testDemoConfigAgainstPhantomDataset() throws {
        let t = try DatasetTestFolder()
        let summary = try PhantomGenerator.writeDataset(to: URL(fileURLWithPath: t.path + "/demo"), cases: 5,
                                                        rareFraction: 0.4, seed: 3, testCases: 2,
                                                        shape: GridShape(cube: 16))
        var o = try! TrainOptions.parse([])
        o.configPath = datasetTestsRepositoryRoot + "/configs/demo.cfg"
        o.overrides = ["data.dataset=\(t.path)/demo", "data.groups=\(t.path)/demo/groups.csv",
                       "training.batch_size=1"]
        o.dryRun = true
        let c = DatasetCommandOutput()
        XCTAssertEqual(TrainCommand.run(o, output: c.output), ExitStatus.ok, c.err.joined(separator: "\n"))
        let text = c.out.joined(separator: "\n")
        XCTAssertTrue(text.contains("cases: 5 training (5 read without problems), 2 test images"), text)
        let rare = summary.trainingIDs.filter { summary.groups[$0] == PhantomGenerator.rareGroup }.count
        XCTAssertTrue(text.contains("groups: common \(5 - rare), rare \(rare)"), text)
        XCTAssertTrue(text.contains("labels: 0 background, 1 external_csf, 2 grey_matter, 3 white_matter, 4 ventricles, 5 deep_grey"), text)
    }

    func testDryRunReportsProblemsAndFails() throws {
        let t = try DatasetTestFolder()
        try makeDataset(t, badLabel: true)
        try FileManager.default.removeItem(atPath: t.path + "/ds/labelsTr/c.nii.gz")
        let c = DatasetCommandOutput()
        XCTAssertEqual(TrainCommand.run(options(t) { $0.dryRun = true; $0.quiet = true }, output: c.output), ExitStatus.failure)
        XCTAssertEqual(c.err, [
            "case c: missing label file: \(t.path)/ds/labelsTr/c.nii.gz",
            "case b: \(t.path)/ds/labelsTr/b.nii.gz: label values 5 are not declared labels; allowed: integers 0…1 (the declared labels)",
            "dry run: 2 problem(s) in the dataset",
        ])
        XCTAssertEqual(c.out, [], "--quiet prints only problems")
    }

    func testBatchLargerThanTrainingSetAndPatchNote() throws {
        let t = try DatasetTestFolder()
        try makeDataset(t)
        let c = DatasetCommandOutput()
        // 3 cases, val_fraction 0.34 → 1 validation case, 2 training cases < batch 3.
        let status = TrainCommand.run(options(t) {
            $0.dryRun = true
            $0.overrides = ["training.batch_size=3", "data.val_fraction=0.34", "training.patch_size=[8, 4, 4]"]
        }, output: c.output)
        XCTAssertEqual(status, ExitStatus.failure)
        XCTAssertEqual(c.err, [
            "training.batch_size: 3 but only 2 training case(s) after the validation split (a batch draws distinct cases)",
            "dry run: 1 problem(s) in the dataset",
        ])
        XCTAssertTrue(c.out.contains("note: 3 case(s) are smaller than the patch 8×4×4 along some axis (e.g. a 4×4×4); their patches will be padded"), "\(c.out)")
    }

    func testConfigErrorsOneLineEachExitOne() throws {
        let t = try DatasetTestFolder()
        try makeDataset(t)
        let c = DatasetCommandOutput()
        let status = TrainCommand.run(options(t) { $0.overrides = ["training.lr=0", "sampler.kind=unifrom"]; $0.dryRun = true },
                                      output: c.output)
        XCTAssertEqual(status, ExitStatus.failure)
        XCTAssertEqual(c.err, [
            "--set training.lr=0: training.lr: value 0 is out of range; allowed: a number > 0",
            "--set sampler.kind=unifrom: sampler.kind: found 'unifrom', allowed: one of uniform, hardness, group_balanced; did you mean 'uniform'?",
        ])
    }

    func testPrintConfigWithOutputOverride() throws {
        let t = try DatasetTestFolder()
        try makeDataset(t)
        let c = DatasetCommandOutput()
        let status = TrainCommand.run(options(t) { $0.printConfig = true; $0.outputDir = "/tmp/x/../y" }, output: c.output)
        XCTAssertEqual(status, ExitStatus.ok)
        let printed = try Config.decode(yaml: c.out.joined(separator: "\n"), sourceName: "printed", baseDirectory: "/")
        XCTAssertEqual(printed.output.dir, "/tmp/y")
        XCTAssertEqual(printed.data.dataset, t.path + "/ds")
        XCTAssertEqual(printed.model.features, [4, 8])
    }

    func testMakeDemoDataTakesTheConfigDemoSection() throws {
        let t = try DatasetTestFolder()
        try t.write("demo.cfg", "data:\n  dataset: d\n  demo: {cases: 3, rare_fraction: 0.34, seed: 5}\n")
        var o = try! TrainOptions.parse([])
        o.configPath = t.path + "/demo.cfg"
        o.makeDemoData = t.path + "/d"
        o.quiet = true
        let c = DatasetCommandOutput()
        XCTAssertEqual(TrainCommand.run(o, output: c.output), ExitStatus.ok, "\(c.err)")
        let layout = try DatasetLayout.discover(try decodeDataConfig("data: {dataset: d}", base: t.path))
        XCTAssertEqual(layout.cases.count, 3)
    }

    func testMissingConfigIsAUsageError() {
        let c = DatasetCommandOutput()
        XCTAssertEqual(TrainCommand.run(try! TrainOptions.parse([]), output: c.output), ExitStatus.usage)
        XCTAssertEqual(c.err, ["dro-train: --config FILE is required"])
    }
}
