import Common
import Config
import DataPipeline
import Foundation
import Model
import Tensor

/// A network read back from a dro-train checkpoint with everything inference needs: the
/// architecture ("network" section), the weights ("model"), the label names and values
/// ("labels"), the channel names and patch size ("network") and the preprocessing the training
/// data went through ("preprocessing"). Corrupt or foreign files are refused with the
/// Checkpoint module's messages.
public final class TrainedModel {
    public let path: String
    public let network: UNet3D
    /// Input channel names in channel order.
    public let channels: [String]
    /// Labels sorted by value; class index k of the network is `labels[k]`.
    public let labels: [LabelDefinition]
    public let preprocessing: PreprocessingOptions
    /// Training patch, memory order D×H×W: the sliding window's size.
    public let patch: [Int]

    public static let networkSection = "network"
    public static let labelsSection = "labels"
    public static let preprocessingSection = "preprocessing"

    init(path: String, network: UNet3D, channels: [String], labels: [LabelDefinition],
         preprocessing: PreprocessingOptions, patch: [Int]) {
        self.path = path; self.network = network; self.channels = channels; self.labels = labels
        self.preprocessing = preprocessing; self.patch = patch
    }

    public var classes: Int { network.options.classes }

    /// Reads and checks the checkpoint at `path`; the network runs on `threads` threads.
    public static func load(path: String, threads: Int) throws -> TrainedModel {
        let checkpoint = try Checkpoint.read(path: path)
        func bad(_ section: String, _ reason: String) -> CheckpointError {
            .badSection(path: path, name: section, reason: reason)
        }
        func json(_ section: String) throws -> [String: Any] {
            let bytes = try checkpoint.require(section, path: path)
            guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw bad(section, "not a JSON object")
            }
            return object
        }
        let net = try json(networkSection)
        func ints(_ key: String) throws -> [Int] {
            guard let values = net[key] as? [Int], !values.isEmpty else { throw bad(networkSection, "\"\(key)\" is not a list of integers") }
            return values
        }
        func int(_ key: String) throws -> Int {
            guard let value = net[key] as? Int else { throw bad(networkSection, "\"\(key)\" is not an integer") }
            return value
        }
        func number(_ key: String) throws -> Double {
            guard let value = net[key] as? Double else { throw bad(networkSection, "\"\(key)\" is not a number") }
            return value
        }
        guard let channels = net["channels"] as? [String] else { throw bad(networkSection, "\"channels\" is not a list of names") }
        var options = UNet3DOptions(inChannels: try int("in_channels"), classes: try int("classes"),
                                    features: try ints("features"), convsPerLevel: try int("convs_per_level"),
                                    normEps: Float(try number("norm_eps")), leakySlope: Float(try number("leaky_slope")))
        // Deep-supervision heads are stored with the weights (inference uses the main head only);
        // checkpoints written before the key existed have none.
        if let value = net["deep_supervision"] {
            guard let flag = value as? Bool else { throw bad(networkSection, "\"deep_supervision\" is not true or false") }
            options.deepSupervision = flag
        }
        do { try options.validate() } catch { throw bad(networkSection, "\(error)") }
        guard channels.count == options.inChannels else {
            throw bad(networkSection, "\(channels.count) channel names for in_channels \(options.inChannels)")
        }
        let patchXYZ = try ints("patch_size")
        guard patchXYZ.count == 3 else { throw bad(networkSection, "patch_size \(patchXYZ) is not 3 sizes") }
        let patch = Array(patchXYZ.reversed())

        let labelObject = try json(labelsSection)
        var labels: [LabelDefinition] = []
        for (name, value) in labelObject {
            guard let v = value as? Int else { throw bad(labelsSection, "label \"\(name)\" has a non-integer value") }
            labels.append(LabelDefinition(name: name, value: v))
        }
        labels.sort { $0.value < $1.value }
        guard labels.count == options.classes, labels.first?.value == 0 else {
            throw bad(labelsSection, "\(labels.count) labels \(labels.map(\.value)) for \(options.classes) classes "
                      + "(one label per class, background 0)")
        }
        let preprocessing: PreprocessingOptions
        do {
            preprocessing = try JSONDecoder().decode(PreprocessingOptions.self,
                                                     from: Data(try checkpoint.require(preprocessingSection, path: path)))
            try preprocessing.validate()
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw bad(preprocessingSection, "\(error)")
        }

        var rng = SplitMix64(seed: 0)   // weights are overwritten below
        let network: UNet3D
        do {
            network = try UNet3D(options: options, threads: threads, rng: &rng)
            try network.checkShape(batch: 1, spatial: patch)
        } catch { throw bad(networkSection, "\(error)") }
        let (tensors, values) = try UNet3D.readParameters(from: checkpoint, path: path)
        let expected = network.parameterTensors
        guard tensors.map(\.name) == expected.map(\.name), tensors.map(\.shape) == expected.map(\.shape),
              values.count == network.arena.values.count else {
            throw bad(UNet3D.parameterSection, "its \(tensors.count) tensors (\(values.count) values) do not "
                      + "match the network section's architecture (\(expected.count) tensors, "
                      + "\(network.arena.values.count) values)")
        }
        values.withUnsafeBufferPointer { network.arena.values.pointer.update(from: $0.baseAddress!, count: values.count) }
        return TrainedModel(path: path, network: network, channels: channels, labels: labels,
                            preprocessing: preprocessing, patch: patch)
    }

    /// Refuses an ensemble member whose channels, labels or preprocessing differ from `self`'s.
    public func checkCompatible(_ other: TrainedModel) throws {
        func mismatch(_ what: String, _ found: String, _ expected: String) -> InferenceError {
            .ensembleMismatch(path: other.path, reference: path, what: what, found: found, expected: expected)
        }
        if other.channels != channels { throw mismatch("channels", "\(other.channels)", "\(channels)") }
        if other.labels != labels {
            throw mismatch("labels", LabelDefinition.text(other.labels), LabelDefinition.text(labels))
        }
        if other.preprocessing != preprocessing {
            throw mismatch("preprocessing", "\(other.preprocessing)", "\(preprocessing)")
        }
    }
}

extension LabelDefinition {
    /// "background=0, tumour=1".
    static func text(_ labels: [LabelDefinition]) -> String {
        labels.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
    }
}
