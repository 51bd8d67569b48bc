import XCTest
@testable import NIfTI

final class NIfTISmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
