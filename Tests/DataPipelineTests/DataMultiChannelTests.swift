// Multi-channel cases through the patch pipeline: channels stay aligned.
import Common
import Tensor
import Config
import XCTest
@testable import DataPipeline
import TestSupport

final class DataMultiChannelTests: XCTestCase {
    func testSpatialAugmentationKeepsChannelsAligned() throws {
        // Channel 1 = 2 × channel 0 voxel by voxel. Resampling and mirroring are linear and
        // applied with the same geometry to every channel, so the relation must survive
        // (to Float rounding: 1e-5 relative on values up to ~30).
        var rng = SplitMix64(seed: 12)
        let shape = GridShape(d: 20, h: 22, w: 24)
        let c0 = (0..<shape.count).map { _ in Float(rng.uniform(0, 15)) }
        let label = c0.map { UInt8($0 / 5) }   // 0, 1, 2
        let c = try CaseVolume(id: "two", channels: 2, shape: shape, image: c0 + c0.map { 2 * $0 }, label: label,
                               spacing: Spacing(isotropic: 1))
        var o = AugmentationOptions.none
        o.mirrorEnabled = true
        o.rotation.enabled = true; o.rotation.probability = 1
        o.scaling.enabled = true; o.scaling.probability = 1
        o.elastic.enabled = true; o.elastic.probability = 1
        let builder = try BatchBuilder(patchSize: GridShape(cube: 16), augmentation: o)
        let batch = try builder.makeBatch(cases: [c, c, c], caseIndices: [0, 1, 2], using: &rng)
        let n = 16 * 16 * 16
        XCTAssertEqual(batch.channels, 2)
        XCTAssertEqual(batch.images.count, 3 * 2 * n)
        for b in 0..<3 {
            for i in 0..<n {
                let a = batch.images[(2 * b) * n + i], twice = batch.images[(2 * b + 1) * n + i]
                XCTAssertEqual(twice, 2 * a, accuracy: 1e-4 * max(1, abs(twice)))
            }
            XCTAssertTrue(Set(batch.labels[(b * n)..<((b + 1) * n)]).isSubset(of: [0, 1, 2]))
        }
        // Cases of a batch must agree on the channel count.
        let one = try CaseVolume(id: "one", channels: 1, shape: shape, image: c0, label: label, spacing: Spacing(isotropic: 1))
        XCTAssertThrowsError(try builder.makeBatch(cases: [c, one], caseIndices: [0, 1], using: &rng)) { e in
            XCTAssertEqual("\(e)", "case one channels = 1 is invalid; allowed: 2 like the other cases of the batch")
        }
        XCTAssertThrowsError(try builder.makeBatch(cases: [c], caseIndices: [1], using: &rng)) { e in
            XCTAssertEqual("\(e)", "case index = 1 is invalid; allowed: 0..<1")
        }
    }
}
