import Common
import Tensor

/// The network's parameters as a checkpoint section, shared by training (save, resume) and
/// inference (`TrainedModel`).
extension UNet3D {
    /// Name of the section that holds the parameters.
    public static let parameterSection = "model"
    /// Layout version of the parameter section (and of the trainer's optimizer section).
    public static let parameterSectionVersion: UInt32 = 1

    /// "model": version, then every parameter tensor's name and shape, then all values in arena
    /// order (so a reader can rebuild and check the layout).
    public func writeParameters(into checkpoint: inout Checkpoint) {
        var model = ByteWriter()
        model.append(UNet3D.parameterSectionVersion)
        let tensors = parameterTensors
        model.append(tensors.count)
        for (name, shape) in tensors {
            model.append(name)
            model.append(shape)
        }
        model.append(arena.values.array)
        checkpoint.set(UNet3D.parameterSection, model.bytes)
    }

    /// The "model" section decoded: parameter tensors (name, shape) and all values in arena order.
    public static func readParameters(from checkpoint: Checkpoint, path: String) throws
        -> (tensors: [(name: String, shape: [Int])], values: [Float]) {
        let section = parameterSection
        var model = ByteReader(try checkpoint.require(section, path: path), path: path, section: section)
        let version = try model.uint32("version")
        guard version == parameterSectionVersion else {
            throw CheckpointError.badSection(path: path, name: section,
                                             reason: "layout version \(version), this build reads \(parameterSectionVersion)")
        }
        let count = try model.int("tensor count")
        var tensors: [(name: String, shape: [Int])] = []
        for _ in 0..<max(0, min(count, 100_000)) { tensors.append((try model.name("name"), try model.ints("shape"))) }
        let values = try model.floats("parameters")
        try model.finish()
        return (tensors, values)
    }
}

extension UNet3DOptions {
    /// Largest sizes a network read from a file may have before it is built: far above any
    /// network dro-train builds, low enough that shapes, counts and the patch divisor cannot
    /// overflow.
    static let fileLimits = (levels: 12, channels: 1 << 16, convsPerLevel: 64, kernel: 15)

    /// Parameters of the network these options describe, computed with overflow checks and
    /// without building it; throws naming the option when a size is beyond `fileLimits` (a
    /// corrupt or foreign network section), so a reader compares it with the stored values
    /// before allocating anything.
    public func checkedParameterCount() throws -> Int {
        try validate()
        let limits = UNet3DOptions.fileLimits
        if levels > limits.levels {
            throw UNet3DError.option(name: "features", value: "\(levels) levels", allowed: "at most \(limits.levels) levels")
        }
        for (name, value) in [("inChannels", inChannels), ("classes", classes), ("features", features.max() ?? 0)]
        where value > limits.channels {
            throw UNet3DError.option(name: name, value: "\(value)", allowed: "at most \(limits.channels)")
        }
        if convsPerLevel > limits.convsPerLevel {
            throw UNet3DError.option(name: "convsPerLevel", value: "\(convsPerLevel)", allowed: "at most \(limits.convsPerLevel)")
        }
        if let big = levelKernels.flatMap({ $0 }).max(), big > limits.kernel {
            throw UNet3DError.option(name: "kernelSizes", value: "\(big)", allowed: "at most \(limits.kernel)")
        }
        return UNet3DLayout(self).specs.reduce(0) { $0 + $1.shape.reduce(1, *) }
    }
}
