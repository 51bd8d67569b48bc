import Yams

/// `inference:` — sliding-window prediction (nnU-Net defaults, docs/method.md §4). The sliding
/// window (`SlidingWindow`) and dro-infer's settings take their defaults from here.
public struct InferenceConfig: Equatable, Sendable {
    /// Window overlap as a fraction of the patch (nnU-Net: 50 %).
    public var overlap = 0.5
    /// Gaussian weighting σ = patch × 1/8 (nnU-Net).
    public var gaussianSigmaScale = 0.125
    /// Test-time augmentation by flipping.
    public var tta = false
    /// Windows per forward pass.
    public var batch = 1
    public init() {}

    static let schema = Schema<InferenceConfig>([
        .number("overlap", \.overlap, .halfOpen(0, 1), "Sliding-window overlap as a fraction of the patch."),
        .number("gaussian_sigma_scale", \.gaussianSigmaScale, .greaterThan(0),
                "Gaussian weighting σ = patch × scale (nnU-Net: 1/8)."),
        .bool("tta", \.tta, "Test-time augmentation by flipping."),
        .int("batch", \.batch, .atLeast(1), "Windows per forward pass."),
    ])
}

/// `output:` — where a run writes checkpoints, logs, the resolved config and plots.
public struct OutputConfig: Equatable, Sendable {
    /// Run folder, absolute after decoding. Default: `runs/<config name>` next to the config file.
    public var dir: String
    /// Save a checkpoint every this many epochs (the last epoch always saves).
    public var checkpointEvery = 50
    public var plots = true

    public init(dir: String) { self.dir = dir }

    /// `defaultDir` (relative to the config file's folder) when `dir` is not given.
    static func schema(defaultDir: String) -> Schema<OutputConfig> {
        Schema([
            .custom("dir", type: "path", allowed: "",
                    "Run folder (checkpoints, logs, resolved config, plots). `--output` replaces it.",
                    show: { _ in "`runs/<config name>` next to the config" },
                    read: { r, s in s.dir = r.optionalPath("dir") ?? r.log.resolvePath(defaultDir, key: "") },
                    write: { YAMLOut.string($0.dir) }),
            .int("checkpoint_every", \.checkpointEvery, .atLeast(1), "Save a checkpoint every this many epochs."),
            .bool("plots", \.plots, "Write PNG plots of the training curves."),
        ])
    }
}
