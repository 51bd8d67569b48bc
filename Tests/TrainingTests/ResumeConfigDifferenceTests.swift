import XCTest
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
