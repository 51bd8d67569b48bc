import Yams

/// `inference:` — sliding-window prediction (nnU-Net defaults, docs/method.md §4).
public struct InferenceConfig: Equatable, Sendable {
    /// Window overlap as a fraction of the patch (nnU-Net: 50 %).
    public static let defaultOverlap = 0.5
    /// Gaussian weighting σ = patch × 1/8 (nnU-Net).
    public static let defaultGaussianSigmaScale = 0.125

    public var overlap = InferenceConfig.defaultOverlap
    public var gaussianSigmaScale = InferenceConfig.defaultGaussianSigmaScale
    /// Test-time augmentation by flipping.
    public var tta = false
    /// Windows per forward pass.
    public var batch = 1
    public init() {}

    init(_ r: SectionReader) {
        overlap = r.double("overlap", Self.defaultOverlap, .halfOpen(0, 1))
        gaussianSigmaScale = r.double("gaussian_sigma_scale", Self.defaultGaussianSigmaScale, .greaterThan(0))
        tta = r.bool("tta", false)
        batch = r.int("batch", 1, .atLeast(1))
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([("overlap", YAMLOut.number(overlap)),
                     ("gaussian_sigma_scale", YAMLOut.number(gaussianSigmaScale)),
                     ("tta", YAMLOut.bool(tta)), ("batch", YAMLOut.int(batch))])
    }
}

/// `output:` — where a run writes checkpoints, logs, the resolved config and plots.
public struct OutputConfig: Equatable, Sendable {
    public static let defaultCheckpointEvery = 50
    /// Run folder, absolute after decoding. Default: `runs/<config name>` next to the config file.
    public var dir: String
    /// Save a checkpoint every this many epochs (the last epoch always saves).
    public var checkpointEvery = OutputConfig.defaultCheckpointEvery
    public var plots = true

    public init(dir: String) { self.dir = dir }

    init(_ r: SectionReader, defaultDir: String) {
        dir = r.optionalPath("dir") ?? r.log.resolvePath(defaultDir, key: "")
        checkpointEvery = r.int("checkpoint_every", Self.defaultCheckpointEvery, .atLeast(1))
        plots = r.bool("plots", true)
        r.finish()
    }

    var yaml: Node {
        YAMLOut.map([("dir", YAMLOut.string(dir)), ("checkpoint_every", YAMLOut.int(checkpointEvery)),
                     ("plots", YAMLOut.bool(plots))])
    }
}
