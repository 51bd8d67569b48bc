import XCTest
@testable import Training
import TestSupport

final class ProgressFormatTests: XCTestCase {
    func state(iteration: Int = 250, rate: Double? = 2) -> ProgressState {
        ProgressState(iteration: iteration, totalIterations: 1000, epoch: 3, totalEpochs: 10, loss: 0.123456,
                      learningRate: 0.0095, iterationsPerSecond: rate)
    }

    func testDuration() {
        XCTAssertEqual(ProgressFormat.duration(0), "00:00")
        XCTAssertEqual(ProgressFormat.duration(59.4), "00:59")
        XCTAssertEqual(ProgressFormat.duration(59.6), "01:00")
        XCTAssertEqual(ProgressFormat.duration(3599), "59:59")
        XCTAssertEqual(ProgressFormat.duration(3600 + 62), "1:01:02")
        XCTAssertEqual(ProgressFormat.duration(100 * 3600), "100:00:00")
        XCTAssertEqual(ProgressFormat.duration(nil), "--:--")
        XCTAssertEqual(ProgressFormat.duration(.infinity), "--:--")
        XCTAssertEqual(ProgressFormat.duration(-1), "--:--")
    }

    func testRateSwitchesToSecondsPerIterationBelowOne() {
        XCTAssertEqual(ProgressFormat.rate(2.5), "2.50 it/s")
        XCTAssertEqual(ProgressFormat.rate(1), "1.00 it/s")
        XCTAssertEqual(ProgressFormat.rate(0.25), "4.00 s/it")
        XCTAssertEqual(ProgressFormat.rate(nil), "-- it/s")
        XCTAssertEqual(ProgressFormat.rate(0), "-- it/s")
    }

    func testBar() {
        XCTAssertEqual(ProgressFormat.bar(0, width: 4), "[----]")
        XCTAssertEqual(ProgressFormat.bar(0.5, width: 4), "[##--]")
        XCTAssertEqual(ProgressFormat.bar(0.74, width: 4), "[##--]")
        XCTAssertEqual(ProgressFormat.bar(1, width: 4), "[####]")
        XCTAssertEqual(ProgressFormat.bar(7, width: 4), "[####]")
        XCTAssertEqual(ProgressFormat.bar(.nan, width: 4), "[----]")
    }

    /// 750 iterations left at 2 it/s = 375 s = 06:15.
    func testLines() {
        XCTAssertEqual(ProgressFormat.barLine(state()),
                       "epoch 3/10 [######------------------] 250/1000 loss 0.1235 lr 0.0095 2.00 it/s ETA 06:15")
        XCTAssertEqual(ProgressFormat.plainLine(state(rate: 0.5)),
                       "epoch 3/10 iteration 250/1000 loss 0.1235 lr 0.0095 2.00 s/it ETA 25:00")
        XCTAssertEqual(ProgressFormat.plainLine(state(rate: nil)),
                       "epoch 3/10 iteration 250/1000 loss 0.1235 lr 0.0095 -- it/s ETA --:--")
    }

    func capture(_ mode: ProgressReporter.Mode) -> (ProgressReporter, () -> [String]) {
        var output: [String] = []
        let reporter = ProgressReporter(mode: mode) { output.append($0) }
        return (reporter, { output })
    }

    /// The bar is redrawn at most every 0.2 s, with "\r", padded over a longer previous line.
    func testBarIsRateLimitedAndRedrawnInPlace() {
        let (reporter, output) = capture(.bar)
        reporter.update(state(iteration: 1), now: 10.0)
        reporter.update(state(iteration: 2), now: 10.1)
        reporter.update(state(iteration: 3), now: 10.25)
        reporter.update(state(iteration: 4), now: 10.3, force: true)
        XCTAssertEqual(output().count, 3)
        XCTAssertTrue(output().allSatisfy { $0.hasPrefix("\r") && !$0.contains("\n") })
        XCTAssertTrue(output()[1].contains(" 3/1000 "))
        reporter.message("validation: mean Dice 0.5")
        XCTAssertEqual(output().suffix(2), ["\n", "validation: mean Dice 0.5\n"])
        reporter.endBar()
        XCTAssertEqual(output().count, 5, "no second newline when the bar is not shown")
    }

    func testPlainLinesArePeriodic() {
        let (reporter, output) = capture(.lines)
        reporter.update(state(iteration: 1), now: 0)
        reporter.update(state(iteration: 2), now: 29)
        reporter.update(state(iteration: 3), now: 31)
        XCTAssertEqual(output().count, 2)
        XCTAssertTrue(output().allSatisfy { $0.hasPrefix("epoch 3/10 iteration ") && $0.hasSuffix("\n") })
    }

    func testQuietShowsNothing() {
        let (reporter, output) = capture(.quiet)
        reporter.update(state(), now: 0, force: true)
        reporter.message("saved")
        reporter.endBar()
        XCTAssertEqual(output(), [])
        XCTAssertEqual(ProgressReporter.automaticMode(quiet: true), .quiet)
    }
}
