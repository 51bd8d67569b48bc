/// The pieces the training loop drives. The loop is written against these small protocols (and
/// Sampling's `Sampler`) so it can be tested with fakes (a loss that turns NaN at iteration k, a
/// model whose state is one number) and run with the real U-Net, patch pipeline and hardness
/// weighted sampler.
import Model


/// A generator whose complete state can be saved in a checkpoint and restored, so a resumed run
/// draws exactly the numbers an uninterrupted one would.
public protocol CheckpointableGenerator: RandomNumberGenerator {
    /// The complete state.
    var checkpointBytes: [UInt8] { get }
    /// Restores a state written by `checkpointBytes`; nil when the bytes are not one.
    init?(checkpointBytes: [UInt8])
}

/// A network with its loss and optimizer, trained one batch at a time.
public protocol TrainingModel: AnyObject {
    associatedtype Batch
    /// Forward pass and loss; returns one loss per sample of the batch (that sample's loss,
    /// averaged over its voxels), in the precision the sampler uses, and keeps what `backward`
    /// needs.
    func forward(_ batch: Batch) throws -> [Double]
    /// Gradient of the weighted batch mean (1/B)·Σᵢ sampleWeights[i]·ℓᵢ with respect to the
    /// parameters (overwrites the previous gradient). The weights are the sampler's importance
    /// weights as it returned them; the 1/B is the model's.
    func backward(sampleWeights: [Double]) throws
    /// L2 norm of the whole gradient.
    func gradientNorm() -> Float
    /// Multiplies the whole gradient by `factor` (gradient-norm clipping).
    func scaleGradients(by factor: Float)
    /// One optimizer step at `learningRate`.
    func step(learningRate: Float)
    /// The flat gradient buffer (summed over ranks in data-parallel training); empty for models
    /// without one (test fakes, which then only train as one rank).
    func withGradients(_ body: (UnsafeMutableBufferPointer<Float>) -> Void)
    /// The flat parameter buffer (compared across ranks); empty as above.
    func withParameters(_ body: (UnsafeBufferPointer<Float>) -> Void)
    /// Sets (nil: removes) a function `backward` calls with each range of the flat gradient
    /// buffer as soon as it holds its final value (each element once per pass), so data-parallel
    /// training can sum finished buckets while backward goes on. Models that cannot tell ignore it
    /// (the default): their buckets are all summed after backward.
    func setGradientsReadyHandler(_ handler: ((Range<Int>) -> Void)?)
    /// Writes parameters ("model") and optimizer state ("optimizer") sections.
    func saveState(into checkpoint: inout Checkpoint)
    /// Restores what `saveState` wrote; throws a `CheckpointError` naming `path` on mismatch.
    func loadState(from checkpoint: Checkpoint, path: String) throws
}

/// Builds a training batch (patches, augmented) for the drawn cases.
public protocol BatchSource {
    associatedtype Batch
    associatedtype Generator: CheckpointableGenerator
    /// Case names, indexed like the sampler's samples.
    var caseNames: [String] { get }
    /// The group of each case (e.g. "normal"/"abnormal"), for logs and plots; "" when none.
    var caseGroups: [String] { get }
    /// Patches for `cases`; every random choice comes from `generator`.
    func batch(cases: [Int], generator: inout Generator) throws -> Batch
    /// Patches for slots `slots` of the global batch `globalCases` (data-parallel training: rank
    /// r builds slots r·B..<(r+1)·B). Every rank calls it with the same generator state and must
    /// leave the generator in the same state; the patch of a slot must not depend on `slots`.
    /// The default builds `batch(cases:)` of the slice, which meets this only for one rank.
    func batch(globalCases: [Int], slots: Range<Int>, generator: inout Generator) throws -> Batch
}

extension BatchSource {
    public func batch(globalCases: [Int], slots: Range<Int>, generator: inout Generator) throws -> Batch {
        try batch(cases: Array(globalCases[slots]), generator: &generator)
    }
}

/// Scores the current model on the validation cases (full volumes, sliding window).
public protocol TrainingValidator {
    associatedtype Model
    /// One row per (case, label), background included (label 0) or not as the validator likes;
    /// the best checkpoint uses the mean Dice of rows with label > 0.
    func validate(_ model: Model) throws -> [ValidationRow]
    /// The rows of validation cases i with i % shards == shard, with each case's index (rank r
    /// of R validates shard r; the trainer gathers and orders them by case index). The default
    /// validates everything as shard 0 (index 0) and nothing as any other shard.
    func validate(_ model: Model, shard: Int, of shards: Int) throws -> [(caseIndex: Int, rows: [ValidationRow])]
}

extension TrainingValidator {
    public func validate(_ model: Model, shard: Int, of shards: Int) throws -> [(caseIndex: Int, rows: [ValidationRow])] {
        shard == 0 ? [(0, try validate(model))] : []
    }
}

extension TrainingModel {
    public func setGradientsReadyHandler(_ handler: ((Range<Int>) -> Void)?) {}
    public func withGradients(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        body(UnsafeMutableBufferPointer(start: nil, count: 0))
    }
    public func withParameters(_ body: (UnsafeBufferPointer<Float>) -> Void) {
        body(UnsafeBufferPointer(start: nil, count: 0))
    }
}

/// A validator that does nothing, for runs without validation cases.
public struct NoValidation<Model>: TrainingValidator {
    public init() {}
    public func validate(_ model: Model) throws -> [ValidationRow] { [] }
}
