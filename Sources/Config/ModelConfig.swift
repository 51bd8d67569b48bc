import Yams

/// `model:` — the 3D U-Net (docs/method.md §4). Input channels and classes come from `data`.
public struct ModelConfig: Equatable, Sendable {
    /// nnU-Net's 3D full-resolution feature ladder (capped at 320).
    public static let defaultFeatures = [32, 64, 128, 256, 320]
    /// The reference "bench" network of docs/method.md §4.
    public static let benchFeatures = [16, 32, 64, 128]

    /// Channels per resolution level, finest first; level i > 0 halves the resolution.
    public var features = ModelConfig.defaultFeatures
    /// Extra losses on coarser decoder outputs (nnU-Net's deep supervision).
    public var deepSupervision = false
    /// InstanceNorm3d epsilon (PyTorch and nnU-Net default).
    public var normEps = 1e-5
    /// LeakyReLU negative slope (nnU-Net default).
    public var leakySlope = 0.01

    public init() {}

    /// Each patch side must be divisible by this (one halving per level after the first).
    public var patchDivisor: Int { 1 << max(0, features.count - 1) }

    static let schema = Schema<ModelConfig>([
        .ints("features", \.features, minCount: 1, .atLeast(1), type: "list of integers",
              allowed: "≥ 1 entry, each ≥ 1",
              "Channels per resolution level, finest first (nnU-Net's 3D full-res ladder). The reference network uses `[16, 32, 64, 128]`."),
        .bool("deep_supervision", \.deepSupervision,
              "nnU-Net v2's deep supervision: 1×1×1 heads on decoder levels 1…L−2, loss Σ w_k·(Dice+CE) on labels downsampled to each level (nearest-exact), w_k ∝ 1/2^k with the coarsest weight 0, normalised. Inference uses the full-resolution head only."),
        .number("norm_eps", \.normEps, .greaterThan(0), "InstanceNorm epsilon."),
        .number("leaky_slope", \.leakySlope, .halfOpen(0, 1), "LeakyReLU negative slope."),
    ])
}
