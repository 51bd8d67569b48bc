// SingleProcess: the communicator of every run not started by mpirun/srun. Every collective is
// the identity over one rank, and failures reported through `check` come back as RankFailure
// naming rank 0, as they would from rank 0 of an MPI run.

import XCTest
@testable import Cluster

final class SingleProcessTests: XCTestCase {
    let single = SingleProcess()

    func testOneRankNumberedZero() {
        XCTAssertEqual(single.rank, 0)
        XCTAssertEqual(single.size, 1)
        XCTAssertTrue(single.isRoot)
        XCTAssertEqual(single.description, "single process")
    }

    func testAllreduceSumLeavesValuesUnchanged() {
        let original: [Float] = [1.5, -2.25, .greatestFiniteMagnitude, 0, -0.0, 3e-38]
        var floats = original
        single.allreduceSum(&floats)
        XCTAssertEqual(floats.map(\.bitPattern), original.map(\.bitPattern))

        var doubles: [Double] = [1e300, -1, 0.1]
        single.allreduceSum(&doubles)
        XCTAssertEqual(doubles, [1e300, -1, 0.1])

        var empty: [Float] = []
        single.allreduceSum(&empty)
        XCTAssertEqual(empty, [])
    }

    func testGathersAndBroadcastReturnThisRanksData() {
        XCTAssertEqual(single.allgather([1.0, 2.0, 3.0]), [[1.0, 2.0, 3.0]])
        XCTAssertEqual(single.allgather(bytes: [0, 255, 7]), [[0, 255, 7]])
        XCTAssertEqual(single.allgather("größe ✓"), ["größe ✓"])
        XCTAssertEqual(single.broadcast(bytes: [9, 8]), [9, 8])
        XCTAssertEqual(single.broadcast("config: a"), "config: a")
    }

    /// The 64-bit gather goes through bytes: every bit, including the top one, must survive.
    func testUInt64GatherIsBitExact() {
        let values: [UInt64] = [0, 1, 0x8000_0000_0000_0001, .max, 0x0123_4567_89ab_cdef]
        XCTAssertEqual(single.allgather(values), [values])
    }

    func testCheckPassesWithoutFailure() throws {
        try single.check(nil)
    }

    func testCheckThrowsTheFailureNamingRankZero() {
        XCTAssertThrowsError(try single.check("cannot read case_003.nii.gz: truncated")) { error in
            XCTAssertEqual(error as? RankFailure,
                           RankFailure(failures: [(0, "cannot read case_003.nii.gz: truncated")]))
            XCTAssertEqual("\(error)", "rank 0: cannot read case_003.nii.gz: truncated")
            XCTAssertTrue(error is CollectiveError)
        }
    }

    func testEmptyReasonStillFails() {
        XCTAssertThrowsError(try single.check("")) { error in
            XCTAssertEqual("\(error)", "rank 0: failed (no reason given)")
        }
    }

    func testAgreementHoldsOnOneRank() throws {
        try single.requireAgreement(on: 42, what: "the config hash")
        let parameters: [Float] = [1, 2, 3]
        try parameters.withUnsafeBufferPointer { try single.requireIdenticalParameters($0, step: 5) }
    }
}
