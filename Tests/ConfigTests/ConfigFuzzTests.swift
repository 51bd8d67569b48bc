import Foundation
import XCTest
@testable import Config
import TestSupport

/// Random YAML mutations of the shipped configs (configs/*.cfg): lines deleted, duplicated and
/// swapped, indentation changed, values swapped between keys, values replaced by huge, negative,
/// non-finite or wrongly typed ones, random bytes and unicode inserted, truncation. Every decode
/// ends in a `ConfigError` whose problems are one line each, naming the file (with the line) or
/// the key — or in a valid config whose resolved YAML decodes to the same config. Never a trap,
/// never a hang: each decode has a time bound (the watchdog aborts with the input printed) and
/// the slowest is reported. ≥ 10⁴ per run, seed printed, `DRO_FUZZ_SEED=N` repeats a run.
final class ConfigFuzzTests: XCTestCase {
    /// Mutations per shipped config; 4 configs → 10 240.
    static let mutationsPerConfig = 2560
    /// Seconds one decode may take before the run is stopped as a hang.
    static let timeBound = 10.0
    /// `--set` values a shipped config needs to decode, as its scripts give them:
    /// experiment.cfg leaves data.dataset to `scripts/experiment.sh`.
    static let overridesFor = ["experiment.cfg": ["data.dataset=/work/experiment-data"]]

    func testMutatedConfigsDecodeOrThrowConfigError() throws {
        let seed = FuzzSeed.make("config mutation fuzz")
        FuzzCrashReport.install()
        FuzzCrashReport.startWatchdog(limit: Self.timeBound)
        var m = FuzzMutator(seed: seed)
        var clock = FuzzClock()
        var tally: [String: Int] = [:]
        let started = Date()
        let folder = repositoryRoot + "/configs"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".cfg") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 4)
        let source = "fuzz.cfg"
        for name in names {
            let original = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            let overrides = Self.overridesFor[name] ?? []
            XCTAssertNoThrow(try decode(original, source, overrides: overrides),
                             "the shipped \(name) must decode (with \(overrides))")
            for i in 0..<Self.mutationsPerConfig {
                // One to three mutations on top of each other.
                var text = original
                var operations: [String] = []
                for _ in 0...m.random(3) {
                    let (operation, mutated) = m.mutateText(text)
                    text = mutated
                    operations.append(operation)
                }
                let label = "seed \(seed) mutation \(i) of \(name) (\(operations.joined(separator: ", ")))"
                FuzzCrashReport.set(label: label, bytes: text)
                clock.start()
                do {
                    let config = try decode(text, source, overrides: overrides)
                    // A valid config's resolved YAML is itself valid and means the same.
                    let again = try decode(Array(config.resolvedYAML().utf8), source)
                    XCTAssertEqual(try again.resolvedYAML(), try config.resolvedYAML(), label)
                    tally["valid", default: 0] += 1
                } catch let error as ConfigError {
                    for problem in error.problems {
                        let line = "\(problem)"
                        let namesOverride = overrides.contains { line.contains("--set \($0)") }
                        if line.contains("\n") || !(line.contains(source) || namesOverride) {
                            XCTFail("problem is not one line naming the file or the --set: \(line)\n"
                                    + FuzzCrashReport.describe(label: label, bytes: text))
                        }
                        tally[String(describing: problem).components(separatedBy: ":").dropFirst(2).first?
                            .trimmingCharacters(in: .whitespaces).prefix(24).description ?? "?", default: 0] += 1
                    }
                    tally["rejected", default: 0] += 1
                } catch {
                    XCTFail("not a ConfigError: \(error)\n" + FuzzCrashReport.describe(label: label, bytes: text))
                }
                clock.stop(label)
            }
        }
        let total = names.count * Self.mutationsPerConfig
        print("config mutation fuzz: seed \(seed), \(total) mutations in "
              + String(format: "%.1f s: ", Date().timeIntervalSince(started))
              + "\(tally["valid"] ?? 0) valid, \(tally["rejected"] ?? 0) rejected; \(clock.summary)")
        XCTAssertGreaterThanOrEqual(total, 10_000)
        XCTAssertEqual((tally["valid"] ?? 0) + (tally["rejected"] ?? 0), total)
        XCTAssertGreaterThan(tally["valid"] ?? 0, total / 50, "seed \(seed): almost nothing decodes: \(tally)")
        XCTAssertGreaterThan(tally["rejected"] ?? 0, total / 4, "seed \(seed): too few mutations rejected")
        XCTAssertLessThan(clock.slowest, Self.timeBound)
    }

    /// Decodes bytes as the CLI does (a file that is not UTF-8 is read with replacement characters).
    func decode(_ bytes: [UInt8], _ source: String, overrides: [String] = []) throws -> Config {
        try Config.decode(yaml: String(decoding: bytes, as: UTF8.self), sourceName: source, baseDirectory: "/work/cfgdir",
                          overrides: overrides, overrideBaseDirectory: "/work/cwd")
    }
}

/// What the config fuzzer found.
final class ConfigFuzzRegressionTests: XCTestCase {
    /// A quoted value spanning lines was quoted verbatim, so the problem took two lines.
    func testAQuotedValueSpanningLinesIsReportedOnOneLine() {
        // In YAML an empty line inside a quoted scalar is a line break of the value.
        let yaml = "training:\n  batch_size: 'epochs: 10\n\n    more'\n"
        XCTAssertThrowsError(try Config.decode(yaml: yaml, sourceName: "q.cfg", baseDirectory: "/work/cfgdir")) { error in
            guard let error = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)") }
            let texts = error.problems.map { "\($0)" }
            XCTAssertFalse(texts.contains { $0.contains("\n") }, "\(texts)")
            XCTAssert(texts.contains { $0.hasPrefix("q.cfg:2: training.batch_size: found 'epochs: 10\\nmore'") }, "\(texts)")
        }
        XCTAssertEqual(ConfigError.oneLine("a\nb\r\tc\u{0}d\u{2028}e"), "a\\nb\\r\\tc\\u{0}d\\u{2028}e")
    }
}
