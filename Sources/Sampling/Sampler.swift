// The sampler interface the trainer uses, and the module's errors.
//
// One training iteration: `nextBatch(size:)` gives B distinct sample indices; after the forward
// pass the trainer calls `feedBack(indices:losses:)` with one scalar loss per drawn sample (the
// loss of that sample's patch averaged over voxels) and multiplies each sample's loss by the
// returned importance weight (all 1 when importance sampling is off). Losses and weights are
// Double from the loss function to the sampler and back. `snapshot()` gives the per-sample
// state for logs and plots; `stateBytes()` goes into every checkpoint and `restore(from:)`
// continues bit-identically.

import Common

/// What one sample index stands for (YAML `sampler.unit`).
public enum SamplingUnit: String, CaseIterable, Sendable {
    /// A sample is a training volume (the paper's choice); each draw then takes a patch of it.
    case wholeCase = "case"
    /// A sample is a (case, patch-sized cell of its foreground box); see `PatchCells`.
    case patch = "patch"
}

public protocol Sampler: AnyObject {
    /// Number of samples N; indices are 0..<count.
    var count: Int { get }
    /// How often each sample has been drawn so far.
    var drawCounts: [UInt32] { get }
    /// B distinct indices for one iteration (1 ≤ B ≤ N).
    func nextBatch(size: Int) throws -> [Int]
    /// Feeds back the fresh per-sample losses of drawn indices; returns their importance weights.
    func feedBack(indices: [Int], losses: [Double]) throws -> [Double]
    /// Per-sample loss history, probability of being drawn next and draw count (O(N)).
    func snapshot() -> [SampleSnapshot]
    /// The complete state (options, history, generator, counts) for a checkpoint.
    func stateBytes() -> [UInt8]
    /// Replaces this sampler's state by a checkpointed one with the same sample count.
    func restore(from bytes: [UInt8]) throws
}

/// One sample's row of `Sampler.snapshot()` (sampler.csv, the probability plots).
public struct SampleSnapshot: Equatable, Sendable {
    /// The stale loss L̃ (hardness samplers) or the last loss fed back (uniform; nan before the
    /// first draw).
    public var staleLoss: Double
    /// Probability of being the first draw of the next batch.
    public var probability: Double
    public var draws: Int

    public init(staleLoss: Double, probability: Double, draws: Int) {
        self.staleLoss = staleLoss; self.probability = probability; self.draws = draws
    }
}

extension Sampler {
    /// Iterations in one epoch: ⌈N/B⌉ (docs/method.md §1.5).
    public func iterationsPerEpoch(batchSize: Int) -> Int {
        batchSize <= 0 ? 0 : (count + batchSize - 1) / batchSize
    }
}

public enum SamplerError: Error, CustomStringConvertible, Equatable {
    /// An option outside its allowed range; `option` is the YAML key.
    case invalidOption(option: String, value: String, allowed: String)
    /// A batch size the sampler cannot serve.
    case invalidBatchSize(requested: Int, samples: Int)
    /// A fed-back index outside 0..<N.
    case indexOutOfRange(index: Int, samples: Int)
    /// A fed-back loss that is not finite or too large to exponentiate safely.
    case invalidLoss(index: Int, value: Double, allowed: String)
    /// `indices` and `losses` differ in length.
    case lengthMismatch(indices: Int, losses: Int)
    /// Initial losses vector of the wrong size or with non-finite values.
    case invalidInitialLosses(String)
    /// A checkpoint's sample count differs from the dataset's.
    case sampleCountMismatch(checkpoint: Int, expected: Int)
    /// Unreadable checkpoint bytes.
    case corruptState(String)
    /// Bad patch-cell geometry; names the case.
    case invalidCase(caseID: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidOption(option, value, allowed):
            return "\(option) = \(value) is invalid: allowed \(allowed)"
        case let .invalidBatchSize(requested, samples):
            return "batch size \(requested) is invalid for a sampler over \(samples) samples: allowed 1...\(samples)"
        case let .indexOutOfRange(index, samples):
            return "sample index \(index) fed back to the sampler is out of range: allowed 0..<\(samples)"
        case let .invalidLoss(index, value, allowed):
            return "loss \(value) fed back for sample \(index) is invalid: allowed \(allowed)"
        case let .lengthMismatch(indices, losses):
            return "sampler feedback has \(indices) indices but \(losses) losses: they must match"
        case let .invalidInitialLosses(reason):
            return "sampler initial losses: \(reason)"
        case let .sampleCountMismatch(checkpoint, expected):
            return "sampler checkpoint has \(checkpoint) samples but the dataset has \(expected): resume with the same data and sampler.unit"
        case let .corruptState(reason):
            return "sampler state: \(reason)"
        case let .invalidCase(caseID, reason):
            return "case '\(caseID)': \(reason)"
        }
    }
}

extension ByteReader {
    /// A reader of a sampler or generator state; its failures are `SamplerError.corruptState`
    /// naming `what` ("hardness sampler state").
    init(_ bytes: [UInt8], what: String) {
        self.init(bytes) { SamplerError.corruptState("\(what): \($0)") }
    }
}
