import XCTest
@testable import Config

final class ConfigSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
