import Common
import Config
import DataPipeline
import Foundation
import Model
import Sampling
import Tensor
import Training

/// Times candidates with the library's training step on this machine: a batch drawn and
/// augmented from real preprocessed cases (`VolumeBatchSource`), the U-Net's forward, the
/// Dice+CE loss, backward and the SGD step (`UNetTrainingModel`) — what dro-train runs per
/// iteration, without the sampler's bookkeeping (microseconds). Release kernels, `threads` threads.
public struct CandidateTimer {
    public var cases: [CaseVolume]
    public var channels: Int
    public var classes: Int
    public var batch: Int
    public var threads: Int
    /// Untimed steps first (workspace allocation, first-touch), then timed ones (median kept).
    public var warmupSteps = 1
    public var timedSteps = 3

    public struct Measurement: Equatable, Sendable {
        /// Median seconds of one training step (batch drawn and augmented included).
        public var stepSeconds: Double
        /// Seconds of one forward pass of one window (validation's unit of work).
        public var forwardSeconds: Double
        public var parameters: Int
    }

    public init(cases: [CaseVolume], channels: Int, classes: Int, batch: Int, threads: Int) {
        self.cases = cases; self.channels = channels; self.classes = classes; self.batch = batch; self.threads = threads
    }

    /// The network that is timed for `candidate`: its topology as it will train,
    /// per-axis kernels and strides included (`model.kernel_sizes`, `model.pool_strides`).
    public static func timedNetwork(_ candidate: Candidate, channels: Int, classes: Int) -> UNet3DOptions {
        var options = UNet3DOptions(inChannels: channels, classes: classes, features: candidate.features)
        if !candidate.topology.isIsotropic {
            options.kernelSizes = candidate.topology.kernels
            options.poolStrides = candidate.topology.strides
        }
        return options
    }

    public func measure(_ candidate: Candidate) throws -> Measurement {
        Parallel.configure(threads: threads)
        let options = CandidateTimer.timedNetwork(candidate, channels: channels, classes: classes)
        let patch = candidate.patch
        var rng = SplitMix64(seed: 1)
        let network = try UNet3D(options: options, threads: threads, rng: &rng)
        defer { network.releaseActivations() }
        var training = TrainingConfig()
        training.batchSize = batch
        let model = UNetTrainingModel(network: network, loss: DiceCELoss(),
                                      optimizer: TrainingSetup.optimizer(training, count: network.parameterCount),
                                      threads: threads)
        let builder = try BatchBuilder(patchSize: GridShape(niftiShape: patch), augmentation: training.augmentation,
                                       foregroundFraction: training.foregroundFraction)
        let source = VolumeBatchSource(cases: cases, builder: builder, cells: nil)
        var generator = SeededGenerator(seed: 7)
        let indices = (0..<batch).map { $0 % cases.count }
        var times: [Double] = []
        for step in 0..<(warmupSteps + timedSteps) {
            let start = DispatchTime.now().uptimeNanoseconds
            let b = try source.batch(cases: indices, generator: &generator)
            _ = try model.forward(b)
            try model.backward(sampleWeights: [Double](repeating: 1, count: batch))
            model.step(learningRate: Float(training.lr))
            if step >= warmupSteps { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        }
        // One window of validation: the inference pass the sliding window runs (batch 1).
        let input = [Float](repeating: 0.5, count: channels * patch.reduce(1, *))
        var output = [Float](repeating: 0, count: classes * patch.reduce(1, *))
        let spatial = [patch[2], patch[1], patch[0]]
        var forward: [Double] = []
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            try input.withUnsafeBufferPointer { i in
                try output.withUnsafeMutableBufferPointer { o in
                    try network.predict(i.baseAddress!, batch: 1, spatial: spatial, into: o.baseAddress!)
                }
            }
            forward.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return Measurement(stepSeconds: times.sorted()[times.count / 2], forwardSeconds: forward.sorted()[1],
                           parameters: network.parameterCount)
    }
}
