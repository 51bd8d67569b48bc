import Model
import Sampling

/// The project's seeded generator saves and restores its whole state (words and the cached
/// normal deviate), which is what a bit-exact resume needs.
extension SeededGenerator: CheckpointableGenerator {
    public var checkpointBytes: [UInt8] { serialized() }

    public init?(checkpointBytes: [UInt8]) {
        guard let restored = try? SeededGenerator(serialized: checkpointBytes) else { return nil }
        self = restored
    }
}

/// Drives a Sampling-module sampler (hardness weighted, or uniform) from the training loop.
/// The sampler owns its random stream, saved in its state bytes.
public struct SamplerDriver: TrainingSampler {
    public let sampler: any Sampler
    /// Last loss seen per sample, for the log of samplers without a history (uniform).
    private var lastLosses: [Double]

    public init(_ sampler: any Sampler) {
        self.sampler = sampler
        lastLosses = [Double](repeating: .nan, count: sampler.count)
    }

    public var count: Int { sampler.count }

    public mutating func draw(batchSize: Int) throws -> [Int] { try sampler.nextBatch(size: batchSize) }

    public mutating func feedBack(indices: [Int], losses: [Float]) throws -> [Float] {
        let fresh = losses.map(Double.init)
        for (i, loss) in zip(indices, fresh) where lastLosses.indices.contains(i) { lastLosses[i] = loss }
        return try sampler.feedBack(indices: indices, losses: fresh).map(Float.init)
    }

    public func snapshot() -> [(staleLoss: Double, probability: Double, draws: Int)] {
        let counts = sampler.drawCounts.map(Int.init)
        if let hardness = sampler as? HardnessWeightedSampler {
            return zip(zip(hardness.staleLosses, hardness.probabilities()), counts).map { ($0.0, $0.1, $1) }
        }
        let uniform = 1 / Double(max(1, sampler.count))
        return zip(lastLosses, counts).map { ($0, uniform, $1) }
    }

    /// The sampler's own state bytes, then the last-loss log column.
    public func encodeState() -> [UInt8] {
        var writer = ByteWriter()
        writer.appendBlob(sampler.stateBytes())
        writer.append(lastLosses)
        return writer.bytes
    }

    public mutating func restoreState(_ bytes: [UInt8], path: String) throws {
        var reader = ByteReader(bytes, path: path, section: "sampler")
        let state = try reader.blob("sampler state")
        let losses = try reader.doubles("last losses")
        try reader.finish()
        guard losses.count == sampler.count else {
            throw CheckpointError.badSection(path: path, name: "sampler",
                                             reason: "\(losses.count) samples, the data set has \(sampler.count)")
        }
        do {
            try sampler.restore(from: state)
        } catch {
            throw CheckpointError.badSection(path: path, name: "sampler", reason: "\(error)")
        }
        lastLosses = losses
    }
}
