import XCTest
@testable import Config

/// `training.augmentation` decodes straight into the data pipeline's `AugmentationOptions`:
/// every key must reach its option, with the config's axis order and the bounds the pipeline
/// validates with.
final class ConfigAugmentationTests: XCTestCase {
    func testAbsentSectionIsThePipelineDefaults() throws {
        XCTAssertEqual(try decodeConfig(minimalData).training.augmentation, AugmentationOptions())
    }

    func testEveryKeyIsCarried() throws {
        let o = try Config.decode(yaml: """
        data: {dataset: d}
        training:
          augmentation:
            label_interpolation: nearest
            flip: {probability: 0.25, axes: [0]}
            rotation: {enabled: false, probability: 0.3, range: [-10, 20]}
            scaling: {probability: 0.4, range: [0.9, 1.1]}
            elastic: {enabled: true, probability: 0.5, range: [0.1, 0.3], magnitude: [0.05, 0.15]}
            gamma: {probability: 0.6, range: [0.8, 1.2], inverted_probability: 0.7}
            brightness: {probability: 0.11, range: [0.9, 1.3]}
            contrast: {probability: 0.12, range: [0.6, 1.4]}
            noise: {probability: 0.13, range: [0, 0.2]}
            blur: {probability: 0.14, range: [0.3, 1.5], probability_per_channel: 0.9}
        """, sourceName: "t.cfg", baseDirectory: "/").training.augmentation
        XCTAssertNoThrow(try o.validate())
        XCTAssertEqual(o.labelInterpolation, .nearest)
        XCTAssertTrue(o.mirrorEnabled)
        XCTAssertEqual(o.mirrorAxes, [false, false, true], "config x (0) is the tensor's w axis (last)")
        XCTAssertEqual(o.mirrorProbabilityPerAxis, 0.25)
        XCTAssertEqual(o.rotation, RandomTransformOptions(enabled: false, probability: 0.3, range: ParameterRange(-10, 20)))
        XCTAssertEqual(o.scaling, RandomTransformOptions(probability: 0.4, range: ParameterRange(0.9, 1.1)))
        XCTAssertEqual(o.elastic, RandomTransformOptions(probability: 0.5, range: ParameterRange(0.1, 0.3)))
        XCTAssertEqual(o.elasticMagnitude, ParameterRange(0.05, 0.15))
        XCTAssertEqual(o.gamma, RandomTransformOptions(probability: 0.6, range: ParameterRange(0.8, 1.2)))
        XCTAssertEqual(o.invertedGamma, RandomTransformOptions(probability: 0.7, range: ParameterRange(0.8, 1.2)))
        XCTAssertEqual(o.brightness, RandomTransformOptions(probability: 0.11, range: ParameterRange(0.9, 1.3)))
        XCTAssertEqual(o.contrast, RandomTransformOptions(probability: 0.12, range: ParameterRange(0.6, 1.4)))
        XCTAssertEqual(o.noise, RandomTransformOptions(probability: 0.13, range: ParameterRange(0, 0.2)))
        XCTAssertEqual(o.blur, RandomTransformOptions(probability: 0.14, range: ParameterRange(0.3, 1.5)))
        XCTAssertEqual(o.blurProbabilityPerChannel, 0.9)
    }

    func testInvertedGammaFollowsGamma() throws {
        let off = try decodeConfig(minimalData + "training:\n  augmentation: {gamma: {inverted_probability: 0}}\n")
        XCTAssertFalse(off.training.augmentation.invertedGamma.enabled)
        let gammaOff = try decodeConfig(minimalData + "training:\n  augmentation: {gamma: {enabled: false}}\n")
        XCTAssertFalse(gammaOff.training.augmentation.invertedGamma.enabled)
    }

    func testMasterSwitchTurnsEverythingOff() throws {
        let c = try decodeConfig(minimalData + "training:\n  augmentation: {enabled: false}\n")
        XCTAssertFalse(c.training.augmentation.enabled)
        XCTAssertEqual(c.training.augmentation.effective, AugmentationOptions.none)
        XCTAssertEqual(AugmentationOptions().effective, AugmentationOptions())
    }

    /// The config reader and `validate()` use one bounds table.
    func testReaderAndValidationShareTheBounds() throws {
        for (key, bound) in AugmentationOptions.bounds where key != "elastic_magnitude" && key != "low_resolution"
            && key != "inverted_gamma" {
            let inside = "training:\n  augmentation: {\(key): {range: [\(bound.range.lowerBound), \(bound.range.upperBound)]}}\n"
            XCTAssertNoThrow(try decodeConfig(minimalData + inside), key)
            let outside = "training:\n  augmentation: {\(key): {range: [\(bound.range.lowerBound), \(bound.range.upperBound + 1)]}}\n"
            XCTAssertEqual(problems(minimalData + outside).count, 1, key)
        }
    }
}
