import XCTest
import TestSupport

/// The crash report's handler stays installed for the whole test process: what it prints must be
/// the input being read now, never one left over from an earlier input or test (a trap in a
/// later regression test once printed the last config mutation of the config fuzzer).
final class FuzzCrashReportTests: XCTestCase {
    func testTheRecordedInputIsForgottenAfterItsReadAndAtEachTest() {
        FuzzCrashReport.install()
        FuzzCrashReport.set(label: "seed 1 mutation 2 of x", bytes: [1, 2, 3])
        XCTAssertEqual(FuzzCrashReport.recordedLabel, "seed 1 mutation 2 of x")
        FuzzCrashReport.finished()
        XCTAssertEqual(FuzzCrashReport.recordedLabel, "")

        FuzzCrashReport.set(label: "left over", bytes: [4])
        FuzzCrashReport.ResetPerTest().testCaseWillStart(self)
        XCTAssertEqual(FuzzCrashReport.recordedLabel, "")
        FuzzCrashReport.set(label: "left over", bytes: [4])
        FuzzCrashReport.ResetPerTest().testCaseDidFinish(self)
        XCTAssertEqual(FuzzCrashReport.recordedLabel, "")
    }
}
