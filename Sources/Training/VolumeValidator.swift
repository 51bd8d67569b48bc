import Evaluation
import DataPipeline
import Inference
import Model
import Tensor

/// Validation on whole preprocessed volumes through Inference's predictor
/// (`VolumeSegmenter.classIndices`: zero padding of volumes smaller than the patch, Gaussian
/// sliding window as nnU-Net, argmax), then Evaluation's Dice of every foreground label against
/// the reference, and the case's validation loss: the training loss (`loss`, Dice+CE with the
/// configured weights) of the whole volume's sliding-window logits against its reference.
public struct VolumeValidator: TrainingValidator {
    /// Validation cases, in memory or in the run's case cache (read one at a time).
    public let store: CaseStore
    /// The training patch size, D×H×W: the sliding window's.
    public let patch: [Int]
    /// Window overlap and Gaussian σ (`inference.*` of the config); no test-time mirroring.
    public let settings: InferenceSettings
    /// Label names by value (index = label value).
    public let labelNames: [String]
    /// The training loss, applied to the whole volume for the validation loss.
    public let loss: DiceCELoss

    public init(store: CaseStore, patch: [Int], settings: InferenceSettings, labelNames: [String],
                loss: DiceCELoss = DiceCELoss()) {
        self.store = store
        self.loss = loss
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
        let workspace = Workspace()
        for index in stride(from: shard, to: store.count, by: max(1, shards)) {
            var rows: [ValidationRow] = []
            let volume = try store.volume(index)
            guard let reference = volume.label else { continue }
            let logits = try VolumeSegmenter.logits(volume, model: window, settings: settings)
            let classes = window.classes, voxels = volume.shape.count
            let prediction = VolumeSegmenter.argmax(logits, classes: classes, voxels: voxels)
            let referenceClasses = reference.map(Int32.init)
            let caseLoss = try logits.withUnsafeBufferPointer { x in
                try referenceClasses.withUnsafeBufferPointer { y in
                    try loss.evaluate(logits: x.baseAddress!, labels: y.baseAddress!, batch: 1, classes: classes,
                                      voxels: voxels, gradient: nil, workspace: workspace, threads: 1).loss
                }
            }
            for label in 1..<max(1, labelNames.count) {
                rows.append(ValidationRow(caseName: volume.id, label: label, labelName: labelNames[label],
                                          dice: Dice.score(prediction, referenceClasses, label: Int32(label)), loss: caseLoss))
            }
            result.append((index, rows))
        }
        return result
    }
}
