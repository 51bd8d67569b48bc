import XCTest
@testable import Training
import TestSupport

final class TrainRunDirectoryTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "run-tests-\(UUID().uuidString)/nested/run"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: (folder as NSString).deletingLastPathComponent)
    }

    func lines(_ name: String) throws -> [String] {
        let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    func record(_ iteration: Int) -> IterationRecord {
        IterationRecord(iteration: iteration, epoch: (iteration - 1) / 2 + 1, loss: 0.5, learningRate: 0.01,
                        gradientNorm: 1.5, seconds: Double(iteration), cases: ["a", "b,c"],
                        caseLosses: [0.25, 0.75], caseWeights: [1, 1], dataSeconds: 0.0125, stepSeconds: 0.25)
    }

    func testFreshRunCreatesFolderConfigAndLogHeaders() throws {
        let run = try RunDirectory(path: folder)
        try run.writeConfig("seed: 3\n")
        XCTAssertEqual(try String(contentsOfFile: folder + "/config.resolved.yaml", encoding: .utf8), "seed: 3\n")
        let logs = try run.openLogs(resume: nil)
        try logs.logIteration(record(1))
        XCTAssertEqual(try lines("train_log.csv"), [
            "iteration,epoch,loss,lr,grad_norm,seconds,cases,case_losses,case_weights,data_seconds,step_seconds",
            "1,1,0.5,0.01,1.5,1.000,\"a;b,c\",0.25;0.75,1.0;1.0,0.01250,0.25000",
        ])
        XCTAssertEqual(try lines("val.csv"), ["epoch,case,label,name,dice,loss"])
        XCTAssertEqual(try lines("sampler.csv"), ["epoch,index,case,group,stale_loss,probability,draws"])
    }

    /// Rows are on disk as soon as `append` returns (no buffer to lose when killed).
    func testEachRowIsOnDiskImmediately() throws {
        let logs = try RunDirectory(path: folder).openLogs(resume: nil)
        try logs.logValidation(epoch: 2, rows: [ValidationRow(caseName: "c1", label: 1, labelName: "csf", dice: 0.75, loss: 0.5)])
        XCTAssertEqual(try lines("val.csv").last, "2,c1,1,csf,0.75,0.5")
        try logs.logSampler(epoch: 2, rows: [SamplerRow(index: 0, caseName: "c1", group: "normal",
                                                        staleLoss: 1.25, probability: 0.5, draws: 3)])
        XCTAssertEqual(try lines("sampler.csv").last, "2,0,c1,normal,1.25,0.5,3")
    }

    /// Resuming from iteration 4 (2 epochs) drops rows written after that checkpoint,
    /// including a line cut short by a kill, and keeps appending after the kept rows.
    func testResumeTruncatesLogsToTheCheckpoint() throws {
        let run = try RunDirectory(path: folder)
        do {
            let logs = try run.openLogs(resume: nil)
            for iteration in 1...7 { try logs.logIteration(record(iteration)) }
            for epoch in 1...3 {
                try logs.logValidation(epoch: epoch, rows: [ValidationRow(caseName: "v", label: 1, labelName: "x", dice: 0.5)])
                try logs.logSampler(epoch: epoch, rows: [SamplerRow(index: 0, caseName: "t", group: "g",
                                                                    staleLoss: 1, probability: 1, draws: epoch)])
            }
        }
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: folder + "/train_log.csv"))
        handle.seekToEndOfFile()
        handle.write(Data("8,4,0.5,0.0".utf8))  // a partial line: the process died here
        handle.closeFile()

        let logs = try run.openLogs(resume: ResumePoint(iteration: 4, epochsCompleted: 2))
        XCTAssertEqual(try lines("train_log.csv").map { $0.prefix(2) }, ["it", "1,", "2,", "3,", "4,"])
        XCTAssertEqual(try lines("val.csv"), ["epoch,case,label,name,dice,loss", "1,v,1,x,0.5,nan", "2,v,1,x,0.5,nan"])
        XCTAssertEqual(try lines("sampler.csv").count, 3)
        try logs.logIteration(record(5))
        XCTAssertEqual(try lines("train_log.csv").map { $0.prefix(2) }, ["it", "1,", "2,", "3,", "4,", "5,"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder + "/train_log.csv.tmp"))
    }

    /// A run folder written by an older build (val.csv before its `loss` column) resumes: the kept
    /// rows get an empty cell in the added column, new rows are complete.
    func testResumeKeepsALogOfAnOlderBuildWithTheAddedColumnsEmpty() throws {
        let run = try RunDirectory(path: folder)
        _ = try run.openLogs(resume: nil)
        try Data("epoch,case,label,name,dice\n1,v,1,x,0.5\n2,v,1,x,0.625\n3,v,1,x,0.75\n".utf8)
            .write(to: URL(fileURLWithPath: folder + "/val.csv"))
        let logs = try run.openLogs(resume: ResumePoint(iteration: 4, epochsCompleted: 2))
        try logs.logValidation(epoch: 3, rows: [ValidationRow(caseName: "v", label: 1, labelName: "x", dice: 0.875, loss: 0.25)])
        XCTAssertEqual(try lines("val.csv"), ["epoch,case,label,name,dice,loss", "1,v,1,x,0.5,", "2,v,1,x,0.625,",
                                              "3,v,1,x,0.875,0.25"])
        // Columns that are not a leading part of today's header are another kind of log.
        XCTAssertNil(CSVLog.upgradePadding(found: "epoch,case,dice", expected: "epoch,case,label,name,dice,loss"))
        XCTAssertNil(CSVLog.upgradePadding(found: "", expected: "epoch,case"))
        XCTAssertEqual(CSVLog.upgradePadding(found: "epoch", expected: "epoch,case,label"), ",,")
    }

    func testResumeRefusesALogOfAnotherKind() throws {
        let run = try RunDirectory(path: folder)
        try Data("image,mask\n1,2\n".utf8).write(to: URL(fileURLWithPath: folder + "/train_log.csv"))
        XCTAssertThrowsError(try run.openLogs(resume: ResumePoint(iteration: 1, epochsCompleted: 0))) { error in
            XCTAssertEqual("\(error)", "log \(self.folder)/train_log.csv: header is \"image,mask\", expected "
                + "\"iteration,epoch,loss,lr,grad_norm,seconds,cases,case_losses,case_weights,data_seconds,step_seconds\" — "
                + "the output folder holds a different run; choose another --output")
        }
    }

    func testUncreatableFolderIsAClearError() throws {
        let file = NSTemporaryDirectory() + "run-tests-file-\(UUID().uuidString)"
        try Data().write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        XCTAssertThrowsError(try RunDirectory(path: file + "/run")) { error in
            XCTAssertTrue("\(error)".hasPrefix("run folder: cannot create output folder \(file)/run: "), "\(error)")
        }
    }

    /// The data-preparation share sums both timing columns over all logged iterations.
    func testDataTimeShareSumsTheTimingColumns() throws {
        let run = try RunDirectory(path: folder)
        let logs = try run.openLogs(resume: nil)
        var first = record(1), second = record(2)
        (first.dataSeconds, first.stepSeconds) = (0.1, 1)
        (second.dataSeconds, second.stepSeconds) = (0.3, 1)
        try logs.logIteration(first)
        try logs.logIteration(second)
        let share = try DataTimeShare.read(run: run)
        XCTAssertEqual(share.iterations, 2)
        // (0.1 + 0.3) / (1 + 1), from values written with 5 decimals (exact for these).
        XCTAssertEqual(try XCTUnwrap(share.fraction), 0.2, accuracy: 1e-12)
        XCTAssertEqual(share.summary, "data preparation: 20.0 % of iteration time (0.4 s of 2.0 s over 2 iterations)")
        XCTAssertNil(DataTimeShare(iterations: 0, dataSeconds: 0, stepSeconds: 0).fraction)
    }

    func testCSVQuoting() {
        XCTAssertEqual(CSVLog.line(["a", "b,c", "say \"hi\"", "two\nlines"]), "a,\"b,c\",\"say \"\"hi\"\"\",two lines\n")
    }
}
