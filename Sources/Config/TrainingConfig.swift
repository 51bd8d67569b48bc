import Yams

public enum OptimizerKind: String, CaseIterable, Sendable { case sgd, adamw }

/// `training.loss:` — soft Dice (foreground classes) + cross-entropy (docs/method.md §3).
public struct LossConfig: Equatable, Sendable {
    /// Dice smoothing term of docs/method.md §3.
    public static let defaultDiceSmooth = 1e-5
    public var diceSmooth = LossConfig.defaultDiceSmooth
    /// Dice over the whole batch instead of per sample (the sampler's per-sample loss is
    /// always per sample, docs/method.md §1.8).
    public var batchDice = false
    public var diceWeight = 1.0
    public var ceWeight = 1.0
    public init() {}

    init(_ r: SectionReader) {
        diceSmooth = r.double("dice_smooth", Self.defaultDiceSmooth, .atLeast(0))
        batchDice = r.bool("batch_dice", false)
        diceWeight = r.double("dice_weight", 1, .atLeast(0))
        ceWeight = r.double("ce_weight", 1, .atLeast(0))
        if diceWeight == 0 && ceWeight == 0 {
            r.log.add(.inconsistent(key: r.keyPath("dice_weight"), at: r.location("dice_weight"),
                                    message: "dice_weight and ce_weight are both 0: the loss would be 0"))
        }
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([("dice_smooth", YAMLOut.number(diceSmooth)), ("batch_dice", YAMLOut.bool(batchDice)),
                     ("dice_weight", YAMLOut.number(diceWeight)), ("ce_weight", YAMLOut.number(ceWeight))])
    }
}

/// `training:` — optimisation (nnU-Net defaults; the authors' SGD settings, docs/method.md §2).
public struct TrainingConfig: Equatable, Sendable {
    public static let defaultPatchSize = [64, 64, 64]
    public static let defaultBatchSize = 2
    /// nnU-Net trains 1000 epochs.
    public static let defaultEpochs = 1000
    public static let defaultLR = 0.01
    public static let defaultMomentum = 0.99
    public static let defaultWeightDecay = 3e-5
    /// Gradient-norm clip of nnU-Net and the authors.
    public static let defaultGradClip = 12.0
    /// Poly learning-rate decay lr·(1 − epoch/epochs)^0.9 (nnU-Net).
    public static let defaultPolyExponent = 0.9
    public static let defaultThreads = 2
    /// nnU-Net forces one third of patches to contain foreground.
    public static let defaultForegroundFraction = 0.33
    public static let defaultValEvery = 10

    /// Patch size in voxels, x y z (NIfTI order).
    public var patchSize = TrainingConfig.defaultPatchSize
    public var batchSize = TrainingConfig.defaultBatchSize
    public var epochs = TrainingConfig.defaultEpochs
    /// nil = ⌈N/B⌉ (one pass over the N training samples on average).
    public var iterationsPerEpoch: Int?
    public var optimizer: OptimizerKind = .sgd
    public var lr = TrainingConfig.defaultLR
    /// SGD momentum, or AdamW's β1.
    public var momentum = TrainingConfig.defaultMomentum
    public var nesterov = true
    public var weightDecay = TrainingConfig.defaultWeightDecay
    /// Gradient L2-norm clip; nil = no clipping.
    public var gradClip: Double? = TrainingConfig.defaultGradClip
    public var polyExponent = TrainingConfig.defaultPolyExponent
    public var seed = 0
    public var threads = TrainingConfig.defaultThreads
    public var foregroundFraction = TrainingConfig.defaultForegroundFraction
    /// Validate every this many epochs.
    public var valEvery = TrainingConfig.defaultValEvery
    public var loss = LossConfig()
    public var augmentation = AugmentationConfig()

    public init() {}

    /// Steps per epoch for `samples` training samples: the configured value, else ⌈N/B⌉.
    public func iterations(samples: Int) -> Int {
        iterationsPerEpoch ?? max(1, (samples + batchSize - 1) / batchSize)
    }

    /// `patchDivisor`: each patch side must be divisible by it (2^(levels−1), from `model`).
    init(_ r: SectionReader, patchDivisor: Int, levels: Int) {
        patchSize = r.requiredField("patch_size")?.ints(count: 3, .atLeast(1)) ?? Self.defaultPatchSize
        if patchSize.contains(where: { $0 % patchDivisor != 0 }) {
            r.log.add(.inconsistent(key: r.keyPath("patch_size"), at: r.location("patch_size"),
                message: "[\(patchSize.map(String.init).joined(separator: ", "))] must be divisible by \(patchDivisor) on every axis (the \(levels) levels of model.features halve it \(levels - 1) times)"))
        }
        batchSize = r.int("batch_size", Self.defaultBatchSize, .atLeast(1))
        epochs = r.int("epochs", Self.defaultEpochs, .atLeast(1))
        iterationsPerEpoch = r.optionalInt("iterations_per_epoch", .atLeast(1))
        optimizer = r.choice("optimizer", .sgd)
        lr = r.double("lr", Self.defaultLR, .greaterThan(0))
        momentum = r.double("momentum", Self.defaultMomentum, .halfOpen(0, 1))
        nesterov = r.bool("nesterov", true)
        weightDecay = r.double("weight_decay", Self.defaultWeightDecay, .atLeast(0))
        gradClip = r.isPresent("grad_clip") ? r.optionalDouble("grad_clip", .greaterThan(0))
            : (r.raw("grad_clip") == nil ? Self.defaultGradClip : nil)
        polyExponent = r.double("poly_exponent", Self.defaultPolyExponent, .atLeast(0))
        seed = r.int("seed", 0, .atLeast(0))
        threads = r.int("threads", Self.defaultThreads, .atLeast(1))
        foregroundFraction = r.double("foreground_fraction", Self.defaultForegroundFraction, .closed(0, 1))
        valEvery = r.int("val_every", Self.defaultValEvery, .atLeast(1))
        loss = LossConfig(r.section("loss"))
        augmentation = AugmentationConfig(r.section("augmentation"))
        if optimizer == .sgd && nesterov && momentum == 0 {
            r.log.add(.inconsistent(key: r.keyPath("nesterov"), at: r.location("nesterov"),
                                    message: "Nesterov SGD needs momentum > 0 (set nesterov: false or a momentum)"))
        }
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([
            ("patch_size", YAMLOut.ints(patchSize)),
            ("batch_size", YAMLOut.int(batchSize)),
            ("epochs", YAMLOut.int(epochs)),
            ("iterations_per_epoch", YAMLOut.optional(iterationsPerEpoch, YAMLOut.int)),
            ("optimizer", YAMLOut.string(optimizer.rawValue)),
            ("lr", YAMLOut.number(lr)),
            ("momentum", YAMLOut.number(momentum)),
            ("nesterov", YAMLOut.bool(nesterov)),
            ("weight_decay", YAMLOut.number(weightDecay)),
            ("grad_clip", YAMLOut.optional(gradClip, YAMLOut.number)),
            ("poly_exponent", YAMLOut.number(polyExponent)),
            ("seed", YAMLOut.int(seed)),
            ("threads", YAMLOut.int(threads)),
            ("foreground_fraction", YAMLOut.number(foregroundFraction)),
            ("val_every", YAMLOut.int(valEvery)),
            ("loss", loss.yaml),
            ("augmentation", augmentation.yaml),
        ])
    }
}
