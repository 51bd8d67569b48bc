import Foundation
import XCTest
@testable import NIfTI

/// A fresh temporary directory per test case, removed afterwards.
func makeTemporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("nifti-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

class NIfTITestCase: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { directory + "/" + name }

    /// Asserts that `body` throws a NIfTIError whose field is `field` and whose description
    /// names `path`; returns the error for further checks.
    @discardableResult
    func assertNIfTIError(field: String, path: String, file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws -> Void) -> NIfTIError? {
        do {
            try body()
            XCTFail("expected a NIfTIError on \(field)", file: file, line: line)
        } catch let e as NIfTIError {
            XCTAssertEqual(e.field, field, "\(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(path), "\(e)", file: file, line: line)
            return e
        } catch {
            XCTFail("unexpected error \(error)", file: file, line: line)
        }
        return nil
    }
}
