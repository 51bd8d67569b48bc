import DataPipeline
import Inference
import Model
import Tensor

/// Validation on whole preprocessed volumes: sliding-window logits (Gaussian-weighted, as
/// nnU-Net), argmax, Dice of every foreground label against the reference. Volumes smaller
/// than the patch are zero-padded at the far end and the prediction cropped back.
public struct VolumeValidator: TrainingValidator {
    /// Validation cases, in memory or in the run's case cache (read one at a time).
    public let store: CaseStore
    public let window: SlidingWindow
    /// Label names by value (index = label value).
    public let labelNames: [String]

    public init(store: CaseStore, window: SlidingWindow, labelNames: [String]) {
        self.store = store
        self.window = window
        self.labelNames = labelNames
    }

    public init(cases: [CaseVolume], window: SlidingWindow, labelNames: [String]) {
        self.init(store: CaseStore(cases), window: window, labelNames: labelNames)
    }

    public func validate(_ model: UNetTrainingModel) throws -> [ValidationRow] {
        var rows: [ValidationRow] = []
        for index in 0..<store.count {
            let volume = try store.volume(index)
            guard let reference = volume.label else { continue }
            let prediction = try predict(volume, network: model.network)
            for label in 1..<max(1, labelNames.count) {
                rows.append(ValidationRow(caseName: volume.id, label: label, labelName: labelNames[label],
                                          dice: VolumeValidator.dice(prediction, reference, label: UInt8(label))))
            }
        }
        return rows
    }

    /// Argmax label map D×H×W of one case.
    func predict(_ volume: CaseVolume, network: UNet3D) throws -> [UInt8] {
        let shape = [volume.shape.d, volume.shape.h, volume.shape.w]
        let padded = zip(shape, window.patch).map { max($0, $1) }
        let input = VolumePadding.pad(volume.image, channels: volume.channels, from: shape, to: padded)
        let logits = try input.withUnsafeBufferPointer {
            try window.logits(volume: $0.baseAddress!, spatial: padded, model: network)
        }
        let classes = network.options.classes
        let paddedVoxels = padded.reduce(1, *)
        var labels = [UInt8](repeating: 0, count: volume.shape.count)
        for z in 0..<shape[0] {
            for y in 0..<shape[1] {
                for x in 0..<shape[2] {
                    let source = (z * padded[1] + y) * padded[2] + x
                    var best = 0
                    for c in 1..<classes where logits[c * paddedVoxels + source] > logits[best * paddedVoxels + source] {
                        best = c
                    }
                    labels[(z * shape[1] + y) * shape[2] + x] = UInt8(best)
                }
            }
        }
        return labels
    }

    /// Dice = 2|A∩B| / (|A| + |B|) of label `label`; nan when both masks are empty
    /// (docs/method.md §5.5's policy: one empty → 0, both → nan).
    public static func dice(_ prediction: [UInt8], _ reference: [UInt8], label: UInt8) -> Double {
        var both = 0, predicted = 0, actual = 0
        for (p, r) in zip(prediction, reference) {
            let inP = p == label, inR = r == label
            if inP { predicted += 1 }
            if inR { actual += 1 }
            if inP && inR { both += 1 }
        }
        return predicted + actual == 0 ? .nan : 2 * Double(both) / Double(predicted + actual)
    }
}
