import Foundation
import Sampling
import Common
import Tensor
import XCTest
@testable import Model
@testable import Training
import TestSupport

// Fakes that drive the Trainer without the real network or data pipeline. They are small but
// stateful in every way the real pieces are (parameters, optimizer momentum, a loss-driven
// sampler, random augmentation), so resume equivalence is tested on all of it.

/// Common's SplitMix64 with its 8 bytes of state as checkpoint bytes.
struct FakeGenerator: CheckpointableGenerator {
    var inner: SplitMix64
    init(seed: UInt64) { inner = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { inner.next() }
    var checkpointBytes: [UInt8] { withUnsafeBytes(of: inner.state.littleEndian, Array.init) }
    init?(checkpointBytes: [UInt8]) {
        guard checkpointBytes.count == 8 else { return nil }
        inner = SplitMix64(seed: checkpointBytes.enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * $1.offset) })
    }
}

/// A batch: the drawn cases and a random "augmentation" offset per case.
struct FakeBatch {
    var cases: [Int]
    var noise: [[Float]]
}

/// Each case i has a target vector (a shared part plus a case-specific one, so training can
/// reduce every case's loss); its loss is mean_j (w_j + noise_j − target_ij)².
struct FakeSource: BatchSource {
    typealias Generator = FakeGenerator
    let targets: [[Float]]
    var caseNames: [String] { targets.indices.map { String(format: "case_%03d", $0) } }
    var caseGroups: [String] { targets.indices.map { $0 % 3 == 0 ? "rare" : "common" } }

    init(cases: Int, dimension: Int) {
        targets = (0..<cases).map { i in
            (0..<dimension).map { j -> Float in
                let shared = 1.5 - Float(j)
                let own = Float((i * 7 + j * 3) % 11) / 25
                return shared + own
            }
        }
    }

    func batch(cases: [Int], generator: inout FakeGenerator) throws -> FakeBatch {
        FakeBatch(cases: cases, noise: cases.map { _ in
            targets[0].indices.map { _ in Float.random(in: -0.1..<0.1, using: &generator) }
        })
    }
}

/// Least squares with SGD + momentum; `nanAt` makes forward return NaN at that (1-based)
/// forward call, `onForward` lets a test act mid-run (e.g. request a stop).
final class FakeModel: TrainingModel {
    var weights: [Float]
    var velocity: [Float]
    var gradient: [Float]
    let targets: [[Float]]
    var saved: FakeBatch?
    var forwardCalls = 0
    var nanAt: Int?
    var onForward: ((Int) -> Void)?
    let momentum: Float = 0.9

    init(targets: [[Float]]) {
        self.targets = targets
        weights = [Float](repeating: 0, count: targets[0].count)
        velocity = weights
        gradient = weights
    }

    func residual(_ batch: FakeBatch, _ sample: Int, _ j: Int) -> Float {
        weights[j] + batch.noise[sample][j] - targets[batch.cases[sample]][j]
    }

    /// The loss is computed in Float (as the fake's weights are) and returned as Double.
    func forward(_ batch: FakeBatch) throws -> [Double] {
        forwardCalls += 1
        onForward?(forwardCalls)
        saved = batch
        if forwardCalls == nanAt { return batch.cases.map { _ in .nan } }
        return batch.cases.indices.map { s in
            Double(weights.indices.reduce(Float(0)) { $0 + residual(batch, s, $1) * residual(batch, s, $1) } / Float(weights.count))
        }
    }

    /// Gradient of (1/B)·Σ wᵢ·ℓᵢ.
    func backward(sampleWeights: [Double]) throws {
        guard let batch = saved else { return }
        let scale = 1 / Float(batch.cases.count)
        for j in weights.indices {
            gradient[j] = batch.cases.indices.reduce(Float(0)) {
                $0 + Float(sampleWeights[$1]) * scale * 2 * residual(batch, $1, j) / Float(weights.count)
            }
        }
    }

    func gradientNorm() -> Float { gradient.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    func scaleGradients(by factor: Float) { gradient = gradient.map { $0 * factor } }

    func step(learningRate: Float) {
        for j in weights.indices {
            velocity[j] = momentum * velocity[j] + gradient[j]
            weights[j] -= learningRate * velocity[j]
        }
    }

    func saveState(into checkpoint: inout Checkpoint) {
        var model = ByteWriter()
        model.append(weights)
        checkpoint.set("model", model.bytes)
        var optimizer = ByteWriter()
        optimizer.append(velocity)
        checkpoint.set("optimizer", optimizer.bytes)
    }

    func loadState(from checkpoint: Checkpoint, path: String) throws {
        var model = ByteReader(try checkpoint.require("model", path: path), path: path, section: "model")
        weights = try model.floats()
        var optimizer = ByteReader(try checkpoint.require("optimizer", path: path), path: path, section: "optimizer")
        velocity = try optimizer.floats()
    }
}

/// p = softmax(β·L̃); B distinct draws by sequential sampling without replacement from its
/// own generator; importance weights exp(β(ℓ − L̃)) clipped to [0.1, 10]; L̃ ← ℓ (momentum 0).
final class FakeSampler: Sampling.Sampler {
    var beta: Double
    var stale: [Double]
    var draws: [Int]
    var drawCounts: [UInt32] { draws.map(UInt32.init) }
    var useWeights: Bool
    var generator: FakeGenerator

