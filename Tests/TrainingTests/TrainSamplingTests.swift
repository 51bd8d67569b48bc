import Common
import XCTest
import Config
import Sampling
@testable import Training
import TestSupport

/// The loop driving the Sampling module's real samplers directly.
final class TrainSamplingTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "driver-tests-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func hardness(beta: Double, importance: Bool, seed: UInt64 = 3, count: Int = 6) throws -> HardnessWeightedSampler {
        try HardnessWeightedSampler(count: count, options: HardnessSamplerOptions(
            beta: beta, importanceSampling: importance), generator: SeededGenerator(seed: seed))
    }

    func makeTrainer(_ name: String, sampler: any Sampling.Sampler) throws -> Trainer<FakeModel, FakeSource, FakeValidator> {
        let source = FakeSource(cases: 6, dimension: 3)
        let settings = TrainerSettings(epochs: 4, batchSize: 2, iterationsPerEpoch: 3, learningRate: 0.05,
                                       gradientClipNorm: 12, checkpointEvery: 2, validateEvery: 2)
        return try Trainer(settings: settings, model: FakeModel(targets: source.targets), source: source,
                           sampler: sampler, validator: FakeValidator(script: [0.5]), generator: FakeGenerator(seed: 9),
                           run: try RunDirectory(path: root + "/" + name), reporter: ProgressReporter(mode: .quiet))
    }

    func log(_ name: String, _ file: String) throws -> [String] { try logWithoutWallClock(root + "/" + name, file) }

    /// Hardness sampling with importance weights (β = 2), killed after iteration 7 (last
    /// checkpoint 6) and resumed: identical logs, history and weights.
    func testKilledAndResumedRunMatchesWithTheRealSampler() throws {
        let whole = try makeTrainer("whole", sampler: try hardness(beta: 2, importance: true))
        try whole.train()
        _ = try makeTrainer("resumed", sampler: try hardness(beta: 2, importance: true)).train(haltAfter: 7)
        // A fresh sampler from another seed: everything must come from the checkpoint.
        let resumed = try makeTrainer("resumed", sampler: try hardness(beta: 2, importance: true, seed: 99))
        try resumed.resume()
        XCTAssertEqual(resumed.progress.iteration, 6)
        try resumed.train()
        for file in [RunDirectory.trainLogName, RunDirectory.samplerLogName, RunDirectory.validationLogName] {
            XCTAssertEqual(try log("resumed", file), try log("whole", file), file)
        }
        XCTAssertEqual(resumed.model.weights, whole.model.weights)
        let weights = try log("whole", RunDirectory.trainLogName).dropFirst().map { $0.split(separator: ",")[7] }
        XCTAssertTrue(weights.contains { $0 != "1.0;1.0" }, "importance weights are in use")
    }

    /// β = 0: exp(0) = 1 exactly, so the importance weights are exactly 1 and the loss is the
    /// plain batch mean — uniform training through the same code path.
    func testBetaZeroGivesUnitWeights() throws {
        let sampler = try hardness(beta: 0, importance: true)
        for _ in 0..<5 {
            let drawn = try sampler.nextBatch(size: 3)
            XCTAssertEqual(Set(drawn).count, 3)
            XCTAssertEqual(try sampler.feedBack(indices: drawn, losses: drawn.map { Double($0) * 0.7 + 0.1 }), [1, 1, 1])
        }
        let snapshot = sampler.snapshot()
        XCTAssertEqual(snapshot.count, 6)
        for entry in snapshot { XCTAssertEqual(entry.probability, 1.0 / 6, accuracy: 1e-12) }
        XCTAssertEqual(snapshot.map(\.draws).reduce(0, +), 15)
    }

    func testSnapshotOfHardnessSamplerIsItsDistribution() throws {
        let sampler = try hardness(beta: 5, importance: false)
        let drawn = try sampler.nextBatch(size: 2)
        _ = try sampler.feedBack(indices: drawn, losses: [0.1, 0.3])
        let snapshot = sampler.snapshot()
        XCTAssertEqual(snapshot.map(\.probability).reduce(0, +), 1, accuracy: 1e-12)
        // The Double losses reach the history unrounded (momentum 0: L̃ ← ℓ).
        XCTAssertEqual(snapshot[drawn[0]].staleLoss, 0.1)
        XCTAssertEqual(snapshot[drawn[1]].staleLoss, 0.3)
        // The hardest (unseen, stale ≈ 2) cases are likelier than the easy ones just seen.
        XCTAssertLessThan(snapshot[drawn[0]].probability, snapshot[(0..<6).first { !drawn.contains($0) }!].probability)
    }

    func testUniformSamplerLogsLastLossesAndRestores() throws {
        let sampler = try UniformSampler(count: 4, generator: SeededGenerator(seed: 1))
        let drawn = try sampler.nextBatch(size: 2)
        XCTAssertEqual(try sampler.feedBack(indices: drawn, losses: [0.5, 0.25]), [1, 1])
        let state = sampler.stateBytes()
        let other = try UniformSampler(count: 4, generator: SeededGenerator(seed: 2))
        try SamplerSection.restore(other, from: state, path: "c.ckpt")
        XCTAssertEqual(other.snapshot().map(\.staleLoss)[drawn[0]], 0.5)
        XCTAssertEqual(try other.nextBatch(size: 2), try sampler.nextBatch(size: 2))
        let small = try UniformSampler(count: 3, generator: SeededGenerator(seed: 2))
        XCTAssertThrowsError(try SamplerSection.restore(small, from: state, path: "c.ckpt")) { error in
            XCTAssertEqual("\(error)", "checkpoint c.ckpt: section \"sampler\" cannot be decoded: sampler checkpoint has 4 samples "
                           + "but the dataset has 3: resume with the same data and sampler.unit")
        }
    }

    /// A "sampler" section written before the trainer called the sampler directly (the state as
    /// a blob, then the trainer's own last-loss column) still restores the sampler exactly.
    func testSectionWrittenByTheOldTrainerStillRestores() throws {
        let sampler = try hardness(beta: 3, importance: true)
        _ = try sampler.feedBack(indices: try sampler.nextBatch(size: 2), losses: [0.5, 1.5])
        var old = ByteWriter()
        old.appendBlob(sampler.stateBytes())
        old.append([Double](repeating: .nan, count: sampler.count))
        let restored = try hardness(beta: 3, importance: true, seed: 77)
        try SamplerSection.restore(restored, from: old.bytes, path: "old.ckpt")
        XCTAssertEqual(restored.stateBytes(), sampler.stateBytes())
        XCTAssertEqual(try restored.nextBatch(size: 3), try sampler.nextBatch(size: 3))
        // The old uniform state ("DROUNI01", no last losses) inside the old wrapper.
        var v1 = ByteWriter()
        v1.append(magic: "DROUNI01")
        v1.append(UInt64(4))
        for byte in SeededGenerator(seed: 5).serialized() { v1.append(byte) }
        v1.append(contentsOf: [UInt32]([1, 0, 2, 0]))
        var wrapper = ByteWriter()
        wrapper.appendBlob(v1.bytes)
        wrapper.append([0.5, .nan, 0.25, .nan])
        let uniform = try UniformSampler(count: 4, generator: SeededGenerator(seed: 9))
        try SamplerSection.restore(uniform, from: wrapper.bytes, path: "old.ckpt")
        XCTAssertEqual(uniform.drawCounts, [1, 0, 2, 0])
        XCTAssertEqual(uniform.generator, SeededGenerator(seed: 5))
        XCTAssertTrue(uniform.lastLosses.allSatisfy(\.isNaN))
    }

    /// `sampler.kind: group_balanced` builds the group-balanced sampler from the cases' groups,
    /// and a case without a group is refused with one line naming the key and the case.
    func testGroupBalancedSamplerFromConfig() throws {
        var config = SamplerConfig()
        config.kind = .groupBalanced
        let sampler = try TrainingSetup.sampler(config, count: 3, generator: SeededGenerator(seed: 1),
                                                groups: ["rare", "common", "common"], names: ["a", "b", "c"])
        XCTAssertEqual(sampler.snapshot().map(\.probability), [0.5, 0.25, 0.25])
        XCTAssertThrowsError(try TrainingSetup.sampler(config, count: 3, generator: SeededGenerator(seed: 1),
                                                       groups: ["rare", "", "common"], names: ["a", "b", "c"])) { error in
            XCTAssertEqual("\(error)", "training setting sampler.kind is group_balanced; allowed: only when every training case has a "
                           + "group (data.groups, a case,group CSV); training case 'b' has none")
        }
    }

    func testSeededGeneratorStateRoundTripsThroughCheckpointBytes() {
        var generator = SeededGenerator(seed: 5)
        _ = generator.nextNormal()  // leaves a cached deviate in the state
        var copy = SeededGenerator(checkpointBytes: generator.checkpointBytes)!
        XCTAssertEqual(copy.nextNormal(), generator.nextNormal())
        XCTAssertEqual(copy.next(), generator.next())
        XCTAssertNil(SeededGenerator(checkpointBytes: [1, 2, 3]))
    }
}
