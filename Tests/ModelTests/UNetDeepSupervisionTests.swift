import Common
import XCTest
import Tensor
@testable import DataPipeline
@testable import Model
@testable import Training
import TestSupport

/// nnU-Net's deep supervision: heads on the decoder levels below full resolution, loss
/// Σ_k w_k·loss(head_k, labels downsampled to level k).
final class UNetDeepSupervisionTests: XCTestCase {
    /// nnU-Net v2 (nnUNetTrainer._build_loss): w_k = 1/2^k, last 0, normalised — by hand.
    func testWeights() {
        var o = UNet3DOptions(features: [2, 3, 4, 5])
        XCTAssertEqual(o.deepSupervisionWeights, [1])
        o.deepSupervision = true
        XCTAssertEqual(o.supervisedLevels, [0, 1, 2])
        // [1, 1/2, 0] / 1.5
        XCTAssertEqual(o.deepSupervisionWeights, [2.0 / 3, 1.0 / 3, 0])
        o.features = [2, 3, 4, 5, 6]
        // [1, 1/2, 1/4, 0] / 1.75
        XCTAssertEqual(o.deepSupervisionWeights, [4.0 / 7, 2.0 / 7, 1.0 / 7, 0])
        o.features = [2, 3]
        XCTAssertEqual(o.deepSupervisionWeights, [1])
    }

    /// nearest-exact ×½: output voxel i reads input 2i + 1 on each axis; ×¼: 4i + 2.
    func testLabelDownsampling() {
        let spatial = [4, 4, 8]   // D H W
        let labels = (0..<(2 * 128)).map { Int32($0) }
        let half = DeepSupervision.downsample(labels, batch: 2, spatial: spatial, level: 1)
        var expected: [Int32] = []
        for s in 0..<2 { for z in 0..<2 { for y in 0..<2 { for x in 0..<4 {
            expected.append(Int32(s * 128 + (2 * z + 1) * 32 + (2 * y + 1) * 8 + 2 * x + 1))
        } } } }
        XCTAssertEqual(half, expected)
        let quarter = DeepSupervision.downsample(labels, batch: 2, spatial: spatial, level: 2)
        // Sample s, (z, y, x) = (2, 2, 2) and (2, 2, 6): s·128 + 2·32 + 2·8 + x.
        let quarterExpected: [Int32] = [82, 86, 210, 214]
        XCTAssertEqual(quarter, quarterExpected)
    }

    /// Per-axis factors (an anisotropic network's level scale, D H W): factor 1 keeps an axis
    /// (offset 0), factor 2 reads 2i + 1 — by hand on a 2 × 4 × 4 grid with scale [1, 2, 2].
    func testLabelDownsamplingPerAxis() {
        let labels = (0..<32).map { Int32($0) }   // index (z·4 + y)·4 + x
        let out = DeepSupervision.downsample(labels, batch: 1, spatial: [2, 4, 4], scale: [1, 2, 2])
        // z ∈ {0, 1}, y ∈ {1, 3}, x ∈ {1, 3}.
        XCTAssertEqual(out, [5, 7, 13, 15, 21, 23, 29, 31])
        // The isotropic overload is the per-axis one with equal factors.
        let big = (0..<(4 * 4 * 8)).map { Int32($0) }
        XCTAssertEqual(DeepSupervision.downsample(big, batch: 1, spatial: [4, 4, 8], level: 2),
                       DeepSupervision.downsample(big, batch: 1, spatial: [4, 4, 8], scale: [4, 4, 4]))
    }