    init(count: Int, beta: Double, useWeights: Bool = true, seed: UInt64) {
        self.beta = beta
        stale = [Double](repeating: 2, count: count)
        draws = [Int](repeating: 0, count: count)
        self.useWeights = useWeights
        generator = FakeGenerator(seed: seed)
    }

    var count: Int { stale.count }

    func probabilities() -> [Double] {
        let top = stale.max() ?? 0
        let e = stale.map { Foundation.exp(beta * ($0 - top)) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    func nextBatch(size batchSize: Int) throws -> [Int] {
        var p = probabilities()
        var chosen: [Int] = []
        for _ in 0..<batchSize {
            let u = Double.random(in: 0..<p.reduce(0, +), using: &generator)
            var acc = 0.0
            var pick = p.lastIndex(where: { $0 > 0 }) ?? 0
            for (i, value) in p.enumerated() where value > 0 {
                acc += value
                if u < acc { pick = i; break }
            }
            chosen.append(pick)
            p[pick] = 0
            draws[pick] += 1
        }
        return chosen
    }

    func feedBack(indices: [Int], losses: [Double]) throws -> [Double] {
        let weights = zip(indices, losses).map { i, loss -> Double in
            useWeights ? min(10, max(0.1, Foundation.exp(beta * (loss - stale[i])))) : 1
        }
        for (i, loss) in zip(indices, losses) { stale[i] = loss }
        return weights
    }

    func snapshot() -> [SampleSnapshot] {
        zip(zip(stale, probabilities()), draws).map { SampleSnapshot(staleLoss: $0.0, probability: $0.1, draws: $1) }
    }

    /// Tagged like Sampling's states, so the trainer's section reader takes it as one.
    static let tag = "FAKESAMP"

    func stateBytes() -> [UInt8] {
        var writer = ByteWriter()
        writer.append(magic: Self.tag)
        writer.append(stale)
        writer.append(draws)
        writer.appendBlob(generator.checkpointBytes)
        return writer.bytes
    }

    func restore(from bytes: [UInt8]) throws {
        var reader = ByteReader(bytes, path: "fake", section: "sampler")
        try reader.expect(magic: Self.tag)
        stale = try reader.doubles()
        draws = try reader.ints()
        generator = FakeGenerator(checkpointBytes: try reader.blob())!
        try reader.finish()
    }
}

/// A run folder's log file as lines, without train_log.csv's wall-clock columns (seconds,
/// data_seconds, step_seconds), for comparing two runs.
func logWithoutWallClock(_ folder: String, _ file: String) throws -> [String] {
    try String(contentsOfFile: folder + "/" + file, encoding: .utf8).split(separator: "\n").map { line in
        var fields = line.split(separator: ",", omittingEmptySubsequences: false)
        if file == RunDirectory.trainLogName {
            fields.removeLast(2)
            fields.remove(at: 5)
        }
        return fields.joined(separator: ",")
    }
}

/// Dice per case and label from a scripted sequence, one value per validation call.
/// With `lossScript`, case val_0 has that validation loss and val_1 that + 0.2 (mean: + 0.1).
final class FakeValidator: TrainingValidator {
    var script: [Double]
    var lossScript: [Double]?
    var calls = 0
    init(script: [Double], lossScript: [Double]? = nil) { self.script = script; self.lossScript = lossScript }
    func validate(_ model: FakeModel) throws -> [ValidationRow] {
        let value = script[min(calls, script.count - 1)]
        let loss = lossScript.map { $0[min(calls, $0.count - 1)] } ?? .nan
        calls += 1
        return [ValidationRow(caseName: "val_0", label: 0, labelName: "background", dice: 0.99, loss: loss),
                ValidationRow(caseName: "val_0", label: 1, labelName: "tissue", dice: value, loss: loss),
                ValidationRow(caseName: "val_1", label: 1, labelName: "tissue", dice: value / 2, loss: loss + 0.2)]
    }
}

final class TrainFakesTests: XCTestCase {
    /// The fake model's gradient against central finite differences in Double (the loss is a
    /// quadratic, so the only error is Float rounding: 1e-3 relative is ample).
    func testFakeModelGradientMatchesFiniteDifferences() throws {
        let source = FakeSource(cases: 4, dimension: 3)
        let model = FakeModel(targets: source.targets)
        model.weights = [0.3, -0.2, 0.5]
        var generator = FakeGenerator(seed: 1)
        let batch = try source.batch(cases: [1, 3], generator: &generator)
        let sampleWeights: [Double] = [0.5, 1.5]
        _ = try model.forward(batch)
        try model.backward(sampleWeights: sampleWeights)
        for j in 0..<3 {
            func objective(_ delta: Float) throws -> Double {
                let probe = FakeModel(targets: source.targets)
                probe.weights = model.weights
                probe.weights[j] += delta
                // (1/B)·Σ wᵢ·ℓᵢ, B = 2.
                return zip(try probe.forward(batch), sampleWeights).reduce(0) { $0 + $1.0 * $1.1 } / 2
            }
            let h: Float = 1e-2
            let numeric = (try objective(h) - objective(-h)) / Double(2 * h)
            XCTAssertEqual(Double(model.gradient[j]), numeric, accuracy: 1e-3 * max(1, abs(numeric)))
        }
    }

    func testFakeGeneratorStateRoundTrips() {
        var a = FakeGenerator(seed: 42)
        _ = a.next()
        var b = FakeGenerator(checkpointBytes: a.checkpointBytes)!
        XCTAssertEqual(a.next(), b.next())
        XCTAssertNil(FakeGenerator(checkpointBytes: [1, 2]))
    }
}
