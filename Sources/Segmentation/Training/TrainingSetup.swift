import Config
import Foundation
import Sampling
import Tensor

/// Builds the loop's pieces from the validated configuration: data (loaded and preprocessed),
/// network, loss, optimizer, sampler, generators, settings. One root generator seeded by
/// `training.seed` spawns, in this order, the network's initialisation stream, the sampler's
/// stream and the data (patch + augmentation) stream.
public enum TrainingSetup {
    /// Augmentation settings of the config mapped onto the data pipeline's options.
    public static func augmentation(_ config: AugmentationConfig) -> AugmentationOptions {
        guard config.enabled else { return .none }
        var options = AugmentationOptions()
        // Config axes are NIfTI's (0 = x, 1 = y, 2 = z); the pipeline's are memory order d, h, w.
        options.mirrorEnabled = config.flip.enabled && !config.flipAxes.isEmpty
        options.mirrorAxes = [config.flipAxes.contains(2), config.flipAxes.contains(1), config.flipAxes.contains(0)]
        options.mirrorProbabilityPerAxis = config.flip.probability
        let degrees = config.rotation.number("max_degrees") ?? 30
        options.rotation = RandomTransformOptions(enabled: config.rotation.enabled, probability: config.rotation.probability,
                                                  range: ParameterRange(-degrees, degrees))
        options.scaling = transform(config.scaling, "range", default: options.scaling)
        options.elastic.enabled = config.elastic.enabled
        options.elastic.probability = config.elastic.probability
        options.gamma = transform(config.gamma, "range", default: options.gamma)
        options.invertedGamma = RandomTransformOptions(enabled: config.gamma.enabled,
                                                       probability: config.gamma.number("invert_probability") ?? 0.1,
                                                       range: options.gamma.range)
        options.brightness = transform(config.brightnessContrast, "brightness", default: options.brightness)
        options.contrast = transform(config.brightnessContrast, "contrast", default: options.contrast)
        options.noise = transform(config.noise, "variance", default: options.noise)
        options.blur = transform(config.blur, "sigma", default: options.blur)
        return options
    }

    static func transform(_ a: Augmentation, _ key: String, default fallback: RandomTransformOptions) -> RandomTransformOptions {
        let range = a.interval(key).map { ParameterRange($0.lowerBound, $0.upperBound) } ?? fallback.range
        return RandomTransformOptions(enabled: a.enabled, probability: a.probability, range: range)
    }

    /// Preprocessing the config asks for (crop to non-zero, z-score, optional resampling).
    public static func preprocessing(_ data: DataConfig) -> PreprocessingOptions {
        var options = PreprocessingOptions()
        options.zScore = data.normalization == .zscore
        options.targetSpacing = data.targetSpacing.map { Spacing($0) }
        return options
    }

    /// Reads and preprocesses cases; `progress` is told each case id.
    public static func loadCases(_ files: [CaseFiles], layout: DatasetLayout, preprocessing: PreprocessingOptions,
                                 progress: (String) -> Void = { _ in }) throws -> [CaseVolume] {
        try files.map { file in
            progress(file.id)
            let raw = try CaseVolume.load(file, channels: layout.channels.count, classes: layout.classCount)
            return try Preprocessor.preprocess(raw, options: preprocessing)
        }
    }

    /// The network the config describes for `channels` inputs and `classes` outputs.
    public static func networkOptions(_ model: ModelConfig, channels: Int, classes: Int) -> UNet3DOptions {
        UNet3DOptions(inChannels: channels, classes: classes, features: model.features,
                      normEps: Float(model.normEps), leakySlope: Float(model.leakySlope))
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

    /// Uniform or hardness weighted sampler over `count` samples.
    public static func sampler(_ config: SamplerConfig, count: Int, generator: SeededGenerator) throws -> any Sampler {
        switch config.kind {
        case .uniform:
            return try UniformSampler(count: count, generator: generator)
        case .hardness:
            let options = HardnessSamplerOptions(
                beta: config.beta, momentum: config.momentum, initLoss: config.initLoss,
                importanceSampling: config.importanceSampling,
                clip: ClipRange(lower: config.clip.lowerBound, upper: config.clip.upperBound),
                floor: config.floor ? HardnessSamplerOptions.defaultFloor : 0)
            return try HardnessWeightedSampler(count: count, options: options, generator: generator)
        }
    }

    /// Loop settings: iterations per epoch default to ⌈N/B⌉; the latest checkpoint is written
    /// every `output.checkpoint_every` epochs (and at the last, and on a stop signal).
    public static func settings(_ config: Config, samples: Int) -> TrainerSettings {
        let training = config.training
        return TrainerSettings(
            epochs: training.epochs, batchSize: training.batchSize,
            iterationsPerEpoch: training.iterationsPerEpoch
                ?? TrainerSettings.iterationsPerEpoch(cases: samples, batch: training.batchSize),
            learningRate: Float(training.lr), polyExponent: Float(training.polyExponent),
            gradientClipNorm: training.gradClip.map { Float($0) },
            checkpointEvery: nil, checkpointEveryEpochs: config.output.checkpointEvery,
            validateEvery: training.valEvery)
    }
}