    /// An anisotropic network's training loss with deep supervision against the Double reference:
    /// the level-1 head sits at [D, H/2, W/2] (pool stride [2, 2, 1] in x y z) and its labels are
    /// taken per axis, written here from coordinates independently of DeepSupervision.downsample.
    func testAnisotropicLossUsesPerAxisLabels() throws {
        var opts = UNet3DOptions(inChannels: 1, classes: 3, features: [2, 3, 3, 4], convsPerLevel: 1)
        opts.deepSupervision = true
        opts.kernelSizes = [[3, 3, 1], [3, 3, 3], [1, 3, 3], [3, 3, 3]]
        opts.poolStrides = [[2, 2, 1], [1, 2, 2], [2, 2, 2]]
        let spatial = [4, 8, 8], n = 2, v = spatial.reduce(1, *)   // D H W: z by 4, y by 8, x by 4
        var rng = SplitMix64(seed: 31)
        let net = try UNet3D(options: opts, threads: 1, rng: &rng)
        var drng = SplitMix64(seed: 32)
        let x = (0..<(n * v)).map { _ in Float.random(in: -1..<1, using: &drng) }
        let labels = (0..<(n * v)).map { _ in UInt8.random(in: 0..<3, using: &drng) }
        let model = UNetTrainingModel(network: net, loss: DiceCELoss(),
                                      optimizer: .sgd(SGDOptimizer(count: net.parameterCount, learningRate: 0.01, momentum: 0.99, nesterov: true, weightDecay: 0)), threads: 1)
        let batch = TrainingBatch(patchSize: GridShape(d: spatial[0], h: spatial[1], w: spatial[2]), channels: 1, images: x,
                                  labels: labels, caseIndices: [0, 1], origins: [GridPoint(d: 0, h: 0, w: 0), GridPoint(d: 0, h: 0, w: 0)],
                                  forcedForeground: [false, false])
        let perSample = try model.forward(batch)
        // Level scales in D H W: level 1 = [1, 2, 2], level 2 = [2, 4, 2].
        func levelLabels(_ s: [Int]) -> [Int32] {
            let d = zip(spatial, s).map { $0 / $1 }
            var out: [Int32] = []
            for i in 0..<n { for z in 0..<d[0] { for y in 0..<d[1] { for xx in 0..<d[2] {
                let zi = z * s[0] + s[0] / 2, yi = y * s[1] + s[1] / 2, xi = xx * s[2] + s[2] / 2
                out.append(Int32(labels[i * v + (zi * spatial[1] + yi) * spatial[2] + xi]))
            } } } }
            return out
        }
        let scales = [[1, 1, 1], [1, 2, 2], [2, 4, 2]], weights = [2.0 / 3, 1.0 / 3, 0]
        let outputs = UNetReference(net).forwardAll(net.arena.values.array.map(Double.init), input: x.map(Double.init),
                                                    batch: n, spatial: spatial)
        XCTAssertEqual(outputs.count, 3)
        var refLoss = 0.0
        for k in 0..<3 {
            let lv = v / scales[k].reduce(1, *)
            XCTAssertEqual(outputs[k].count, n * 3 * lv)
            refLoss += weights[k] * UNetReference.loss(outputs[k], labels: levelLabels(scales[k]), n: n, cl: 3, v: lv)
        }
        XCTAssertEqual(Double(perSample.reduce(0, +)) / Double(n), refLoss, accuracy: 1e-4 * refLoss)
    }

