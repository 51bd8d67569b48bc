import Foundation
import XCTest
@testable import Config

/// The repository root, found from this file's path (Tests/ConfigTests/<file>).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

/// A minimal valid config body (data needs a dataset) with `extra` appended.
func decodeConfig(_ yaml: String, base: String = "/work/cfgdir", overrides: [String] = [],
                  cwd: String = "/work/cwd") throws -> Config {
    try Config.decode(yaml: yaml, sourceName: "test.cfg", baseDirectory: base, overrides: overrides,
                      overrideBaseDirectory: cwd)
}

/// The problems a decode reports (fails the test when it succeeds).
func problems(_ yaml: String, overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> [ConfigError] {
    do {
        _ = try decodeConfig(yaml, overrides: overrides)
        XCTFail("expected the config to be rejected", file: file, line: line)
        return []
    } catch let e as ConfigError {
        return e.problems
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
        return []
    }
}

let minimalData = "data:\n  dataset: data\n"
