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

    public static let networkSection = NetworkSection.name
    public static let labelsSection = LabelsSection.name
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
        let net = try checkpoint.decode(NetworkSection.self, section: networkSection, path: path,
                                        expected: NetworkSection.expected)
        let channels = net.channels
        // Deep-supervision heads are stored with the weights (inference uses the main head only).
        let options = net.options
        do { try options.validate() } catch { throw bad(networkSection, "\(error)") }
        guard channels.count == options.inChannels else {
            throw bad(networkSection, "\(channels.count) channel names for in_channels \(options.inChannels)")
        }
        guard net.patchSize.count == 3 else { throw bad(networkSection, "patch_size \(net.patchSize) is not 3 sizes") }
        let patch = Array(net.patchSize.reversed())

        let labels = try checkpoint.decode(LabelsSection.self, section: labelsSection, path: path).labels
        // Label values are written as NIfTI int32 at most; a larger or repeated value (a foreign or
        // edited checkpoint) is refused here rather than trapping when the map is written.
        if let outOfRange = labels.first(where: { !(0...Int(Int32.max)).contains($0.value) }) {
            throw bad(labelsSection, "label \"\(outOfRange.name)\" has value \(outOfRange.value), allowed: 0…\(Int32.max)")
        }
        if Set(labels.map(\.value)).count != labels.count {
            throw bad(labelsSection, "label values \(labels.map(\.value)) repeat a value")
        }
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

        // The stored values must fit the architecture before anything is allocated for it: a
        // damaged network section could otherwise ask for an enormous network.
        let (tensors, values) = try UNet3D.readParameters(from: checkpoint, path: path)
        let count: Int
        do { count = try options.checkedParameterCount() } catch { throw bad(networkSection, "\(error)") }
        guard count == values.count else {
            throw bad(UNet3D.parameterSection, "\(values.count) values, the network section's architecture has \(count)")
        }
        var rng = SplitMix64(seed: 0)   // weights are overwritten below
        let network: UNet3D
        do {
            network = try UNet3D(options: options, threads: threads, rng: &rng)
            try network.checkShape(batch: 1, spatial: patch)
        } catch { throw bad(networkSection, "\(error)") }
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
