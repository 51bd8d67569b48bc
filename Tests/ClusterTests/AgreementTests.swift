// Agreement checks and failure reports as rank 0 of a 3-rank run sees them, with the other
// ranks' contributions scripted (ScriptedRanks); the real MPI path is exercised by
// scripts/interop/test_mpi.py under mpirun.

import XCTest
@testable import Cluster

/// Rank 0 of `size` ranks whose peers contribute scripted data to gathers and sums.
final class ScriptedRanks: Communicator {
    let size: Int
    var rank: Int { 0 }
    var description: String { "scripted" }
    /// Bytes each peer (rank ≥ 1) sends to the next byte gathers, in call order.
    var peerBytes: [[[UInt8]]] = []
    /// Added to a Double allreduce: what the peers' values sum to, in call order.
    var peerSums: [[Double]] = []

    init(size: Int) { self.size = size }

    func barrier() {}
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        let add = peerSums.removeFirst()
        for i in buffer.indices { buffer[i] += add[i] }
    }
    func allgather(_ values: [Double]) -> [[Double]] { Array(repeating: values, count: size) }
    func allgather(bytes: [UInt8]) -> [[UInt8]] { [bytes] + peerBytes.removeFirst() }
    func broadcast(bytes: [UInt8]) -> [UInt8] { bytes }
    func abort(code: Int32) -> Never { fatalError("abort(\(code))") }
    func fail(_ reason: String) -> Never { fatalError(reason) }
    func finish() {}
}

func littleEndianBytes(_ values: [UInt64]) -> [UInt8] {
    values.flatMap { v in (0 ..< 8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
}

final class AgreementTests: XCTestCase {
    /// FNV-1a 64 reference values (Fowler–Noll–Vo test vectors).
    func testStableHashIsFNV1a() {
        for (text, expected) in [("", 0xcbf2_9ce4_8422_2325 as UInt64), ("a", 0xaf63_dc4c_8601_ec8c), ("foobar", 0x8594_4171_f739_67e8)] {
            var h = StableHash()
            h.combine(bytes: text.utf8)
            XCTAssertEqual(h.value, expected, text)
        }
        XCTAssertNotEqual(StableHash.of("ab", "c"), StableHash.of("a", "bc"))
        XCTAssertEqual(StableHash.of("config", "v1"), StableHash.of("config", "v1"))
    }

    func testMatchingRanksPass() throws {
        let ranks = ScriptedRanks(size: 3)
        ranks.peerBytes = [[littleEndianBytes([77]), littleEndianBytes([77])]]
        try ranks.requireAgreement(on: 77, what: "the config hash")
    }

    func testDisagreementNamesTheDifferingRank() {
        let ranks = ScriptedRanks(size: 3)
        ranks.peerBytes = [[littleEndianBytes([0xabc]), littleEndianBytes([0x8000_0000_0000_0000])]]
        XCTAssertThrowsError(try ranks.requireAgreement(on: 0xabc, what: "the config and binary hash")) { error in
            XCTAssertEqual(error as? ClusterError, .disagreement(
                "ranks disagree on the config and binary hash: rank 2 has 0x8000000000000000, rank 0 has 0x0000000000000abc"))
        }
    }

    func testChecksumSumsAndBits() {
        let a: [Float] = [1, 2, 3]
        let c = a.withUnsafeBufferPointer { ParameterChecksum($0) }
        XCTAssertEqual(c.count, 3)
        XCTAssertEqual(c.sum, 6)
        XCTAssertEqual(c.sumOfSquares, 14)
        // One ulp, or the same values in another order, changes the bit hash but not the sum.
        let b: [Float] = [1, 2, Float(3).nextUp]
        let d = b.withUnsafeBufferPointer { ParameterChecksum($0) }
        XCTAssertNotEqual(c.bits, d.bits)
        let swapped: [Float] = [2, 1, 3]
        let e = swapped.withUnsafeBufferPointer { ParameterChecksum($0) }
        XCTAssertEqual(e.sum, c.sum)
        XCTAssertNotEqual(e.bits, c.bits)
    }

    func testParameterDivergenceNamesRanksAndStep() {
        let mine: [Float] = [0.5, -1]
        let peer: [Float] = [0.5, Float(-1).nextUp]
        let me = mine.withUnsafeBufferPointer { ParameterChecksum($0) }
        let other = peer.withUnsafeBufferPointer { ParameterChecksum($0) }
        func encode(_ c: ParameterChecksum) -> [UInt8] {
            littleEndianBytes([UInt64(c.count), c.sum.bitPattern, c.sumOfSquares.bitPattern, c.bits])
        }
        let ranks = ScriptedRanks(size: 3)
        ranks.peerBytes = [[encode(other), encode(me)]]
        XCTAssertThrowsError(try mine.withUnsafeBufferPointer { try ranks.requireIdenticalParameters($0, step: 300) }) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("parameters differ across ranks at step 300: rank 1 (2 values, sum "), message)
            XCTAssertTrue(message.contains("against rank 0 (2 values, sum -0.5, sum of squares 1.25)"), message)
            XCTAssertFalse(message.contains("rank 2"), message)
        }
    }

    /// Rank 0 is fine, rank 2 failed: every rank throws the same error naming rank 2.
    func testCheckReportsAnotherRanksFailure() {
        let ranks = ScriptedRanks(size: 3)
        ranks.peerSums = [[1]]
        ranks.peerBytes = [[Array("0".utf8), Array("1NaN loss on case_007".utf8)]]
        XCTAssertThrowsError(try ranks.check(nil)) { error in
            XCTAssertEqual("\(error)", "rank 2: NaN loss on case_007")
        }
    }

    func testHexIsSixteenDigits() {
        XCTAssertEqual(hex(0), "0x0000000000000000")
        XCTAssertEqual(hex(.max), "0xffffffffffffffff")
    }
}
