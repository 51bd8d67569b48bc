import Yams

/// `model:` — the 3D U-Net (docs/method.md §4). Input channels and classes come from `data`.
public struct ModelConfig: Equatable, Sendable {
    /// nnU-Net's 3D full-resolution feature ladder (capped at 320).
    public static let defaultFeatures = [32, 64, 128, 256, 320]
    /// The reference "bench" network of docs/method.md §4.
    public static let benchFeatures = [16, 32, 64, 128]
    /// InstanceNorm3d epsilon (PyTorch and nnU-Net default).
    public static let defaultNormEps = 1e-5
    /// LeakyReLU negative slope (nnU-Net default).
    public static let defaultLeakySlope = 0.01

    /// Channels per resolution level, finest first; level i > 0 halves the resolution.
    public var features = ModelConfig.defaultFeatures
    /// Extra losses on coarser decoder outputs (nnU-Net's deep supervision).
    public var deepSupervision = false
    public var normEps = ModelConfig.defaultNormEps
    public var leakySlope = ModelConfig.defaultLeakySlope

    public init() {}

    /// Each patch side must be divisible by this (one halving per level after the first).
    public var patchDivisor: Int { 1 << max(0, features.count - 1) }

    init(_ r: SectionReader) {
        features = r.requiredField("features")?.ints(minCount: 1, .atLeast(1)) ?? Self.defaultFeatures
        deepSupervision = r.bool("deep_supervision", false)
        normEps = r.double("norm_eps", Self.defaultNormEps, .greaterThan(0))
        leakySlope = r.double("leaky_slope", Self.defaultLeakySlope, .halfOpen(0, 1))
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([
            ("features", YAMLOut.ints(features)),
            ("deep_supervision", YAMLOut.bool(deepSupervision)),
            ("norm_eps", YAMLOut.number(normEps)),
            ("leaky_slope", YAMLOut.number(leakySlope)),
        ])
    }
}
