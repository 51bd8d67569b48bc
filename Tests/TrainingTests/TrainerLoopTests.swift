import XCTest
#if canImport(Glibc)
import Glibc
@testable import Model
@testable import Training
import TestSupport
import Config
#endif

typealias FakeTrainer = Trainer<FakeModel, FakeSource, FakeValidator>

final class TrainerLoopTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "trainer-tests-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        if ProcessInfo.processInfo.environment["KEEP_TRAIN_TEST_FILES"] == nil { try? FileManager.default.removeItem(atPath: root) }
    }

    /// 5 cases, batch 2 → 3 iterations per epoch; 6 epochs = 18 iterations; checkpoint every 4
    /// iterations and at epoch ends; validation every 2 epochs.
    func makeTrainer(_ name: String, seed: UInt64 = 7, beta: Double = 1, useWeights: Bool = true,
                     batch: Int = 2, script: [Double] = [0.5], stop: SignalStop? = nil,
                     checkpointEvery: Int? = 4, checkpointEveryEpochs: Int = 1, epochs: Int = 6,
                     lossScript: [Double]? = nil, monitor: ValidationMonitor = .dice, patience: Int? = nil,
                     configure: (FakeModel) -> Void = { _ in }) throws -> FakeTrainer {
        let source = FakeSource(cases: 5, dimension: 4)
        let model = FakeModel(targets: source.targets)
        configure(model)
        var settings = TrainerSettings(epochs: epochs, batchSize: batch,
                                       iterationsPerEpoch: TrainerSettings.iterationsPerEpoch(cases: 5, batch: batch),
                                       learningRate: 0.05, gradientClipNorm: 12, checkpointEvery: checkpointEvery,
                                       checkpointEveryEpochs: checkpointEveryEpochs, validateEvery: 2)
        settings.monitor = monitor
        settings.patience = patience
        var clockValue = 0.0
        return try FakeTrainer(settings: settings, model: model, source: source,
                               sampler: FakeSampler(count: 5, beta: beta, useWeights: useWeights, seed: seed &+ 1),
                               validator: FakeValidator(script: script, lossScript: lossScript),
                               generator: FakeGenerator(seed: seed),
                               run: try RunDirectory(path: root + "/" + name),
                               extraSections: [("config", Array("seed: \(seed)\n".utf8))],
                               reporter: ProgressReporter(mode: .quiet), stop: stop,
                               clock: { clockValue += 0.5; return clockValue })
    }

    func csv(_ name: String, _ file: String, dropColumn: Int? = nil) throws -> [String] {
        let text = try String(contentsOfFile: root + "/" + name + "/" + file, encoding: .utf8)
        return text.split(separator: "\n").map { line in
            var fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            if let column = dropColumn { fields.remove(at: column) }
            return fields.joined(separator: ",")
        }
    }

    /// Per iteration, the batch's mean unweighted case loss.
    func losses(_ name: String) throws -> [Double] {
        try csv(name, "train_log.csv").dropFirst().map { row in
            let caseLosses = row.split(separator: ",")[7].split(separator: ";").map { Double($0)! }
            return caseLosses.reduce(0, +) / Double(caseLosses.count)
        }
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    /// A run killed (no chance to save) after iteration 11 — last checkpoint at 9 — and resumed
    /// from it produces the same log rows, sampler history, validation and weights as a run
    /// never interrupted. Bit-exact: same operations on the same numbers in the same order.
    func testResumeAfterKillReproducesTheUninterruptedRun() throws {
        let whole = try makeTrainer("whole")
        try whole.train()

        let killed = try makeTrainer("killed")
        _ = try killed.train(haltAfter: 11)
        XCTAssertEqual(try csv("killed", "train_log.csv").count, 12)
        let resumed = try makeTrainer("killed")
        try resumed.resume()
        XCTAssertEqual(resumed.progress.iteration, 9)
        try resumed.train()

        let secondsColumn = 5
        XCTAssertEqual(try csv("killed", "train_log.csv", dropColumn: secondsColumn),
                       try csv("whole", "train_log.csv", dropColumn: secondsColumn))
        XCTAssertEqual(try csv("killed", "train_log.csv").count, 19)
        XCTAssertEqual(try csv("killed", "sampler.csv"), try csv("whole", "sampler.csv"))
        XCTAssertEqual(try csv("killed", "val.csv"), try csv("whole", "val.csv"))
        XCTAssertEqual(resumed.model.weights, whole.model.weights)
        XCTAssertEqual(resumed.model.velocity, whole.model.velocity)
        XCTAssertEqual(resumed.sampler.snapshot(), whole.sampler.snapshot())
        // The loss actually moved, and depends on the seed: the comparison above is not vacuous.
        let trajectory = try losses("whole")
        XCTAssertLessThan(trajectory.last!, trajectory.first! * 0.2)
        let other = try makeTrainer("other", seed: 8)
        try other.train()
        XCTAssertNotEqual(try losses("other"), trajectory)
    }

    /// SIGINT (requested while iteration 5 runs) finishes that iteration, saves, exits 130;
    /// resuming continues exactly.
    func testStopSignalFinishesTheIterationAndSaves() throws {
        let stop = SignalStop()
        let trainer = try makeTrainer("stopped", stop: stop) { model in
            model.onForward = { call in if call == 5 { stop.request(SIGINT) } }
        }
        var caught: RunError?
        do { try trainer.train() } catch let error as RunError { caught = error }
        let latest = root + "/stopped/checkpoint_latest.ckpt"
        XCTAssertEqual(caught, .interrupted(signal: SIGINT, iteration: 5, checkpoint: latest))
        XCTAssertEqual(caught?.exitCode, 130)
        let saved = try Checkpoint.read(path: latest)
        XCTAssertEqual(try TrainingProgress.decode(try saved.require("progress", path: latest), path: latest).iteration, 5)
        XCTAssertEqual(try saved.requireText("config", path: latest), "seed: 7\n")
        XCTAssertEqual(saved.sections.map(\.name), ["config", "model", "optimizer", "sampler", "rng", "progress"])

        let resumed = try makeTrainer("stopped")
        try resumed.resume()
        try resumed.train()
        let whole = try makeTrainer("whole")
        try whole.train()
        XCTAssertEqual(try csv("stopped", "train_log.csv", dropColumn: 5), try csv("whole", "train_log.csv", dropColumn: 5))
    }

    /// NaN at iteration 8: the run stops naming the iteration and the batch's cases; the
    /// checkpoint from iteration 6 (epoch end) is untouched; no row for iteration 8.
    func testNonFiniteLossStopsAndKeepsTheLastGoodCheckpoint() throws {
        let trainer = try makeTrainer("nan") { $0.nanAt = 8 }
        let latest = root + "/nan/checkpoint_latest.ckpt"
        let text = message { try trainer.train() }
        XCTAssertTrue(text.hasPrefix("training diverged: loss is nan at iteration 8 (batch cases: case_"), text)
        XCTAssertTrue(text.hasSuffix("); the last good checkpoint is \(latest) — lower the learning rate or check these cases"), text)
        let cases = try XCTUnwrap(text.split(separator: "(").dropFirst().first?.split(separator: ")").first)
        XCTAssertEqual(cases.split(separator: ",").count, 2, "both cases of the batch are named")
        let saved = try Checkpoint.read(path: latest)
        XCTAssertEqual(try TrainingProgress.decode(try saved.require("progress", path: latest), path: latest).iteration, 6)
        XCTAssertEqual(try csv("nan", "train_log.csv").count, 1 + 7)

        let early = try makeTrainer("early") { $0.nanAt = 1 }
        XCTAssertTrue(message { try early.train() }.hasSuffix("); no checkpoint was written yet — lower the learning rate or check these cases"))
    }

    /// Checkpoints only every 2 epochs (6 iterations): a NaN at iteration 11 leaves the one
    /// from iteration 6; the last iteration always saves.
    func testEpochGranularCheckpoints() throws {
        let latest = root + "/epochs/checkpoint_latest.ckpt"
        let diverging = try makeTrainer("epochs", checkpointEvery: nil, checkpointEveryEpochs: 2) { $0.nanAt = 11 }
        XCTAssertTrue(message { try diverging.train() }.contains("at iteration 11"))
        func savedIteration() throws -> Int {
            try TrainingProgress.decode(try Checkpoint.read(path: latest).require("progress", path: latest), path: latest).iteration
        }
        XCTAssertEqual(try savedIteration(), 6)
        let odd = try makeTrainer("odd", checkpointEvery: nil, checkpointEveryEpochs: 4)
        try odd.train()
        XCTAssertEqual(try TrainingProgress.decode(try Checkpoint.read(path: root + "/odd/checkpoint_latest.ckpt")
            .require("progress", path: "p"), path: "p").iteration, 18)
    }

    /// Validation at epochs 2, 4, 6 with mean foreground Dice 0.3, 0.6, 0.45 (background row
    /// excluded): the best checkpoint is epoch 4's.
    func testBestCheckpointFollowsMeanForegroundDice() throws {
        let trainer = try makeTrainer("best", script: [0.4, 0.8, 0.6])
        try trainer.train()
        XCTAssertEqual(trainer.validator.calls, 3)
        let best = root + "/best/checkpoint_best.ckpt"
        let progress = try TrainingProgress.decode(try Checkpoint.read(path: best).require("progress", path: best), path: best)
        XCTAssertEqual(progress.iteration, 12)
        XCTAssertEqual(progress.bestEpoch, 4)
        XCTAssertEqual(try XCTUnwrap(progress.bestMetric), 0.6, accuracy: 1e-12)
        XCTAssertEqual(trainer.progress.bestEpoch, 4)
        let rows = try csv("best", "val.csv")
        XCTAssertEqual(rows.count, 1 + 9)
        XCTAssertEqual(rows[4], "4,val_0,0,background,0.99,nan")
        XCTAssertEqual(rows[5], "4,val_0,1,tissue,0.8,nan")
        XCTAssertEqual(try csv("best", "sampler.csv").count, 1 + 6 * 5)
    }

    /// `training.monitor: loss` with `patience: 2`, validation every 2 epochs of 12: mean losses
    /// 1.1, 0.9, 1.0, 0.95, ... (case losses + 0.1) → best at epoch 4, no improvement at 6 and 8 →
    /// stop after epoch 8 (iteration 24) with checkpoint_best at epoch 4 although the Dice peaks
    /// at epoch 6; a resume of the stopped run trains nothing more. Without patience the same
    /// run trains all 36 iterations and the best loss is the last validation's.
    func testEarlyStoppingOnValidationLoss() throws {
        let dice = [0.4, 0.3, 0.8, 0.5, 0.5, 0.5]
        let losses = [1.0, 0.8, 0.9, 0.85, 0.7, 0.6]
        let trainer = try makeTrainer("early", script: dice, epochs: 12, lossScript: losses, monitor: .loss, patience: 2)
        try trainer.train()
        XCTAssertTrue(trainer.stoppedEarly)
        XCTAssertEqual(trainer.progress.iteration, 24)
        XCTAssertEqual(trainer.validator.calls, 4)
        XCTAssertEqual(trainer.progress.bestEpoch, 4)
        XCTAssertEqual(try XCTUnwrap(trainer.progress.bestMetric), 0.9, accuracy: 1e-12)
        let best = root + "/early/checkpoint_best.ckpt", latest = root + "/early/checkpoint_latest.ckpt"
        XCTAssertEqual(try TrainingProgress.decode(try Checkpoint.read(path: best).require("progress", path: best), path: best).iteration, 12)
        XCTAssertEqual(try TrainingProgress.decode(try Checkpoint.read(path: latest).require("progress", path: latest), path: latest).iteration, 24)
        XCTAssertEqual(try csv("early", "train_log.csv").count, 1 + 24)
        let rows = try csv("early", "val.csv")
        XCTAssertEqual(rows[0], "epoch,case,label,name,dice,loss")
        XCTAssertEqual(rows.count, 1 + 4 * 3)
        XCTAssertEqual(rows[5], "4,val_0,1,tissue,0.3,0.8")
        // Resumed: already stopped, nothing more.
        let again = try makeTrainer("early", script: dice, epochs: 12, lossScript: losses, monitor: .loss, patience: 2)
        try again.resume()
        try again.train()
        XCTAssertTrue(again.stoppedEarly)
        XCTAssertEqual(again.progress.iteration, 24)
        XCTAssertEqual(try csv("early", "train_log.csv").count, 1 + 24)
        // Without patience: every epoch, best loss at epoch 12.
        let full = try makeTrainer("full", script: dice, epochs: 12, lossScript: losses, monitor: .loss)
        try full.train()
        XCTAssertFalse(full.stoppedEarly)
        XCTAssertEqual(full.progress.iteration, 36)
        XCTAssertEqual(full.progress.bestEpoch, 12)
        // Monitoring Dice with patience 2: best 0.8 at epoch 6, no gain at 8 and 10 → stop after 10.
        let byDice = try makeTrainer("dice", script: dice, epochs: 12, lossScript: losses, monitor: .dice, patience: 2)
        try byDice.train()
        XCTAssertEqual(byDice.progress.bestEpoch, 6)
        XCTAssertEqual(byDice.progress.iteration, 30)
    }

    /// With β = 0 the importance weights are exactly 1, so the weighted path gives bit for bit
    /// the run of the unweighted (uniform) one, and the logged loss is the plain batch mean.
    func testBetaZeroIsUniformTraining() throws {
        try makeTrainer("weighted", beta: 0, useWeights: true).train()
        try makeTrainer("plain", beta: 0, useWeights: false).train()
        XCTAssertEqual(try csv("weighted", "train_log.csv", dropColumn: 5), try csv("plain", "train_log.csv", dropColumn: 5))
        for row in try csv("weighted", "train_log.csv").dropFirst() {
            let fields = row.split(separator: ",")
            XCTAssertEqual(fields[8], "1.0;1.0")
            let caseLosses = fields[7].split(separator: ";").map { Double($0)! }
            XCTAssertEqual(Double(fields[2])!, (caseLosses[0] + caseLosses[1]) / 2)
        }
        // β > 0 with weights really changes the run (the weights are wired in).
        try makeTrainer("robust", beta: 3).train()
        XCTAssertNotEqual(try losses("robust"), try losses("plain"))
    }

    func testResumeRefusals() throws {
        let fresh = try makeTrainer("none")
        XCTAssertEqual(message { try fresh.resume() },
                       "--resume: no checkpoint checkpoint_latest.ckpt in output folder \(root)/none; "
                       + "start without --resume to train from scratch")
        _ = try makeTrainer("shape").train(haltAfter: 4)
        let other = try makeTrainer("shape", batch: 1)
        XCTAssertEqual(message { try other.resume() },
                       "checkpoint \(root)/shape/checkpoint_latest.ckpt: cannot resume: it has batch size 2, the configuration 1")
        XCTAssertEqual(message { _ = try self.makeTrainer("big", batch: 6) },
                       "training setting training.batch_size is 6; allowed: at most the 5 training cases (a batch holds distinct cases)")
    }

    /// lr₀·(1 − e/E)^0.9 by hand; PyTorch's clip coefficient max/(norm + 1e-6).
    func testScheduleAndClip() {
        XCTAssertEqual(Schedule.polyLearningRate(base: 0.01, epoch: 0, epochs: 100), 0.01)
        XCTAssertEqual(Schedule.polyLearningRate(base: 0.01, epoch: 50, epochs: 100),
                       Float(0.01 * Foundation.pow(0.5, 0.9)), accuracy: 1e-9)
        XCTAssertEqual(Schedule.polyLearningRate(base: 0.01, epoch: 99, epochs: 100),
                       Float(0.01 * Foundation.pow(0.01, 0.9)), accuracy: 1e-9)
        XCTAssertEqual(Schedule.clipFactor(norm: 24, maxNorm: 12), 12 / (24 + 1e-6))
        XCTAssertEqual(Schedule.clipFactor(norm: 6, maxNorm: 12), 1)
        XCTAssertEqual(Schedule.clipFactor(norm: 24, maxNorm: nil), 1)
    }

    func testProgressSectionRoundTrips() throws {
        var progress = TrainingProgress(batchSize: 2, iterationsPerEpoch: 3, sampleCount: 5)
        progress.iteration = 7
        progress.bestMetric = 0.625
        progress.bestEpoch = 2
        progress.elapsedSeconds = 12.5
        XCTAssertEqual(try TrainingProgress.decode(progress.encoded(), path: "p"), progress)
        progress.bestMetric = nil
        XCTAssertEqual(try TrainingProgress.decode(progress.encoded(), path: "p"), progress)
        XCTAssertEqual(progress.epochsCompleted, 2)
    }
}
