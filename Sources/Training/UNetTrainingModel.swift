import Common
import DataPipeline
import Foundation
import Model
import Tensor

/// The U-Net, its Dice+CE loss and its optimizer as one `TrainingModel`.
///
/// forward: logits of the batch, then the loss per sample (no gradient yet). backward: the loss
/// again with the sampler's importance weights — always passed, so β = 0 (weights exactly 1)
/// runs the same arithmetic as any other β — giving dLoss/dlogits, then the network's backward
/// into the gradient arena.
public final class UNetTrainingModel: TrainingModel {
    public let network: UNet3D
    public let loss: DiceCELoss
    public let optimizer: Optimizer
    let workspace = Workspace()
    let threads: Int
    /// The last forward's batch (labels as Int32) and logits.
    private var labels: [Int32] = []
    private var logits: UnsafePointer<Float>?
    private var batchSize = 0
    private var voxels = 0
    private var gradient = FloatBuffer(count: 0)
    /// Deep supervision: labels and dLoss/dlogits of each auxiliary output (levels 1, 2, ...).
    private var auxLabels: [[Int32]] = []
    private var auxGradients: [FloatBuffer] = []

    /// SGD (nnU-Net's) or AdamW, over the arena's layout.
    public enum Optimizer {
        case sgd(SGDOptimizer)
        case adamw(AdamWOptimizer)
    }

    public init(network: UNet3D, loss: DiceCELoss, optimizer: Optimizer, threads: Int) {
        self.network = network
        self.loss = loss
        self.optimizer = optimizer
        self.threads = threads
    }

    public func forward(_ batch: TrainingBatch) throws -> [Double] {
        let spatial = [batch.patchSize.d, batch.patchSize.h, batch.patchSize.w]
        batchSize = batch.count
        voxels = batch.patchSize.count
        labels = batch.labels.map { Int32($0) }
        logits = try batch.images.withUnsafeBufferPointer {
            try network.forward($0.baseAddress!, batch: batch.count, spatial: spatial)
        }
        auxLabels = network.options.supervisedLevels.dropFirst().map {
            DeepSupervision.downsample(labels, batch: batchSize, spatial: spatial,
                                      scale: Array(network.options.levelScale($0).reversed()))
        }
        return try evaluateAll(weights: nil, gradients: false)
    }

    /// Σ_k w_k·loss(output k) per sample (deep-supervision weights; one output: w = [1]). With
    /// `gradients`, writes w_k·dLoss_k/dlogits_k to `gradient` (k = 0) and `auxGradients`.
    func evaluateAll(weights: [Double]?, gradients: Bool) throws -> [Double] {
        let levelWeights = network.options.deepSupervisionWeights
        let classes = network.options.classes
        if gradients {
            let count = batchSize * classes * voxels
            if gradient.count != count { gradient = FloatBuffer(count: count) }
            let auxCounts = auxLabels.map { $0.count * classes }
            if auxGradients.map(\.count) != auxCounts { auxGradients = auxCounts.map { FloatBuffer(count: $0) } }
        }
        var total = [Double](repeating: 0, count: batchSize)
        func add(_ output: DiceCELoss.Output, _ w: Double) { for i in total.indices { total[i] += w * output.perSample[i] } }
        let main = try evaluate(weights: weights, gradient: gradients ? gradient.pointer : nil)
        add(main, levelWeights[0])
        if gradients { Self.scale(gradient, by: levelWeights[0]) }
        let aux = network.auxiliaryLogits
        for (k, levelLabels) in auxLabels.enumerated() where k < aux.count {
            let w = levelWeights[k + 1]
            if w == 0 {   // nnU-Net's lowest output: weight 0, no gradient
                if gradients { auxGradients[k].pointer.update(repeating: 0, count: auxGradients[k].count) }
                continue
            }
            let output = try levelLabels.withUnsafeBufferPointer {
                try loss.evaluate(logits: aux[k], labels: $0.baseAddress!, batch: batchSize, classes: classes,
                                  voxels: levelLabels.count / batchSize, weights: weights,
                                  gradient: gradients ? auxGradients[k].pointer : nil, workspace: workspace, threads: threads)
            }
            add(output, w)
            if gradients { Self.scale(auxGradients[k], by: w) }
        }
        return total
    }

    static func scale(_ buffer: FloatBuffer, by w: Double) {
        guard w != 1 else { return }
        let k = Float(w)
        for i in 0..<buffer.count { buffer.pointer[i] *= k }
    }

    func evaluate(weights: [Double]?, gradient: UnsafeMutablePointer<Float>?) throws -> DiceCELoss.Output {
        guard let logits else { throw RunError.step(iteration: 0, reason: "backward before forward") }
        return try labels.withUnsafeBufferPointer {
            try loss.evaluate(logits: logits, labels: $0.baseAddress!, batch: batchSize, classes: network.options.classes,
                              voxels: voxels, weights: weights, gradient: gradient, workspace: workspace, threads: threads)
        }
    }

    /// `weights` = the sampler's wᵢ, passed to the loss as they are; the loss's batch mean
    /// supplies the 1/B.
    public func backward(sampleWeights weights: [Double]) throws {
        if loss.batchDice {
            // Batch Dice does not decompose over samples: only unit weights are meaningful.
            guard weights.allSatisfy({ $0 == 1 }) else {
                throw RunError.invalidSetting(name: "training.loss.batch_dice", value: "true",
                                              allowed: "false when sampler.importance_sampling is on")
            }
            _ = try evaluateAll(weights: nil, gradients: true)
        } else {
            _ = try evaluateAll(weights: weights, gradients: true)
        }
        try network.backward(gradient.pointer, auxiliary: auxGradients.map { UnsafePointer($0.pointer) })
    }

