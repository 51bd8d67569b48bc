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
}

/// Scores the current model on the validation cases (full volumes, sliding window).
public protocol TrainingValidator {
    associatedtype Model
    /// One row per (case, label), background included (label 0) or not as the validator likes;
    /// the best checkpoint uses the mean Dice of rows with label > 0.
    func validate(_ model: Model) throws -> [ValidationRow]
}

/// A validator that does nothing, for runs without validation cases.
public struct NoValidation<Model>: TrainingValidator {
    public init() {}
    public func validate(_ model: Model) throws -> [ValidationRow] { [] }
}
