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

    /// The estimate in bytes: 4 bytes per activation Float + 10 %, plus 4 copies of the parameters.
    func testEstimateIsActivationsPlusParameterCopies() throws {
        let options = UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8])
        var rng = SplitMix64(seed: 1)
        let parameters = try UNet3D(options: options, rng: &rng).parameterCount
        let floats = UNet3DActivations(layout: UNet3DLayout(options), options: options, batch: 2, spatial: [8, 8, 8],
                                       training: true).floatCount
        XCTAssertEqual(try UNet3D.trainingMemoryEstimate(options: options, batch: 2, spatial: [8, 8, 8]),
                       Int(Double(4 * floats) * 1.1) + 16 * parameters)
    }
}
