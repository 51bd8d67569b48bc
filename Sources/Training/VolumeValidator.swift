import Evaluation
import DataPipeline
import Inference
import Model

/// Validation on whole preprocessed volumes through Inference's predictor
/// (`VolumeSegmenter.classIndices`: zero padding of volumes smaller than the patch, Gaussian
/// sliding window as nnU-Net, argmax), then Evaluation's Dice of every foreground label against
/// the reference.
public struct VolumeValidator: TrainingValidator {
    /// Validation cases, in memory or in the run's case cache (read one at a time).
    public let store: CaseStore
    /// The training patch size, D×H×W: the sliding window's.
    public let patch: [Int]
    /// Window overlap and Gaussian σ (`inference.*` of the config); no test-time mirroring.
    public let settings: InferenceSettings
    /// Label names by value (index = label value).
    public let labelNames: [String]

    public init(store: CaseStore, patch: [Int], settings: InferenceSettings, labelNames: [String]) {
        self.store = store
        self.patch = patch
        self.settings = settings
        self.labelNames = labelNames
    }

    public init(cases: [CaseVolume], patch: [Int], settings: InferenceSettings = InferenceSettings(), labelNames: [String]) {
        self.init(store: CaseStore(cases), patch: patch, settings: settings, labelNames: labelNames)
    }

    public func validate(_ model: UNetTrainingModel) throws -> [ValidationRow] {
        try validate(model, shard: 0, of: 1).flatMap(\.rows)
    }

    /// Cases i with i % shards == shard, one entry per case with a label.
    public func validate(_ model: UNetTrainingModel, shard: Int,
                         of shards: Int) throws -> [(caseIndex: Int, rows: [ValidationRow])] {
        let window = WindowModel(network: model.network, patch: patch, tta: false)
        var result: [(caseIndex: Int, rows: [ValidationRow])] = []
        for index in stride(from: shard, to: store.count, by: max(1, shards)) {
            var rows: [ValidationRow] = []
            let volume = try store.volume(index)
            guard let reference = volume.label else { continue }
            let prediction = try VolumeSegmenter.classIndices(volume, model: window, settings: settings)
            let referenceClasses = reference.map(Int32.init)
            for label in 1..<max(1, labelNames.count) {
                rows.append(ValidationRow(caseName: volume.id, label: label, labelName: labelNames[label],
                                          dice: Dice.score(prediction, referenceClasses, label: Int32(label))))
            }
            result.append((index, rows))
        }
        return result
    }
}