    /// Training loss and dLoss/dθ of the whole training model (heads, weights, downsampled
    /// labels) against central differences of the Double reference network + loss.
    func testGradientAgainstFiniteDifferences() throws {
        var opts = UNet3DOptions(inChannels: 1, classes: 3, features: [2, 3, 3, 4], convsPerLevel: 1)
        opts.deepSupervision = true
        let spatial = [8, 8, 16], n = 2, v = spatial.reduce(1, *)
        var rng = SplitMix64(seed: 21)
        let net = try UNet3D(options: opts, threads: 1, rng: &rng)
        XCTAssertEqual(net.parameterTensors.suffix(4).map(\.name),
                       ["deep_supervision.1.weight", "deep_supervision.1.bias", "deep_supervision.2.weight", "deep_supervision.2.bias"])
        var drng = SplitMix64(seed: 22)
        let x = (0..<(n * v)).map { _ in Float.random(in: -1..<1, using: &drng) }
        let labels = (0..<(n * v)).map { _ in UInt8.random(in: 0..<3, using: &drng) }
        let model = UNetTrainingModel(network: net, loss: DiceCELoss(),
                                      optimizer: .sgd(SGDOptimizer(count: net.parameterCount, learningRate: 0.01, momentum: 0.99, nesterov: true, weightDecay: 0)), threads: 1)
        let batch = TrainingBatch(patchSize: GridShape(d: spatial[0], h: spatial[1], w: spatial[2]), channels: 1, images: x,
                                  labels: labels, caseIndices: [0, 1], origins: [GridPoint(d: 0, h: 0, w: 0), GridPoint(d: 0, h: 0, w: 0)],
                                  forcedForeground: [false, false])
        let perSample = try model.forward(batch)
        try model.backward(sampleWeights: [1, 1])   // unit importance weights; the loss averages over the batch
        let grads = net.arena.gradients.array

        // Reference: labels at level k by coordinates (voxel i·2^k + 2^(k−1) per axis), written
        // independently of DeepSupervision.downsample.
        func levelLabels(_ k: Int) -> [Int32] {
            let s = 1 << k, o = s / 2, d = spatial.map { $0 / s }
            var out: [Int32] = []
            for i in 0..<n { for z in 0..<d[0] { for y in 0..<d[1] { for xx in 0..<d[2] {
                out.append(Int32(labels[i * v + ((z * s + o) * spatial[1] + y * s + o) * spatial[2] + xx * s + o]))
            } } } }
            return out
        }
        let weights = [2.0 / 3, 1.0 / 3, 0]   // nnU-Net v2 for 3 outputs (testWeights)
        let ref = UNetReference(net), xd = x.map(Double.init)
        func loss(_ theta: [Double]) -> Double {
            let outputs = ref.forwardAll(theta, input: xd, batch: n, spatial: spatial)
            return zip(outputs.indices, outputs).reduce(0.0) { sum, item in
                let (k, z) = item
                return sum + weights[k] * UNetReference.loss(z, labels: levelLabels(k), n: n, cl: 3, v: v >> (3 * k))
            }
        }
        let theta = net.arena.values.array.map(Double.init)
        // Forward loss: Float vs Double reference, 1e-4 relative (Float sums over 1024 voxels).
        let refLoss = loss(theta)
        XCTAssertEqual(Double(perSample.reduce(0, +)) / Double(n), refLoss, accuracy: 1e-4 * refLoss)
        var indices: [Int] = []
        for (i, spec) in net.arena.layout.specs.enumerated() {
            let o = net.arena.layout.offsets[i]
            // Every 2nd norm/bias entry and every 7th weight (plus each tensor's first): a sample
            // that touches every tensor while keeping the Double reference's cost low.
            indices += Array(stride(from: o, to: o + spec.count, by: spec.shape.count == 1 ? 2 : 7))
        }
        let fd = finiteDifferences(theta, indices: indices, loss)
        // As UNetTests: errors against 1e-2 of the largest gradient (biases before instance norm
        // have zero gradient); 2e-3 covers Float forward/backward vs Double FD.
        let globalFloor = 1e-2 * fd.values.map(abs).max()!
        var worst = 0.0
        for (i, spec) in net.arena.layout.specs.enumerated() {
            let o = net.arena.layout.offsets[i]
            let sub = fd.filter { $0.key >= o && $0.key < o + spec.count }
            let e = worstRelativeError(analytic: grads, reference: sub, floor: globalFloor)
            worst = max(worst, e)
            XCTAssertLessThan(e, 2e-3, spec.name)
        }
        // The level-1 head is trained (weight 1/3), the lowest one (weight 0) is not.
        let h1 = net.arena.layout.offsets[net.arena.layout.specs.count - 4]
        XCTAssertGreaterThan(abs(fd[h1]!), globalFloor)
        let h2 = net.arena.layout.offsets[net.arena.layout.specs.count - 2]
        XCTAssertEqual(grads[h2], 0)
        report("U-Net deep supervision (\(indices.count) of \(theta.count))", worst)
    }
}
