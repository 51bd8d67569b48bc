import XCTest
import Config
@testable import DataPipeline
@testable import Model
@testable import Training
import TestSupport

/// dro-train's training path end to end on a tiny phantom dataset written to disk: config →
/// dataset discovery → loading + preprocessing → U-Net training with the hardness sampler →
/// validation → checkpoints, logs and plots; then the run-folder rules of --resume.
final class TrainRunEndToEndTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "train-e2e-\(UUID().uuidString)"
        try PhantomGenerator.writeDataset(to: URL(fileURLWithPath: root + "/data"), cases: 5, rareFraction: 0.4, seed: 4,
                                          shape: GridShape(cube: 16))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func config(lr: Double = 0.01) throws -> Config {
        let yaml = """
        data:
          dataset: data
          groups: data/groups.csv
          val_fraction: 0.2
        model:
          features: [4, 8]
        sampler:
          kind: hardness
          beta: 10
          importance_sampling: true
        training:
          patch_size: [8, 8, 8]
          batch_size: 2
          epochs: 2
          lr: \(lr)
          threads: 1
          val_every: 1
          seed: 5
        output:
          dir: run
          checkpoint_every: 1
        """
        return try Config.decode(yaml: yaml, sourceName: root + "/tiny.cfg", baseDirectory: root)
    }

    typealias Lines = CapturedLines

    func testTinyRunWritesCheckpointsLogsAndPlotsAndGuardsTheFolder() throws {
        let lines = Lines()
        XCTAssertEqual(TrainRun.run(try config(), resume: false, quiet: true, output: lines.output), 0, "\(lines.err)")
        XCTAssertEqual(lines.err, [])
        let run = root + "/run"
        for name in ["checkpoint_latest.ckpt", "checkpoint_best.ckpt", "config.resolved.yaml", "train_log.csv", "val.csv",
                     "sampler.csv", "loss.png", "dice.png", "sampling.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/" + name), name)
        }
        let latest = run + "/checkpoint_latest.ckpt"
        let checkpoint = try Checkpoint.read(path: latest)
        XCTAssertEqual(checkpoint.sections.map(\.name),
                       ["config", "labels", "network", "preprocessing", "compute", "model", "optimizer", "sampler", "rng", "progress"])
        let labels = try JSONSerialization.jsonObject(with: Data(try checkpoint.require("labels", path: latest))) as? [String: Int]
        XCTAssertEqual(labels?["background"], 0)
        XCTAssertEqual(labels?.count, PhantomGenerator.labelNames.count)
        XCTAssertEqual(try checkpoint.requireText("config", path: latest),
                       try String(contentsOfFile: run + "/config.resolved.yaml", encoding: .utf8))
        // 4 training cases, batch 2 → 2 iterations per epoch, 2 epochs.
        let trainLog = try String(contentsOfFile: run + "/train_log.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(trainLog.count, 1 + 4)
        // Batch-building time is logged per iteration and is part of the iteration's time.
        for row in try RunLogReader.rows(path: run + "/train_log.csv") {
            let data = try XCTUnwrap(row["data_seconds"].flatMap(Double.init), "\(row)")
            let step = try XCTUnwrap(row["step_seconds"].flatMap(Double.init), "\(row)")
            XCTAssertGreaterThanOrEqual(data, 0)
            XCTAssertGreaterThan(step, 0)
            // Both printed with 5 decimals: allow one rounding unit.
            XCTAssertLessThanOrEqual(data, step + 1e-5, "\(row)")
        }
        let share = try DataTimeShare.read(run: try RunDirectory(path: run))
        XCTAssertEqual(share.iterations, 4)
        let fraction = try XCTUnwrap(share.fraction)
        XCTAssertTrue((0...1).contains(fraction), "\(fraction)")
        XCTAssertTrue(share.summary.hasPrefix("data preparation: "), share.summary)
        let sampler = try RunLogReader.rows(path: run + "/sampler.csv")
        XCTAssertEqual(sampler.count, 2 * 4)
        XCTAssertEqual(Set(sampler.map { $0["group"] ?? "" }), ["common", "rare"])
        let validation = try RunLogReader.rows(path: run + "/val.csv")
        XCTAssertEqual(validation.count, 2 * 1 * (PhantomGenerator.labelNames.count - 1))

        // A fresh run into the same folder is refused; a resume of the finished run does nothing.
        XCTAssertEqual(TrainRun.run(try config(), resume: false, quiet: true, output: lines.output), 1)
        XCTAssertEqual(lines.err.last, "dro-train: output folder \(run) already holds a run (checkpoint_latest.ckpt); "
                       + "continue it with --resume or choose another --output")
        XCTAssertEqual(TrainRun.run(try config(), resume: true, quiet: true, output: lines.output), 0, "\(lines.err)")
        XCTAssertEqual(try String(contentsOfFile: run + "/train_log.csv", encoding: .utf8).split(separator: "\n"), trainLog)
        // Resuming with another configuration is refused, naming the line.
        XCTAssertEqual(TrainRun.run(try config(lr: 0.02), resume: true, quiet: true, output: lines.output), 1)
        XCTAssertEqual(lines.err.last, "dro-train: checkpoint \(latest): cannot resume: the configuration differs: "
                       + "checkpoint has \"lr: 0.01\", now \"lr: 0.02\"; resume needs the configuration the run started with")
    }

    func testResumeWithoutARunIsRefused() throws {
        let lines = Lines()
        XCTAssertEqual(TrainRun.run(try config(), resume: true, quiet: true, output: lines.output), 1)
        XCTAssertEqual(lines.err, ["dro-train: --resume: no checkpoint checkpoint_latest.ckpt in output folder \(root)/run; "
                                   + "start without --resume to train from scratch"])
    }
}
