/// Where training stands, saved as the checkpoint's "progress" section together with the
/// loop's shape (batch size, iterations per epoch, sample count) so a resume with a different
/// shape is refused instead of silently continuing another experiment.
import Common
import Config
import Model

public struct TrainingProgress: Equatable {
    /// Layout version of this section: 1 for a single process (unchanged since before
    /// data-parallel training), 2 adds the number of ranks.
    static let sectionVersion: UInt32 = 1
    static let rankedSectionVersion: UInt32 = 2
    public static let sectionName = "progress"

    /// Completed iterations.
    public var iteration = 0
    /// Best validation result so far (`TrainerSettings.monitor`: mean foreground Dice or mean
    /// validation loss; nil before the first validation).
    public var bestMetric: Double?
    /// Epoch (1-based) at which `bestMetric` was reached, 0 if none.
    public var bestEpoch = 0
    /// Wall-clock seconds spent training, summed over resumed sessions.
    public var elapsedSeconds = 0.0
    /// The global batch: samples drawn per iteration over all ranks (ranks × training.batch_size).
    public var batchSize: Int
    public var iterationsPerEpoch: Int
    public var sampleCount: Int
    /// Ranks that trained (1 for a single process).
    public var ranks: Int

    public init(batchSize: Int, iterationsPerEpoch: Int, sampleCount: Int, ranks: Int = 1) {
        self.batchSize = batchSize
        self.iterationsPerEpoch = iterationsPerEpoch
        self.sampleCount = sampleCount
        self.ranks = ranks
    }

    /// Fully completed epochs.
    public var epochsCompleted: Int { iterationsPerEpoch > 0 ? iteration / iterationsPerEpoch : 0 }

    public func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.append(ranks == 1 ? TrainingProgress.sectionVersion : TrainingProgress.rankedSectionVersion)
        writer.append(iteration)
        writer.append(bestMetric ?? .nan)
        writer.append(bestEpoch)
        writer.append(elapsedSeconds)
        writer.append(batchSize)
        writer.append(iterationsPerEpoch)
        writer.append(sampleCount)
        if ranks != 1 { writer.append(ranks) }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8], path: String) throws -> TrainingProgress {
        var reader = ByteReader(bytes, path: path, section: sectionName)
        let version = try reader.uint32("version")
        guard version == sectionVersion || version == rankedSectionVersion else {
            throw CheckpointError.badSection(path: path, name: sectionName,
                                             reason: "layout version \(version), this build reads \(sectionVersion) and \(rankedSectionVersion)")
        }
        let iteration = try reader.int("iteration")
        let best = try reader.double("best metric")
        let bestEpoch = try reader.int("best epoch")
        let elapsed = try reader.double("elapsed seconds")
        var progress = TrainingProgress(batchSize: try reader.int("batch size"),
                                        iterationsPerEpoch: try reader.int("iterations per epoch"),
                                        sampleCount: try reader.int("sample count"))
        if version == rankedSectionVersion { progress.ranks = try reader.int("ranks") }
        try reader.finish()
        guard progress.ranks >= 1 else {
            throw CheckpointError.badSection(path: path, name: sectionName, reason: "\(progress.ranks) ranks")
        }
        guard iteration >= 0 else {
            throw CheckpointError.badSection(path: path, name: sectionName, reason: "negative iteration \(iteration)")
        }
        progress.iteration = iteration
        progress.bestMetric = best.isNaN ? nil : best
        progress.bestEpoch = bestEpoch
        progress.elapsedSeconds = elapsed
        return progress
    }
}

/// The training loop's numbers, from the configuration.
public struct TrainerSettings: Equatable {
    public var epochs: Int
    public var batchSize: Int
    /// Iterations per epoch; the paper's definition is ⌈N/B⌉ (`iterationsPerEpoch(cases:batch:)`).
    public var iterationsPerEpoch: Int
    public var learningRate: Float
    public var polyExponent: Float
    /// Gradient-norm clip (the authors use 12); nil disables clipping.
    public var gradientClipNorm: Float?
    /// Write checkpoint_latest every this many iterations (nil: only at epoch ends) ...
    public var checkpointEvery: Int?
    /// ... and at the end of every this many epochs (and after the last epoch).
    public var checkpointEveryEpochs: Int
    /// Validate every this many epochs (and after the last one).
    public var validateEvery: Int
    /// What checkpoint_best and early stopping follow (`training.monitor`).
    public var monitor: ValidationMonitor = .dice
    /// Stop after this many validations without improvement (`training.patience`); nil = never.
    public var patience: Int?
    /// Ranks of a data-parallel run; `batchSize` is per rank, the global batch ranks × batchSize.
    public var ranks = 1
    public var globalBatchSize: Int { batchSize * ranks }
    /// Data-parallel gradient sum: nil = one allreduce of the whole gradient after backward;
    /// otherwise buckets of this many Floats summed during backward (`GradientBuckets`), with
    /// MPI_Testall after each layer when `allreducePoll`.
    public var allreduceBucketElements: Int?
    public var allreducePoll = true

    public init(epochs: Int, batchSize: Int, iterationsPerEpoch: Int, learningRate: Float,
                polyExponent: Float = Schedule.defaultPolyExponent, gradientClipNorm: Float?,
                checkpointEvery: Int?, checkpointEveryEpochs: Int = 1, validateEvery: Int) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.iterationsPerEpoch = iterationsPerEpoch
        self.learningRate = learningRate
        self.polyExponent = polyExponent
        self.gradientClipNorm = gradientClipNorm
        self.checkpointEvery = checkpointEvery
        self.checkpointEveryEpochs = checkpointEveryEpochs
        self.validateEvery = validateEvery
    }

    public var totalIterations: Int { epochs * iterationsPerEpoch }

    /// ⌈N/B⌉: one epoch sees about every case once (Fidon et al.).
    public static func iterationsPerEpoch(cases: Int, batch: Int) -> Int {
        batch > 0 ? (cases + batch - 1) / batch : 0
    }

    /// Every count must be positive; the message names the setting.
    public func validate(sampleCount: Int) throws {
        let checks: [(String, Int)] = [("training.epochs", epochs), ("training.batch_size", batchSize),
                                       ("iterations per epoch", iterationsPerEpoch),
                                       ("checkpoint every (iterations)", checkpointEvery ?? 1),
                                       ("output.checkpoint_every", checkpointEveryEpochs),
                                       ("training.val_every", validateEvery)]
        for (name, value) in checks where value < 1 {
            throw RunError.invalidSetting(name: name, value: "\(value)", allowed: "an integer ≥ 1")
        }
        guard globalBatchSize <= sampleCount else {
            if ranks > 1 {
                throw RunError.invalidSetting(name: "training.batch_size", value: "\(batchSize) per rank × \(ranks) ranks",
                                              allowed: "a global batch of at most the \(sampleCount) training cases (a batch holds distinct cases)")
            }
            throw RunError.invalidSetting(name: "training.batch_size", value: "\(batchSize)",
                                          allowed: "at most the \(sampleCount) training cases (a batch holds distinct cases)")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw RunError.invalidSetting(name: "training.lr", value: "\(learningRate)", allowed: "a finite number > 0")
        }
        if let clip = gradientClipNorm, !(clip > 0 && clip.isFinite) {
            throw RunError.invalidSetting(name: "training.grad_clip", value: "\(clip)", allowed: "a finite number > 0")
        }
        if let patience, patience < 1 {
            throw RunError.invalidSetting(name: "training.patience", value: "\(patience)", allowed: "an integer ≥ 1, or null")
        }
    }
}
