import XCTest
import Sampling
@testable import Training
import TestSupport

/// The loop driving the Sampling module's real samplers.
final class TrainSamplerDriverTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "driver-tests-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func hardness(beta: Double, importance: Bool, seed: UInt64 = 3, count: Int = 6) throws -> SamplerDriver {
        SamplerDriver(try HardnessWeightedSampler(count: count, options: HardnessSamplerOptions(
            beta: beta, importanceSampling: importance), generator: SeededGenerator(seed: seed)))
    }

    func makeTrainer(_ name: String, sampler: SamplerDriver) throws -> Trainer<FakeModel, FakeSource, SamplerDriver, FakeValidator> {
        let source = FakeSource(cases: 6, dimension: 3)
        let settings = TrainerSettings(epochs: 4, batchSize: 2, iterationsPerEpoch: 3, learningRate: 0.05,
                                       gradientClipNorm: 12, checkpointEvery: 2, validateEvery: 2)
        return try Trainer(settings: settings, model: FakeModel(targets: source.targets), source: source,
                           sampler: sampler, validator: FakeValidator(script: [0.5]), generator: FakeGenerator(seed: 9),
                           run: try RunDirectory(path: root + "/" + name), reporter: ProgressReporter(mode: .quiet))
    }

    func log(_ name: String, _ file: String) throws -> [String] {
        try String(contentsOfFile: root + "/" + name + "/" + file, encoding: .utf8).split(separator: "\n").map { line in
            var fields = line.split(separator: ",", omittingEmptySubsequences: false)
            if file == RunDirectory.trainLogName {  // wall-clock columns: seconds, data_seconds, step_seconds
                fields.removeLast(2)
                fields.remove(at: 5)
            }
            return fields.joined(separator: ",")
        }
    }

    /// Hardness sampling with importance weights (β = 2), killed after iteration 7 (last
    /// checkpoint 6) and resumed: identical logs, history and weights.
    func testKilledAndResumedRunMatchesWithTheRealSampler() throws {
        let whole = try makeTrainer("whole", sampler: try hardness(beta: 2, importance: true))
        try whole.train()
        try makeTrainer("resumed", sampler: try hardness(beta: 2, importance: true)).train(haltAfter: 7)
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
        var driver = try hardness(beta: 0, importance: true)
        for _ in 0..<5 {
            let drawn = try driver.draw(batchSize: 3)
            XCTAssertEqual(Set(drawn).count, 3)
            XCTAssertEqual(try driver.feedBack(indices: drawn, losses: drawn.map { Float($0) * 0.7 + 0.1 }), [1, 1, 1])
        }
        let snapshot = driver.snapshot()
        XCTAssertEqual(snapshot.count, 6)
        for entry in snapshot { XCTAssertEqual(entry.probability, 1.0 / 6, accuracy: 1e-12) }
        XCTAssertEqual(snapshot.map(\.draws).reduce(0, +), 15)
    }

    func testSnapshotOfHardnessSamplerIsItsDistribution() throws {
        var driver = try hardness(beta: 5, importance: false)
        let drawn = try driver.draw(batchSize: 2)
        _ = try driver.feedBack(indices: drawn, losses: [0.1, 0.3])
        let snapshot = driver.snapshot()
        XCTAssertEqual(snapshot.map(\.probability).reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(snapshot[drawn[0]].staleLoss, Double(Float(0.1)))
        XCTAssertEqual(snapshot[drawn[1]].staleLoss, Double(Float(0.3)))
        // The hardest (unseen, stale ≈ 2) cases are likelier than the easy ones just seen.
        XCTAssertLessThan(snapshot[drawn[0]].probability, snapshot[(0..<6).first { !drawn.contains($0) }!].probability)
    }

    func testUniformSamplerLogsLastLossesAndRestores() throws {
        var driver = SamplerDriver(try UniformSampler(count: 4, generator: SeededGenerator(seed: 1)))
        let drawn = try driver.draw(batchSize: 2)
        XCTAssertEqual(try driver.feedBack(indices: drawn, losses: [0.5, 0.25]), [1, 1])
        let state = driver.encodeState()
        var other = SamplerDriver(try UniformSampler(count: 4, generator: SeededGenerator(seed: 2)))
        try other.restoreState(state, path: "c.ckpt")
        XCTAssertEqual(other.snapshot().map(\.staleLoss)[drawn[0]], 0.5)
        XCTAssertEqual(try other.draw(batchSize: 2), try driver.draw(batchSize: 2))
        var small = SamplerDriver(try UniformSampler(count: 3, generator: SeededGenerator(seed: 2)))
        XCTAssertThrowsError(try small.restoreState(state, path: "c.ckpt")) { error in
            XCTAssertEqual("\(error)", "checkpoint c.ckpt: section \"sampler\" cannot be decoded: 4 samples, the data set has 3")
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
