// Mapping `training.augmentation:` (Config) onto AugmentationOptions.
import Config
import XCTest
@testable import Segmentation

final class AugmentConfigTests: XCTestCase {
    func testDefaultsMapOntoNnUNetDefaults() throws {
        let o = try AugmentationOptions(config: AugmentationConfig(), patchSize: GridShape(cube: 64))
        let d = AugmentationOptions()
        XCTAssertEqual(o.mirrorAxes, [true, true, true])
        XCTAssertEqual(o.mirrorProbabilityPerAxis, 0.5)
        XCTAssertEqual(o.rotation, d.rotation)
        XCTAssertEqual(o.scaling, d.scaling)
        XCTAssertEqual(o.gamma, d.gamma)
        XCTAssertEqual(o.invertedGamma, d.invertedGamma)
        XCTAssertEqual(o.brightness, d.brightness)
        XCTAssertEqual(o.contrast, d.contrast)
        XCTAssertEqual(o.noise, d.noise)
        XCTAssertEqual(o.blur, d.blur)
        XCTAssertEqual(o.lowResolution, d.lowResolution)
        XCTAssertFalse(o.elastic.enabled)
    }

    func testSwitchesAxesAndElasticConversion() throws {
        var c = AugmentationConfig()
        c.flipAxes = [0]                 // x only → our w axis
        c.noise.enabled = false
        c.elastic.enabled = true
        let o = try AugmentationOptions(config: c, patchSize: GridShape(cube: 64))
        XCTAssertEqual(o.mirrorAxes, [false, false, true])
        XCTAssertFalse(o.noise.enabled)
        XCTAssertTrue(o.elastic.enabled)
        // σ 9…13 voxels over a 64 patch → 0.14…0.20 of it (batchgeneratorsv2's default upper
        // bound is 0.2). α = 900, σ = 9: std 900·√(1/3)/(2√π·9)^{3/2} = 2.88 voxels; 360 blobs →
        // peak ≈ √(2 ln 360) = 3.43 std ≈ 9.9 voxels = 0.31 of the half patch.
        XCTAssertEqual(o.elastic.range.lower, 9.0 / 64, accuracy: 1e-12)
        XCTAssertEqual(o.elastic.range.upper, 13.0 / 64, accuracy: 1e-12)
        XCTAssertEqual(o.elasticMagnitude.lower, 0)
        let std = 900 * (1.0 / 3).squareRoot() / pow(2 * Double.pi.squareRoot() * 9, 1.5)
        XCTAssertEqual(std, 2.88, accuracy: 0.01)
        XCTAssertEqual(o.elasticMagnitude.upper, std * (2 * log(262144.0 / 729)).squareRoot() / 32, accuracy: 1e-12)
        var off = AugmentationConfig()
        off.enabled = false
        XCTAssertEqual(try AugmentationOptions(config: off, patchSize: GridShape(cube: 64)), .none)
    }
}
