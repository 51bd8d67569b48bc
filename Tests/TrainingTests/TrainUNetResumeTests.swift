import XCTest
import Sampling
import Tensor
@testable import DataPipeline
@testable import Inference
@testable import Model
@testable import Training
import TestSupport

/// The real pipeline at tiny scale: phantom cases, patches + augmentation, a 2-level U-Net with
/// Dice+CE and Nesterov SGD, the hardness weighted sampler with importance weights, sliding-
/// window validation.
final class TrainUNetResumeTests: XCTestCase {
    typealias RealTrainer = Trainer<UNetTrainingModel, VolumeBatchSource, VolumeValidator>

    var root = ""
    static let patch = GridShape(cube: 8)

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "unet-resume-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Everything built from the seed, as TrainRun does (network, sampler, data streams).
    func makeTrainer(_ name: String, seed: UInt64 = 11, adamW: Bool = false, stop: SignalStop? = nil) throws -> RealTrainer {
        let preprocessing = PreprocessingOptions()
        let all = try PhantomGenerator.makeCases(count: 5, rareFraction: 0.4, seed: 2, shape: GridShape(cube: 12))
            .map { try Preprocessor.preprocess($0, options: preprocessing) }
        let training = Array(all.prefix(4)), validation = [all[4]]
        var rootGenerator = SeededGenerator(seed: seed)
        var networkGenerator = rootGenerator.spawn()
        let samplerGenerator = rootGenerator.spawn()
        let dataGenerator = rootGenerator.spawn()
        let network = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: PhantomGenerator.labelNames.count,
                                                        features: [4, 8]), threads: 1, rng: &networkGenerator)
        let model = UNetTrainingModel(network: network, loss: DiceCELoss(),
                                      optimizer: adamW
                                          ? .adamw(AdamWOptimizer(count: network.parameterCount, learningRate: 0.01))
                                          : .sgd(SGDOptimizer(count: network.parameterCount, learningRate: 0.01,
                                                              momentum: 0.99, nesterov: true, weightDecay: 3e-5)),
                                      threads: 1)
        let source = VolumeBatchSource(cases: training, builder: try BatchBuilder(patchSize: Self.patch), cells: nil)
        let sampler = try HardnessWeightedSampler(
            count: 4, options: HardnessSamplerOptions(beta: 2, importanceSampling: true), generator: samplerGenerator)
        let validator = VolumeValidator(cases: validation, patch: [8, 8, 8], labelNames: PhantomGenerator.labelNames)
        let settings = TrainerSettings(epochs: 4, batchSize: 2, iterationsPerEpoch: 2, learningRate: 0.01,
                                       gradientClipNorm: 12, checkpointEvery: 3, validateEvery: 2)
        return try RealTrainer(settings: settings, model: model, source: source, sampler: sampler, validator: validator,
                               generator: dataGenerator, run: try RunDirectory(path: root + "/" + name),
                               extraSections: [("config", Array("tiny\n".utf8))],
                               reporter: ProgressReporter(mode: .quiet), stop: stop)
    }

    func log(_ name: String, _ file: String) throws -> [String] { try logWithoutWallClock(root + "/" + name, file) }

    /// Killed after iteration 5 (last checkpoint at 4, epoch 2's end) and resumed into fresh
    /// objects: the same losses, weights, sampler history, validation Dice and parameters as the
    /// uninterrupted run — bit for bit, since every random draw comes from checkpointed state.
    func testKilledAndResumedUNetRunRepeatsTheUninterruptedOne() throws {
        let whole = try makeTrainer("whole")
        try whole.train()
        _ = try makeTrainer("resumed").train(haltAfter: 5)
        let resumed = try makeTrainer("resumed", seed: 12345)  // every stream must come from the checkpoint
        try resumed.resume()
        XCTAssertEqual(resumed.progress.iteration, 4)
        try resumed.train()
        for file in [RunDirectory.trainLogName, RunDirectory.samplerLogName, RunDirectory.validationLogName] {
            XCTAssertEqual(try log("resumed", file), try log("whole", file), file)
        }
        XCTAssertEqual(resumed.model.network.arena.values.array, whole.model.network.arena.values.array)
        XCTAssertEqual(try log("whole", RunDirectory.trainLogName).count, 1 + 8)
        XCTAssertEqual(try log("whole", RunDirectory.validationLogName).count, 1 + 2 * 5)
        // The run is not trivially constant: the seed matters and the loss moves.
        let other = try makeTrainer("other", seed: 12)
        try other.train()
        XCTAssertNotEqual(try log("other", RunDirectory.trainLogName), try log("whole", RunDirectory.trainLogName))
    }

    /// The same with AdamW: its moments and step count (bias corrections 1 − βᵗ) come from the
    /// checkpoint, so the resumed run equals the uninterrupted one bit for bit. Without the step
    /// count the first resumed update would use t = 1 instead of 5 and the weights would differ.
    func testKilledAndResumedAdamWRunRepeatsTheUninterruptedOne() throws {
        let whole = try makeTrainer("whole", adamW: true)
        try whole.train()
        _ = try makeTrainer("resumed", adamW: true).train(haltAfter: 5)
        let resumed = try makeTrainer("resumed", seed: 12345, adamW: true)
        try resumed.resume()
        XCTAssertEqual(resumed.progress.iteration, 4)
        guard case let .adamw(adam) = resumed.model.optimizer else { return XCTFail("optimizer is not AdamW") }
        XCTAssertEqual(adam.stepCount, 4)
        try resumed.train()
        for file in [RunDirectory.trainLogName, RunDirectory.samplerLogName, RunDirectory.validationLogName] {
            XCTAssertEqual(try log("resumed", file), try log("whole", file), file)
        }
        XCTAssertEqual(resumed.model.network.arena.values.array, whole.model.network.arena.values.array)
        XCTAssertEqual(try log("whole", RunDirectory.trainLogName).count, 1 + 8)
    }

    /// The checkpoint of a U-Net run holds the network layout and refuses another network.
    func testCheckpointRefusesADifferentNetwork() throws {
        let trainer = try makeTrainer("net")
        _ = try trainer.train(haltAfter: 3)
        let path = root + "/net/checkpoint_latest.ckpt"
        let checkpoint = try Checkpoint.read(path: path)
        XCTAssertEqual(checkpoint.sections.map(\.name), ["config", "model", "optimizer", "sampler", "rng", "progress"])
        var generator = SeededGenerator(seed: 1)
        let wider = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: PhantomGenerator.labelNames.count,
                                                      features: [4, 16]), rng: &generator)
        let model = UNetTrainingModel(network: wider, loss: DiceCELoss(),
                                      optimizer: .sgd(SGDOptimizer(count: wider.parameterCount, learningRate: 0.01,
                                                                   momentum: 0.99, nesterov: true, weightDecay: 0)),
                                      threads: 1)
        XCTAssertThrowsError(try model.loadState(from: checkpoint, path: path)) { error in
            XCTAssertTrue("\(error)".hasPrefix("checkpoint \(path): cannot resume: network differs: "), "\(error)")
        }
    }

    func testPaddingKeepsVoxelsInPlace() {
        // 1 channel, 1×2×2 → 2×2×3: value at (z, y, x) stays at (z, y, x).
        let padded = VolumePadding.pad([1, 2, 3, 4], channels: 1, from: [1, 2, 2], to: [2, 2, 3])
        XCTAssertEqual(padded, [1, 2, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0])
    }
}
