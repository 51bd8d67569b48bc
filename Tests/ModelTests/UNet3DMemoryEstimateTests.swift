import Common
import XCTest
@testable import Model
import Tensor

/// `UNet3DActivations.floatCount` (what dro-plan's memory check uses) must equal what the
/// initialiser allocates, for training and inference, on isotropic, anisotropic, deeply
/// supervised and three-conv networks — so a change to the allocations that forgets the count
/// fails here.
final class UNet3DMemoryEstimateTests: XCTestCase {
    func testCountWithoutAllocatingEqualsTheAllocation() throws {
        var deep = UNet3DOptions(inChannels: 2, classes: 3, features: [4, 8, 16])
        deep.deepSupervision = true
        var aniso = UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8, 16])
        aniso.kernelSizes = [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
        aniso.poolStrides = [[2, 2, 1], [2, 2, 2]]
        let cases: [(UNet3DOptions, [Int], Int)] = [
            (UNet3DOptions(inChannels: 1, classes: 2, features: [4]), [4, 6, 8], 1),
            (UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8]), [8, 8, 8], 2),
            (UNet3DOptions(inChannels: 1, classes: 4, features: [2, 4, 8, 16], convsPerLevel: 3), [16, 8, 24], 3),
            (deep, [8, 16, 8], 2),
            (aniso, [4, 8, 8], 2),
        ]
        for (options, spatial, batch) in cases {
            let layout = UNet3DLayout(options)
            for training in [true, false] {
                let allocated = UNet3DActivations(layout: layout, options: options, batch: batch, spatial: spatial,
                                                  training: training).floatCount
                let counted = UNet3DActivations.floatCount(layout: layout, options: options, batch: batch,
                                                           spatial: spatial, training: training)
                XCTAssertEqual(counted, allocated, "\(options.features) \(spatial) batch \(batch) training \(training)")
            }
        }
    }

    /// The estimate must cover what a real training step allocates — activations, the layers'
    /// scratch (im2col columns, Winograd chunks, polyphase phases) and four parameter copies
    /// (parameters, gradients, AdamW's two moments) — without overstating it by more than 25 % plus
    /// the fixed scratch allowance (the tightness at scale: 19.3 GB estimated against 18.4 GB peak
    /// RSS on a 192×192×160 fetal candidate, docs/planning.md).
    /// Run on networks big enough that Winograd F(2,3), F(4,3) and the stride-2 kernels all
    /// allocate their scratch; a scratch buffer that outgrows the 10 % allowance fails here.
    func testEstimateBoundsWhatATrainingStepAllocates() throws {
        let cases: [(UNet3DOptions, [Int], Int)] = [
            (UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8, 16]), [32, 32, 32], 2),
            (UNet3DOptions(inChannels: 2, classes: 3, features: [8, 16, 32, 64]), [32, 32, 32], 1),
            (UNet3DOptions(inChannels: 1, classes: 4, features: [8, 16]), [16, 24, 32], 2),
        ]
        for (options, spatial, batch) in cases {
            var rng = SplitMix64(seed: 7)
            let net = try UNet3D(options: options, threads: 1, rng: &rng)
            let voxels = spatial.reduce(1, *)
            let input = (0..<(batch * options.inChannels * voxels)).map { Float(($0 * 7919) % 13) / 13 - 0.5 }
            let logits = try input.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: batch, spatial: spatial) }
            let dLogits = (0..<(batch * options.classes * voxels)).map { logits[$0] * 1e-3 }
            try dLogits.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
            let allocated = 4 * net.activationFloats + 16 * net.parameterCount
            let estimate = try UNet3D.trainingMemoryEstimate(options: options, batch: batch, spatial: spatial)
            let label = "\(options.features) \(spatial) batch \(batch)"
            XCTAssertGreaterThanOrEqual(estimate, allocated, label)
            XCTAssertLessThanOrEqual(Double(estimate), 1.25 * Double(allocated) + Double(UNet3D.fixedScratchBytes), label)
        }
    }
}
