import DataPipeline
import Model
import Tensor

/// A network as the sliding window sees it: `predict(windows, count, logits)` maps `count`
/// windows [count, inChannels, patch] to logits [count, classes, patch].
public struct WindowModel {
    public var inChannels: Int
    public var classes: Int
    /// Window size, memory order D×H×W.
    public var patch: [Int]
    public var predict: (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) throws -> Void
    /// Called once the model has segmented a case (frees the network's activations).
    public var finished: () -> Void = {}

    public init(inChannels: Int, classes: Int, patch: [Int],
                predict: @escaping (UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>) throws -> Void) {
        self.inChannels = inChannels; self.classes = classes; self.patch = patch; self.predict = predict
    }

    /// A network's memory-lean `predict` on windows of `patch`, mirrored when `tta`.
    public init(network: UNet3D, patch: [Int], tta: Bool) {
        let predictor = WindowPredictor(network: network, patch: patch, tta: tta)
        self.init(inChannels: network.options.inChannels, classes: network.options.classes, patch: patch) {
            try predictor.predict($0, count: $1, into: $2)
        }
        finished = { network.releaseActivations() }
    }

    /// The checkpoint's network with its training patch, mirrored when `tta`.
    public init(_ model: TrainedModel, tta: Bool) { self.init(network: model.network, patch: model.patch, tta: tta) }
}

/// A case's segmentation on the grid it was read on.
public struct SegmentationResult {
    /// D×H×W label values (x fastest, as the input file).
    public var labels: [Int32]
    /// K×D×H×W class probabilities when asked for.
    public var probabilities: [Float]?
}

/// One case through the whole pipeline: the checkpoint's preprocessing (crop, z-score,
/// resampling), sliding-window logits of every model, softmax, mean over the ensemble, back to
/// the original grid (`PredictionRestorer`: inverse resampling, un-cropping with background
/// outside the crop), argmax → label values, optional largest-component post-processing.
public enum VolumeSegmenter {
    public static func segment(_ raw: CaseVolume, models: [TrainedModel], settings: InferenceSettings) throws -> SegmentationResult {
        guard let first = models.first else { return SegmentationResult(labels: [], probabilities: nil) }
        return try segment(raw, models: models.map { WindowModel($0, tta: settings.tta) },
                           preprocessing: first.preprocessing, labelValues: first.labels.map { Int32($0.value) },
                           settings: settings)
    }

    /// The same with any window models; `labelValues[k]` is the value written for class k.
    public static func segment(_ raw: CaseVolume, models: [WindowModel], preprocessing: PreprocessingOptions,
                               labelValues: [Int32], settings: InferenceSettings) throws -> SegmentationResult {
        let classes = labelValues.count
        let pre = try Preprocessor.preprocess(raw, options: preprocessing)
        let p = try probabilities(pre, models: models, settings: settings)
        let restored = try PredictionRestorer.restoreProbabilities(
            p, classes: classes, shape: pre.shape, spacing: pre.spacing, geometry: pre.geometry,
            anisotropyThreshold: preprocessing.anisotropyThreshold)
        let shape = pre.geometry.originalShape
        var labels = argmax(restored, classes: classes, voxels: shape.count).map { labelValues[Int($0)] }
        if let connectivity = settings.largestComponent {
            LargestComponent.keep(&labels, shape: shape, connectivity: connectivity)
        }
        return SegmentationResult(labels: labels, probabilities: settings.probabilities ? restored : nil)
    }

    /// Class index per voxel of a preprocessed case: the argmax of one model's sliding-window
    /// logits on its grid (D×H×W, no restoring). Validation during training scores this.
    public static func classIndices(_ pre: CaseVolume, model: WindowModel, settings: InferenceSettings) throws -> [Int32] {
        let logits = try logits(pre, model: model, settings: settings)
        return argmax(logits, classes: model.classes, voxels: pre.shape.count)
    }

    /// One model's sliding-window logits K×D×H×W of a preprocessed case; the model's activations
    /// are released afterwards.
    public static func logits(_ pre: CaseVolume, model: WindowModel, settings: InferenceSettings) throws -> [Float] {
        guard model.inChannels == pre.channels else {
            throw InferenceError.channels(source: "case \(pre.id)", found: "\(pre.channels) channel(s)",
                                          expected: "\(model.inChannels)")
        }
        defer { model.finished() }
        return try slidingWindowLogits(pre.image, shape: pre.shape, model: model, settings: settings)
    }

    /// Softmax of each model's logits on the preprocessed grid, averaged over the models: K×D×H×W.
    static func probabilities(_ pre: CaseVolume, models: [WindowModel], settings: InferenceSettings) throws -> [Float] {
        var mean: [Float] = []
        for model in models {
            let logits = try logits(pre, model: model, settings: settings)
            var p = [Float](repeating: 0, count: logits.count)
            logits.withUnsafeBufferPointer { x in
                p.withUnsafeMutableBufferPointer {
                    ChannelSoftmax.forward(x: x.baseAddress!, p: $0.baseAddress!, batch: 1, channels: model.classes,
                                           voxels: pre.shape.count)
                }
            }
            if mean.isEmpty { mean = p } else { for i in mean.indices { mean[i] += p[i] } }
        }
        if models.count > 1 {
            let scale = 1 / Float(models.count)
            for i in mean.indices { mean[i] *= scale }
        }
        return mean
    }

    /// Gaussian-weighted sliding-window logits K×`shape` of a C×`shape` image. A volume smaller
    /// than the window along an axis is zero-padded at the far end (zero = the z-scored mean,
    /// and the background outside the crop) and the logits cropped back.
    public static func slidingWindowLogits(_ image: [Float], shape: GridShape, model: WindowModel,
                                           settings: InferenceSettings) throws -> [Float] {
        let spatial = [shape.d, shape.h, shape.w]
        let padded = zip(spatial, model.patch).map { max($0, $1) }
        let input = VolumePadding.pad(image, channels: model.inChannels, from: spatial, to: padded)
        let window = SlidingWindow(patch: model.patch, overlap: settings.overlap, sigmaScale: settings.sigmaScale)
        let logits = try input.withUnsafeBufferPointer {
            try window.logits(volume: $0.baseAddress!, spatial: padded, inChannels: model.inChannels,
                              classes: model.classes, batch: settings.batch, predict: model.predict)
        }
        guard padded != spatial else { return logits }
        return Cropping.crop(logits, channels: model.classes, shape: GridShape(d: padded[0], h: padded[1], w: padded[2]),
                             box: GridBox(covering: shape))
    }

    /// Index of the largest of K values per voxel (the first on ties) of a K×V buffer.
    public static func argmax(_ p: [Float], classes: Int, voxels: Int) -> [Int32] {
        var best = [Int32](repeating: 0, count: voxels)
        p.withUnsafeBufferPointer { p in
            for v in 0..<voxels {
                var k = 0, top = p[v]
                for c in 1..<max(1, classes) where p[c * voxels + v] > top { top = p[c * voxels + v]; k = c }
                best[v] = Int32(k)
            }
        }
        return best
    }
}
