import Foundation

/// What `dro-inspect CHECKPOINT.ckpt` prints: the network a checkpoint holds (channels, classes,
/// feature ladder, per-level kernels and pool strides in x y z order, training patch) and its
/// sections, without building the network.
public enum CheckpointSummary {
    /// True for the paths dro-inspect treats as checkpoints.
    public static func isCheckpointPath(_ path: String) -> Bool { path.lowercased().hasSuffix(".ckpt") }

    public static func report(path: String, json: Bool) throws -> String {
        let checkpoint = try Checkpoint.read(path: path)
        let net = try checkpoint.decode(NetworkSection.self, section: NetworkSection.name, path: path,
                                        expected: NetworkSection.expected)
        let options = net.options
        let sections = checkpoint.sections.map(\.name)
        if json {
            let object: [String: Any] = [
                "path": path, "in_channels": net.inChannels, "channels": net.channels, "classes": net.classes,
                "features": net.features, "convs_per_level": net.convsPerLevel,
                "deep_supervision": options.deepSupervision, "kernel_sizes": options.levelKernels,
                "pool_strides": options.levelStrides, "patch_size": net.patchSize, "sections": sections,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
        let recorded = net.kernelSizes == nil ? " (not recorded: written before per-axis kernels, 3×3×3 / 2×2×2)" : ""
        return [
            path,
            "  network:      \(net.inChannels) input channel(s) \(net.channels), \(net.classes) classes, "
                + "features \(net.features), \(net.convsPerLevel) convs per level, deep supervision \(options.deepSupervision)",
            "  kernel_sizes: \(options.levelKernels) (x y z, per level)" + recorded,
            "  pool_strides: \(options.levelStrides) (x y z, per downsampling)",
            "  patch_size:   \(net.patchSize) (x y z)",
            "  sections:     \(sections.joined(separator: ", "))",
        ].joined(separator: "\n")
    }
}
