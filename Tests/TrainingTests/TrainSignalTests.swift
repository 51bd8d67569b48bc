import XCTest
#if canImport(Glibc)
import Glibc
@testable import Training
import TestSupport
#endif

final class TrainSignalTests: XCTestCase {
    /// A real SIGTERM sent to this process sets the flag instead of killing the test runner.
    func testSignalSetsTheFlagInsteadOfKilling() throws {
        // A previous run's handler started and stopped first (as when training twice in one
        // process) must not disturb the next one.
        let earlier = SignalStop()
        earlier.start()
        earlier.stop()
        XCTAssertNil(earlier.signal)
        let stop = SignalStop()
        stop.start()
        defer { stop.stop() }
        XCTAssertNil(stop.signal)
        kill(getpid(), SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while stop.signal == nil && Date() < deadline { usleep(1000) }
        XCTAssertEqual(stop.signal, SIGTERM)
        stop.request(SIGINT)
        XCTAssertEqual(stop.signal, SIGTERM, "the first signal is kept")
        kill(getpid(), SIGINT)
        usleep(10_000)
        XCTAssertEqual(stop.signal, SIGTERM, "the first signal is kept")
        stop.stop()
        XCTAssertEqual(stop.signal, SIGTERM, "still readable after stop")

        let next = SignalStop()
        next.start()
        defer { next.stop() }
        XCTAssertNil(next.signal, "a new run starts clean")
        kill(getpid(), SIGINT)
        let again = Date().addingTimeInterval(5)
        while next.signal == nil && Date() < again { usleep(1000) }
        XCTAssertEqual(next.signal, SIGINT)
    }

    func testExitCodesFollowTheShellConvention() {
        XCTAssertEqual(RunError.interrupted(signal: SIGINT, iteration: 3, checkpoint: "c").exitCode, 130)
        XCTAssertEqual(RunError.interrupted(signal: SIGTERM, iteration: 3, checkpoint: "c").exitCode, 143)
        XCTAssertEqual(RunError.nonFiniteLoss(iteration: 3, loss: .nan, cases: [], checkpoint: nil).exitCode, 1)
        XCTAssertEqual("\(RunError.interrupted(signal: SIGINT, iteration: 3, checkpoint: "out/checkpoint_latest.ckpt"))",
                       "stopped by SIGINT after iteration 3; state saved to out/checkpoint_latest.ckpt "
                       + "(continue with --resume)")
    }
}
