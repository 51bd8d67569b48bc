import XCTest
@testable import Segmentation

final class SegmentationSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
