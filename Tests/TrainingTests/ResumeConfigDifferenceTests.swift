import XCTest
import Config
@testable import Training

/// `--resume` compares the saved resolved configuration with the current one line by line,
/// ignoring `dir:` and the `training.allreduce*` keys (how ranks sum gradients; run folders
/// written before these keys existed lack them).
final class ResumeConfigDifferenceTests: XCTestCase {
    let before = "training:\n  seed: 0\n  val_every: 10\n  loss:\n    dice_smooth: 1.0e-05\noutput:\n  dir: /a\n"
    let now = "training:\n  seed: 0\n  val_every: 10\n  allreduce: bucketed\n  allreduce_bucket_mb: 1\n  allreduce_poll: true\n"
        + "  loss:\n    dice_smooth: 1.0e-05\noutput:\n  dir: /b\n"

    func testAllreduceKeysAndDirAreIgnored() {
        XCTAssertNil(TrainRun.firstDifference(before, now))
        XCTAssertNil(TrainRun.firstDifference(now.replacingOccurrences(of: "bucketed", with: "flat"), now))
    }

    func testOtherKeysStillDiffer() {
        XCTAssertEqual(TrainRun.firstDifference(before, now.replacingOccurrences(of: "seed: 0", with: "seed: 1")),
                       "checkpoint has \"seed: 0\", now \"seed: 1\"")
        // A key of another section that merely starts with "allreduce" is not skipped.
        let nested = now.replacingOccurrences(of: "    dice_smooth", with: "    allreduce_x: 1\n    dice_smooth")
        XCTAssertNotNil(TrainRun.firstDifference(now, nested))
    }
}

/// A run folder written by an older build resumes with today's build: its saved configuration
/// (here demo.cfg as resolved before `training.monitor`/`patience` and the `allreduce` keys
/// existed, the fixture written by that build) is read again with today's defaults.
final class ResumeOlderRunFolderTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func savedByOlderBuild() throws -> String {
        try String(contentsOfFile: root + "/Tests/TrainingTests/Fixtures/resolved-demo-before-monitor.yaml", encoding: .utf8)
            .replacingOccurrences(of: "<ROOT>", with: root)
    }

    func testAddedKeysTakeTheirDefaults() throws {
        let current = try Config.load(path: root + "/configs/demo.cfg").resolvedYAML()
        let saved = try savedByOlderBuild()
        XCTAssertNotNil(TrainRun.firstDifference(saved, current), "the fixture must predate today's keys")
        XCTAssertNil(TrainRun.configurationDifference(saved: saved, current: current, savedIn: "/run/checkpoint_latest.ckpt"))
    }

    func testAValueTheOlderRunSetDifferentlyStillCounts() throws {
        let current = try Config.load(path: root + "/configs/demo.cfg").resolvedYAML()
        let saved = try savedByOlderBuild().replacingOccurrences(of: "  val_every: 5\n", with: "  val_every: 7\n")
        XCTAssertNotNil(TrainRun.configurationDifference(saved: saved, current: current, savedIn: "/run/c.ckpt"))
        // Text this build cannot read at all is reported as the plain line difference.
        XCTAssertNotNil(TrainRun.configurationDifference(saved: "training: [", current: current, savedIn: "/run/c.ckpt"))
    }
}
