import Config

/// `dro-bench unet --config FILE`: the network, patch, batch and threads of a run's
/// configuration. Explicit command-line flags are applied afterwards and win.
extension UNetBenchOptions {
    /// Options of `config`: `model.features` (and `kernel_sizes`, `pool_strides`), `training.patch_size` (x y z, stored here as the
    /// network's D H W = z y x), `training.batch_size`, `training.threads`; input channels and
    /// classes from `data.channels` / `data.labels` when the file lists them (otherwise the
    /// reference network's 1 channel and 4 classes are kept).
    public init(config: Config) {
        self.init()
        features = config.model.features
        kernelSizes = config.model.kernelSizes
        poolStrides = config.model.poolStrides
        patch = Array(config.training.patchSize.reversed())
        batch = config.training.batchSize
        threads = config.training.threads
        if let channels = config.data.channels { inChannels = channels.count }
        if let labels = config.data.labels { classes = labels.count }
    }

    /// Reads and validates `path` (a config error names the file and key) and maps it.
    public init(configPath path: String) throws {
        self.init(config: try Config.load(path: path))
    }
}