    public func setGradientsReadyHandler(_ handler: ((Range<Int>) -> Void)?) {
        network.gradientsReady = handler
    }

    public func gradientNorm() -> Float {
        let g = network.arena.gradients
        var sum = 0.0
        for i in 0..<g.count { sum += Double(g.pointer[i]) * Double(g.pointer[i]) }
        return Float(sum.squareRoot())
    }

    public func withGradients(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        let g = network.arena.gradients
        body(UnsafeMutableBufferPointer(start: g.pointer, count: g.count))
    }

    public func withParameters(_ body: (UnsafeBufferPointer<Float>) -> Void) {
        let v = network.arena.values
        body(UnsafeBufferPointer(start: v.pointer, count: v.count))
    }

    public func scaleGradients(by factor: Float) {
        let g = network.arena.gradients
        for i in 0..<g.count { g.pointer[i] *= factor }
    }

    public func step(learningRate: Float) {
        let arena = network.arena
        switch optimizer {
        case let .sgd(sgd):
            sgd.learningRate = learningRate
            sgd.step(parameters: arena.values.pointer, gradients: arena.gradients.pointer, threads: threads)
        case let .adamw(adam):
            adam.learningRate = learningRate
            adam.step(parameters: arena.values.pointer, gradients: arena.gradients.pointer, threads: threads)
        }
    }

    // MARK: checkpoint sections

    public static let optimizerSection = "optimizer"
    /// Layout version of the "optimizer" section.
    static let sectionVersion: UInt32 = UNet3D.parameterSectionVersion

    /// The network's parameters ("model", see `UNet3D.writeParameters`) and the optimizer's
    /// state ("optimizer": kind and its buffers).
    public func saveState(into checkpoint: inout Checkpoint) {
        network.writeParameters(into: &checkpoint)

        var state = ByteWriter()
        state.append(UNetTrainingModel.sectionVersion)
        switch optimizer {
        case let .sgd(sgd):
            state.append("sgd")
            state.append(sgd.velocity.array)
        case let .adamw(adam):
            state.append("adamw")
            state.append(adam.stepCount)
            state.append(adam.firstMoment.array)
            state.append(adam.secondMoment.array)
        }
        checkpoint.set(UNetTrainingModel.optimizerSection, state.bytes)
    }

    public func loadState(from checkpoint: Checkpoint, path: String) throws {
        let section = UNet3D.parameterSection
        let (tensors, values) = try UNet3D.readParameters(from: checkpoint, path: path)
        let expected = network.parameterTensors
        guard tensors.map(\.name) == expected.map(\.name), tensors.map(\.shape) == expected.map(\.shape) else {
            let first = zip(tensors, expected).first { $0.0.name != $0.1.name || $0.0.shape != $0.1.shape }
            let detail = first.map { "\($0.0.name) \($0.0.shape) where the configured network has \($0.1.name) \($0.1.shape)" }
                ?? "\(tensors.count) tensors where the configured network has \(expected.count)"
            throw RunError.incompatibleCheckpoint(path: path, reason: "network differs: \(detail)")
        }
        try UNetTrainingModel.copy(values, into: network.arena.values, path: path, section: section)

        let optimizerName = UNetTrainingModel.optimizerSection
        var state = ByteReader(try checkpoint.require(optimizerName, path: path), path: path, section: optimizerName)
        try UNetTrainingModel.checkVersion(try state.uint32("version"), path: path, section: optimizerName)
        let kind = try state.name("kind")
        switch (optimizer, kind) {
        case let (.sgd(sgd), "sgd"):
            try UNetTrainingModel.copy(try state.floats("velocity"), into: sgd.velocity, path: path, section: optimizerName)
        case let (.adamw(adam), "adamw"):
            let steps = try state.int("step count")
            // AdamW's bias corrections 1 − βᵗ depend on the step count t: restored with the moments.
            guard steps >= 0 else {
                throw CheckpointError.badSection(path: path, name: optimizerName,
                                                 reason: "AdamW step count \(steps), allowed: ≥ 0")
            }
            try UNetTrainingModel.copy(try state.floats("first moment"), into: adam.firstMoment, path: path, section: optimizerName)
            try UNetTrainingModel.copy(try state.floats("second moment"), into: adam.secondMoment, path: path, section: optimizerName)
            adam.restore(stepCount: steps)
        default:
            throw RunError.incompatibleCheckpoint(path: path, reason: "optimizer is \(kind), the configuration's differs")
        }
        try state.finish()
    }

    static func checkVersion(_ version: UInt32, path: String, section: String) throws {
        guard version == sectionVersion else {
            throw CheckpointError.badSection(path: path, name: section,
                                             reason: "layout version \(version), this build reads \(sectionVersion)")
        }
    }

    static func copy(_ values: [Float], into buffer: FloatBuffer, path: String, section: String) throws {
        guard values.count == buffer.count else {
            throw CheckpointError.badSection(path: path, name: section,
                                             reason: "\(values.count) values, the network needs \(buffer.count)")
        }
        values.withUnsafeBufferPointer { buffer.pointer.update(from: $0.baseAddress!, count: values.count) }
    }
}
