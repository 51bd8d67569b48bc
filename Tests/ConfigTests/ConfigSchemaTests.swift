import Foundation
import XCTest
@testable import Config
import Sampling

/// One schema per section: the docs tables, the resolved YAML and the library's option structs
/// all come from it.
final class ConfigSchemaTests: XCTestCase {
    let fixtures = repositoryRoot + "/Tests/ConfigTests/Fixtures"

    /// docs/config.md's key tables are the schema's. After changing a schema, regenerate them
    /// with `DRO_UPDATE_DOCS=1 swift test --filter ConfigSchemaTests/testDocsTablesAreTheSchemas`.
    func testDocsTablesAreTheSchemas() throws {
        let path = repositoryRoot + "/docs/config.md"
        let document = try String(contentsOfFile: path, encoding: .utf8)
        if ProcessInfo.processInfo.environment["DRO_UPDATE_DOCS"] == "1" {
            try Config.updatingDocsTables(in: document).write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        for name in Config.docsTableNames {
            let open = "<!-- keys: \(name) -->\n", close = "\n<!-- end keys -->"
            guard let start = document.range(of: open),
                  let end = document.range(of: close, range: start.upperBound..<document.endIndex) else {
                XCTFail("docs/config.md has no table marked \(open)"); continue
            }
            let table = try XCTUnwrap(Config.docsTable(name))
            XCTAssertEqual(String(document[start.upperBound..<end.lowerBound]), table,
                           "docs/config.md's \(name) table differs from the schema's; it should read:\n\(table)")
        }
        XCTAssertEqual(Config.updatingDocsTables(in: document), document)
    }

    /// Every shipped config decodes, and its resolved YAML decodes back to an equal Config.
    func testEveryShippedConfigRoundTrips() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/configs")
            .filter { $0.hasSuffix(".cfg") }.sorted()
        XCTAssertTrue(names.contains("experiment.cfg") && names.count >= 4, "\(names)")
        for name in names {
            let path = "\(repositoryRoot)/configs/\(name)"
            // experiment.cfg leaves the dataset to its script's --set.
            let overrides = name == "experiment.cfg" ? ["data.dataset=/data/x"] : []
            let c = try Config.load(path: path, overrides: overrides)
            let yaml = try c.resolvedYAML()
            XCTAssertEqual(try Config.decode(yaml: yaml, sourceName: "resolved.yaml", baseDirectory: "/elsewhere"), c,
                           "\(name):\n\(yaml)")
        }
    }

    /// The resolved YAML is byte for byte what the writer before the schema wrote (fixtures made
    /// with it): `--resume` compares a run folder's saved config with it line by line.
    func testResolvedYAMLIsUnchanged() throws {
        for name in ["fetal", "demo", "bench", "experiment"] {
            let overrides = name == "experiment" ? ["data.dataset=/data/x"] : []
            let c = try Config.load(path: "\(repositoryRoot)/configs/\(name).cfg", overrides: overrides)
            let expected = try String(contentsOfFile: "\(fixtures)/resolved-\(name).yaml", encoding: .utf8)
                .replacingOccurrences(of: "<ROOT>", with: repositoryRoot)
            try XCTAssertEqual(c.resolvedYAML(), expected, name)
        }
        // Non-default values of every kind (see rich.cfg).
        let c = try Config.load(path: "\(fixtures)/rich.cfg")
        let expected = try String(contentsOfFile: "\(fixtures)/resolved-rich.yaml", encoding: .utf8)
            .replacingOccurrences(of: "<BASE>", with: fixtures)
        try XCTAssertEqual(c.resolvedYAML(), expected)
        XCTAssertEqual(try Config.decode(yaml: expected, sourceName: "r.yaml", baseDirectory: "/"), c)
    }

    /// `sampler:` decodes straight into the Sampling module's options (defaults are its own).
    func testSamplerDecodesIntoHardnessSamplerOptions() throws {
        XCTAssertEqual(try decodeConfig(minimalData).sampler.hardness, HardnessSamplerOptions())
        let c = try decodeConfig(minimalData + """
        sampler: {beta: 5, momentum: 0.5, init_loss: 1, importance_sampling: true, clip: [0.5, 2], floor: false, unit: patch}
        """)
        XCTAssertEqual(c.sampler.hardness, HardnessSamplerOptions(beta: 5, momentum: 0.5, initLoss: 1, importanceSampling: true,
                                                                  clip: ClipRange(lower: 0.5, upper: 2), floor: 0))
        XCTAssertEqual(c.sampler.unit, .patch)
        XCTAssertNoThrow(try c.sampler.hardness.validate())
    }

    /// Cross-key rules fail at load time naming both keys.
    func testBatchDiceWithImportanceWeightsIsRefusedAtLoad() throws {
        let p = problems(minimalData + "sampler:\n  importance_sampling: true\ntraining:\n  loss:\n    batch_dice: true\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:7: training.loss.batch_dice: true together with sampler.importance_sampling: true; allowed: batch_dice false when importance sampling is on (batch Dice does not split into per-sample losses to weight)",
        ])
        let set = problems(minimalData, overrides: ["sampler.importance_sampling=true", "training.loss.batch_dice=true"])
        XCTAssertEqual(set.count, 1)
        XCTAssertTrue(set[0].description.hasPrefix("--set training.loss.batch_dice=true: training.loss.batch_dice: "), "\(set)")
        // The uniform sampler's weights are all 1: batch Dice is fine with it.
        XCTAssertNoThrow(try decodeConfig(minimalData + "sampler: {kind: uniform, importance_sampling: true}\ntraining: {loss: {batch_dice: true}}\n"))
    }
}
