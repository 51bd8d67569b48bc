import Yams

public enum OptimizerKind: String, CaseIterable, Sendable { case sgd, adamw }

/// The validation quantity that picks checkpoint_best and that `training.patience` watches.
public enum ValidationMonitor: String, CaseIterable, Sendable {
    /// Mean foreground Dice over validation cases and labels (higher is better).
    case dice
    /// Mean validation loss over validation cases (lower is better).
    case loss
}
/// How data-parallel ranks sum their gradients (docs/scaling.md).
public enum AllreduceKind: String, CaseIterable, Sendable { case flat, bucketed }

/// `training.loss:` — soft Dice (foreground classes) + cross-entropy (docs/method.md §3).
public struct LossConfig: Equatable, Sendable {
    /// Dice smoothing term of docs/method.md §3.
    public var diceSmooth = 1e-5
    /// Dice over the whole batch instead of per sample (the sampler's per-sample loss is
    /// always per sample, docs/method.md §1.8).
    public var batchDice = false
    public var diceWeight = 1.0
    public var ceWeight = 1.0
    public init() {}

    static let schema = Schema<LossConfig>([
        .number("dice_smooth", \.diceSmooth, .atLeast(0), "Soft Dice smoothing."),
        .bool("batch_dice", \.batchDice,
              "Dice over the batch (the sampler's loss stays per sample); not with `sampler.importance_sampling`."),
        .number("dice_weight", \.diceWeight, .atLeast(0), "Weight of the Dice term."),
        .number("ce_weight", \.ceWeight, .atLeast(0), "Weight of cross-entropy (not both 0)."),
    ], rules: [{ r, s in
        if s.diceWeight == 0 && s.ceWeight == 0 {
            r.log.add(.inconsistent(key: r.keyPath("dice_weight"), at: r.location("dice_weight"),
                                    message: "dice_weight and ce_weight are both 0: the loss would be 0"))
        }
    }])
}

/// `training:` — optimisation (nnU-Net defaults; the authors' SGD settings, docs/method.md §2).
/// Each default is written once, on its property.
public struct TrainingConfig: Equatable, Sendable {
    /// Patch size in voxels, x y z (NIfTI order).
    public var patchSize = [64, 64, 64]
    public var batchSize = 2
    /// nnU-Net trains 1000 epochs.
    public var epochs = 1000
    /// nil = ⌈N/B⌉ (one pass over the N training samples on average).
    public var iterationsPerEpoch: Int?
    public var optimizer: OptimizerKind = .sgd
    public var lr = 0.01
    /// SGD momentum, or AdamW's β1.
    public var momentum = 0.99
    public var nesterov = true
    public var weightDecay = 3e-5
    /// Gradient L2-norm clip of nnU-Net and the authors; nil = no clipping.
    public var gradClip: Double? = 12
    /// Poly learning-rate decay lr·(1 − epoch/epochs)^0.9 (nnU-Net).
    public var polyExponent = 0.9
    public var seed = 0
    public var threads = 2
    /// nnU-Net forces one third of patches to contain foreground.
    public var foregroundFraction = 0.33
    /// Validate every this many epochs.
    public var valEvery = 10
    /// What checkpoint_best and early stopping follow.
    public var monitor: ValidationMonitor = .dice
    /// Stop after this many validations without improvement of `monitor`; nil = train to the end.
    public var patience: Int?
    /// Data-parallel gradient sum: buckets during backward (the best medians of docs/scaling.md's
    /// measurements), or one allreduce after backward.
    public var allreduce: AllreduceKind = .bucketed
    public var allreduceBucketMB = 1.0
    public var allreducePoll = true
    public var loss = LossConfig()
    public var augmentation = AugmentationOptions()

    public init() {}

    /// Steps per epoch for `samples` training samples: the configured value, else ⌈N/B⌉.
    public func iterations(samples: Int) -> Int {
        iterationsPerEpoch ?? max(1, (samples + batchSize - 1) / batchSize)
    }

    static let schema = Schema<TrainingConfig>([
        .ints("patch_size", \.patchSize, count: 3, .atLeast(1), type: "3 integers",
              allowed: "each ≥ 1, divisible per axis by the product of that axis' `model.pool_strides` (2^(levels−1) by default)", "Patch size in voxels (x, y, z)."),
        .int("batch_size", \.batchSize, .atLeast(1),
             "Patches per step (distinct samples per draw); under MPI per rank: R ranks draw a global batch of R·batch_size."),
        .int("epochs", \.epochs, .atLeast(1), "Number of epochs (nnU-Net: 1000)."),
        .optionalInt("iterations_per_epoch", \.iterationsPerEpoch, .atLeast(1),
                     "Steps per epoch; null = ⌈N/B⌉ for N training samples."),
        .choice("optimizer", \.optimizer, ""),
        .number("lr", \.lr, .greaterThan(0), "Initial learning rate."),
        .number("momentum", \.momentum, .halfOpen(0, 1), "SGD momentum (AdamW: β1)."),
        .bool("nesterov", \.nesterov, "Nesterov momentum (SGD; needs momentum > 0)."),
        .number("weight_decay", \.weightDecay, .atLeast(0), ""),
        .optionalNumber("grad_clip", \.gradClip, .greaterThan(0), "Gradient L2-norm clip; null disables it."),
        .number("poly_exponent", \.polyExponent, .atLeast(0), "Poly decay lr·(1 − epoch/epochs)^exponent; 0 = constant."),
        .int("seed", \.seed, .atLeast(0), "Seed of the run's one random generator."),
        .int("threads", \.threads, .atLeast(1), "Compute threads (OpenBLAS and our kernels)."),
        .number("foreground_fraction", \.foregroundFraction, .closed(0, 1),
                "Share of patches forced to contain foreground (nnU-Net: one third)."),
        .int("val_every", \.valEvery, .atLeast(1), "Validate every this many epochs."),
        .choice("monitor", \.monitor,
                "What picks checkpoint_best.ckpt and what `patience` watches: mean foreground validation Dice (higher is better) or mean validation loss (Dice+CE of whole cases, lower is better)."),
        .optionalInt("patience", \.patience, .atLeast(1),
                     "Early stopping: stop after this many validations without improvement of `monitor` (checkpoint_latest is saved; the best is checkpoint_best.ckpt); null = train all epochs."),
        .choice("allreduce", \.allreduce,
                "MPI runs: `bucketed` sums buckets of the gradient during backward (MPI_Iallreduce, as PyTorch DDP); `flat` in one MPI_Allreduce after it. Same result; docs/scaling.md measures both."),
        .number("allreduce_bucket_mb", \.allreduceBucketMB, .greaterThan(0),
                "Bucket size in MiB of Float gradients for `allreduce: bucketed`."),
        .bool("allreduce_poll", \.allreducePoll,
              "`allreduce: bucketed`: call MPI_Testall after each layer's backward so Open MPI advances the started sums."),
        .section("loss", \.loss, LossConfig.schema),
        .section("augmentation", \.augmentation, AugmentationOptions.schema),
    ], rules: [{ r, s in
        if s.optimizer == .sgd && s.nesterov && s.momentum == 0 {
            r.log.add(.inconsistent(key: r.keyPath("nesterov"), at: r.location("nesterov"),
                                    message: "Nesterov SGD needs momentum > 0 (set nesterov: false or a momentum)"))
        }
    }])
}
