import Config
import XCTest
@testable import DataPipeline

/// `training.augmentation.enabled: false` reaches the pipeline as the options' master switch:
/// the augmenter then applies nothing, whatever the transforms' own settings.
final class AugmentMasterSwitchTests: XCTestCase {
    func testMasterSwitchOffAppliesNothing() throws {
        var o = AugmentationOptions()
        o.enabled = false
        XCTAssertEqual(try Augmenter(options: o, patchSize: GridShape(cube: 8)).options, AugmentationOptions.none)
        XCTAssertEqual(try Augmenter(options: AugmentationOptions(), patchSize: GridShape(cube: 8)).options,
                       AugmentationOptions())
    }
}
