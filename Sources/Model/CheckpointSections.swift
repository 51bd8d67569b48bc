import Config
import Foundation

/// The checkpoint's "network" section (JSON): the U-Net's architecture and what inference needs
/// to feed it. Keys are those dro-train has always written; `deep_supervision`, `kernel_sizes` and
/// `pool_strides` are absent from checkpoints written before they existed (read as false,
/// 3×3×3 kernels and 2×2×2 strides).
public struct NetworkSection: Codable, Equatable, Sendable {
    public static let name = "network"

    public var inChannels: Int
    public var classes: Int
    public var features: [Int]
    public var convsPerLevel: Int
    public var normEps: Double
    public var leakySlope: Double
    /// Input channel names in channel order.
    public var channels: [String]
    /// Training patch in voxels, x y z (NIfTI order).
    public var patchSize: [Int]
    public var deepSupervision: Bool?
    /// Kernel of each level as [kx, ky, kz] (x y z, NIfTI order); nil in older checkpoints (3×3×3).
    public var kernelSizes: [[Int]]?
    /// Stride of each downsampling as [sx, sy, sz]; nil in older checkpoints (2×2×2).
    public var poolStrides: [[Int]]?

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", classes, features, convsPerLevel = "convs_per_level"
        case normEps = "norm_eps", leakySlope = "leaky_slope", channels, patchSize = "patch_size"
        case deepSupervision = "deep_supervision"
        case kernelSizes = "kernel_sizes", poolStrides = "pool_strides"
    }

    public init(network: UNet3DOptions, channels: [String], patchSize: [Int]) {
        inChannels = network.inChannels; classes = network.classes; features = network.features
        convsPerLevel = network.convsPerLevel; normEps = Double(network.normEps)
        leakySlope = Double(network.leakySlope); deepSupervision = network.deepSupervision
        kernelSizes = network.levelKernels; poolStrides = network.levelStrides
        self.channels = channels; self.patchSize = patchSize
    }

    /// The network's options (not yet validated).
    public var options: UNet3DOptions {
        var o = UNet3DOptions(inChannels: inChannels, classes: classes, features: features,
                              convsPerLevel: convsPerLevel, normEps: Float(normEps), leakySlope: Float(leakySlope))
        o.deepSupervision = deepSupervision ?? false
        // The defaults written out read back as "not set", so options round-trip unchanged.
        o.kernelSizes = kernelSizes == o.levelKernels ? nil : kernelSizes
        o.poolStrides = poolStrides == o.levelStrides ? nil : poolStrides
        return o
    }

    /// What each key must hold, for messages.
    public static let expected: [String: String] = [
        "in_channels": "an integer", "classes": "an integer", "convs_per_level": "an integer",
        "features": "a list of integers", "patch_size": "a list of integers", "norm_eps": "a number",
        "leaky_slope": "a number", "channels": "a list of names", "deep_supervision": "true or false",
        "kernel_sizes": "a list of [kx, ky, kz] lists", "pool_strides": "a list of [sx, sy, sz] lists",
    ]
}

/// The checkpoint's "labels" section (JSON): `{"name": value, ...}`, kept sorted by value.
public struct LabelsSection: Codable, Equatable, Sendable {
    public static let name = "labels"
    public var labels: [LabelDefinition]

    public init(_ labels: [LabelDefinition]) { self.labels = labels.sorted { $0.value < $1.value } }

    public init(from decoder: Decoder) throws {
        let object = try decoder.singleValueContainer().decode([String: Int].self)
        self.init(object.map { LabelDefinition(name: $0.key, value: $0.value) })
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(labels.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a }))
    }
}

extension Checkpoint {
    /// Section bytes as written by dro-train: sorted keys, pretty-printed.
    public static func json<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(value))
    }

    /// Section `name` decoded as `T`; a bad section is refused naming the key and what it must
    /// hold (`expected`: key → "an integer", ...).
    public func decode<T: Decodable>(_ type: T.Type, section name: String, path: String,
                                     expected: [String: String] = [:]) throws -> T {
        let bytes = try require(name, path: path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw CheckpointError.badSection(path: path, name: name, reason: Self.reason(error, expected: expected))
        }
    }

    static func reason(_ error: DecodingError, expected: [String: String]) -> String {
        func what(_ path: [CodingKey]) -> String {
            guard let key = path.first(where: { $0.intValue == nil })?.stringValue else { return "not a JSON object" }
            return "\"\(key)\" is " + (expected[key].map { "not \($0)" } ?? "missing or of the wrong type")
        }
        switch error {
        case .keyNotFound(let key, _): return what([key])
        case .typeMismatch(_, let c), .valueNotFound(_, let c):
            return c.codingPath.isEmpty ? "not a JSON object" : what(c.codingPath)
        case .dataCorrupted(let c): return c.codingPath.isEmpty ? "not a JSON object" : what(c.codingPath)
        @unknown default: return "not a JSON object"
        }
    }
}
