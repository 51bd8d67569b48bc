import Config
import DataPipeline
import Foundation
import Model
import Sampling
import Tensor

/// Builds the loop's pieces from the validated configuration: data (loaded and preprocessed),
/// network, loss, optimizer, sampler, generators, settings. One root generator seeded by
/// `training.seed` spawns, in this order, the network's initialisation stream, the sampler's
/// stream and the data (patch + augmentation) stream.
public enum TrainingSetup {
    /// Preprocessing the config asks for (crop to non-zero, z-score, optional resampling).
    public static func preprocessing(_ data: DataConfig) -> PreprocessingOptions {
        var options = PreprocessingOptions()
        options.zScore = data.normalization == .zscore
        options.targetSpacing = data.targetSpacing.map { Spacing($0) }
        return options
    }

    /// Reads and preprocesses cases one at a time into a store placed as `placement` says, so
    /// at most one case beyond the memory budget is in memory at once.
    public static func storeCases(_ files: [CaseFiles], layout: DatasetLayout, preprocessing: PreprocessingOptions,
                                  placement: CasePlacement, stop: SignalStop? = nil) throws -> CaseStore {
        var builder = try CaseStoreBuilder(placement: placement)
        for file in files {
            if let stop { try RunError.checkStop(stop, phase: "loading cases") }
            let raw = try CaseVolume.load(file, channels: layout.channels.count, classes: layout.classCount)
            try builder.add(try Preprocessor.preprocess(raw, options: preprocessing))
        }
        return builder.store
    }

    /// `data.cache` as a placement under the run folder; `budgetBytes` overrides the `auto`
    /// budget (half of MemAvailable) — shared by the training and validation stores.
    /// `rank` (data-parallel runs) gives each rank its own folder, cache/rank-R.
    public static func placement(_ mode: CacheMode, run: RunDirectory, budgetBytes: Int? = nil,
                                 rank: Int? = nil) -> CasePlacement {
        let folder = run.file(RunDirectory.cacheFolderName) + (rank.map { "/rank-\($0)" } ?? "")
        switch mode {
        case .memory: return .memory
        case .disk: return .disk(folder: folder)
        case .auto:
            guard let budget = budgetBytes ?? CaseStoreBuilder.defaultBudgetBytes() else { return .memory }
            return .auto(folder: folder, budgetBytes: budget)
        }
    }

    /// One line on where the preprocessed cases are and what they take.
    public static func storageSummary(training: CaseStore, validation: CaseStore, mode: CacheMode) -> String {
        let memory = training.memoryBytes + validation.memoryBytes
        let disk = training.diskBytes + validation.diskBytes
        let onDisk = training.diskCount + validation.diskCount
        var line = "preprocessed cases (cache: \(mode.rawValue)): \(megabytes(memory)) in memory"
        if onDisk > 0 {
            line += ", \(onDisk) of \(training.count + validation.count) cases (\(megabytes(disk))) in "
                + RunDirectory.cacheFolderName + "/, read when drawn"
        }
        return line
    }

    static func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_048_576)
    }

    /// The network the config describes for `channels` inputs and `classes` outputs.
    public static func networkOptions(_ model: ModelConfig, channels: Int, classes: Int) -> UNet3DOptions {
        var options = UNet3DOptions(inChannels: channels, classes: classes, features: model.features,
                                    normEps: Float(model.normEps), leakySlope: Float(model.leakySlope))
        options.deepSupervision = model.deepSupervision
        options.kernelSizes = model.kernelSizes
        options.poolStrides = model.poolStrides
        return options
    }

    public static func optimizer(_ training: TrainingConfig, count: Int) -> UNetTrainingModel.Optimizer {
        switch training.optimizer {
        case .sgd:
            return .sgd(SGDOptimizer(count: count, learningRate: Float(training.lr), momentum: Float(training.momentum),
                                     nesterov: training.nesterov, weightDecay: Float(training.weightDecay)))
        case .adamw:
            return .adamw(AdamWOptimizer(count: count, learningRate: Float(training.lr), beta1: Float(training.momentum),
                                         weightDecay: Float(training.weightDecay)))
        }
    }

    /// Uniform, hardness weighted or group-balanced sampler over `count` samples; `groups` and
    /// `names` (per sample) are needed by the group-balanced one alone.
    public static func sampler(_ config: SamplerConfig, count: Int, generator: SeededGenerator,
                               groups: [String] = [], names: [String] = []) throws -> any Sampler {
        switch config.kind {
        case .uniform:
            return try UniformSampler(count: count, generator: generator)
        case .hardness:
            return try HardnessWeightedSampler(count: count, options: config.hardness, generator: generator)
        case .groupBalanced:
            let padded = (0..<count).map { $0 < groups.count ? groups[$0] : "" }
            if let k = padded.firstIndex(of: "") {
                let name = k < names.count ? "'\(names[k])'" : "sample \(k)"
                throw RunError.invalidSetting(name: "sampler.kind", value: "group_balanced",
                                              allowed: "only when every training case has a group (data.groups, a case,group CSV); "
                                                  + "training case \(name) has none")
            }
            return try GroupBalancedSampler(groups: padded, generator: generator)
        }
    }

    /// Loop settings: iterations per epoch default to ⌈N/G⌉ (G = ranks × training.batch_size, the
    /// global batch); the latest checkpoint is written every `output.checkpoint_every` epochs
    /// (and at the last, and on a stop signal).
    public static func settings(_ config: Config, samples: Int, ranks: Int = 1) -> TrainerSettings {
        let training = config.training
        var settings = TrainerSettings(
            epochs: training.epochs, batchSize: training.batchSize,
            iterationsPerEpoch: training.iterationsPerEpoch
                ?? TrainerSettings.iterationsPerEpoch(cases: samples, batch: training.batchSize * ranks),
            learningRate: Float(training.lr), polyExponent: Float(training.polyExponent),
            gradientClipNorm: training.gradClip.map { Float($0) },
            checkpointEvery: nil, checkpointEveryEpochs: config.output.checkpointEvery,
            validateEvery: training.valEvery)
        settings.ranks = ranks
        settings.monitor = training.monitor
        settings.patience = training.patience
        if training.allreduce == .bucketed {
            settings.allreduceBucketElements = max(1, Int(training.allreduceBucketMB * 1_048_576 / 4))
        }
        settings.allreducePoll = training.allreducePoll
        return settings
    }
}
