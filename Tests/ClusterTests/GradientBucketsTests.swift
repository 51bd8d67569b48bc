// GradientBuckets: which buckets start their sum when, against the rule written out by hand
// (bucket i = the i-th block of `size` elements from the end of the buffer; it starts once every
// element in it has been reported, and finish() starts the rest in bucket order, then waits).

import XCTest
@testable import Cluster

/// Records what a bucketed sum asks of the communicator; the "sum" over 2 identical ranks doubles.
final class RecordingRanks: Communicator {
    var started: [Range<Int>] = []
    var progressCalls = 0
    var waits = 0
    var base: UnsafeMutablePointer<Float>?
    var rank: Int { 0 }
    var size: Int { 2 }
    var description: String { "recording" }
    func barrier() {}
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) { for i in buffer.indices { buffer[i] *= 2 } }
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) { for i in buffer.indices { buffer[i] *= 2 } }
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        let start = buffer.baseAddress! - base!
        started.append(start ..< start + buffer.count)
        allreduceSum(buffer)
    }
    func progressPending() { progressCalls += 1 }
    func waitPending() { waits += 1 }
    func allgather(_ values: [Double]) -> [[Double]] { [values, values] }
    func allgather(bytes: [UInt8]) -> [[UInt8]] { [bytes, bytes] }
    func broadcast(bytes: [UInt8]) -> [UInt8] { bytes }
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
    func fail(_ reason: String) -> Never { fatalError(reason) }
    func finish() {}
}

final class GradientBucketsTests: XCTestCase {
    func testBucketsAreCutFromTheEnd() {
        let b = GradientBuckets(communicator: RecordingRanks(), count: 10, bucketElements: 4, poll: false)
        XCTAssertEqual(b.buckets, [6 ..< 10, 2 ..< 6, 0 ..< 2])
        XCTAssertEqual(GradientBuckets(communicator: RecordingRanks(), count: 8, bucketElements: 4, poll: false).buckets,
                       [4 ..< 8, 0 ..< 4])
        XCTAssertEqual(GradientBuckets(communicator: RecordingRanks(), count: 3, bucketElements: 100, poll: false).buckets,
                       [0 ..< 3])
    }

    func testABucketStartsWhenItsLastElementIsReported() {
        let ranks = RecordingRanks()
        var values = [Float](repeating: 1, count: 10)
        values.withUnsafeMutableBufferPointer { buffer in
            ranks.base = buffer.baseAddress
            let b = GradientBuckets(communicator: ranks, count: 10, bucketElements: 4, poll: true)
            b.begin(buffer)
            b.ready(8 ..< 10)              // half of bucket 0 (6..<10)
            XCTAssertEqual(ranks.started, [])
            b.ready(5 ..< 8)               // completes bucket 0, starts bucket 1 (2..<6)
            XCTAssertEqual(ranks.started, [6 ..< 10])
            b.ready(0 ..< 5)               // completes buckets 1 and 2 in one report
            XCTAssertEqual(ranks.started, [6 ..< 10, 2 ..< 6, 0 ..< 2])
            XCTAssertEqual(b.startOrder, [0, 1, 2])
            XCTAssertEqual(ranks.progressCalls, 3, "poll: one MPI_Testall per report")
            XCTAssertEqual(ranks.waits, 0)
            b.finish()
            XCTAssertEqual(ranks.waits, 1)
            XCTAssertEqual(ranks.started.count, 3, "finish starts nothing twice")
        }
        XCTAssertEqual(values, [Float](repeating: 2, count: 10), "every element summed exactly once")
    }

    func testFinishStartsWhatWasNotReportedInBucketOrder() {
        let ranks = RecordingRanks()
        var values = [Float](repeating: 1, count: 10)
        values.withUnsafeMutableBufferPointer { buffer in
            ranks.base = buffer.baseAddress
            let b = GradientBuckets(communicator: ranks, count: 10, bucketElements: 4, poll: false)
            for pass in 0 ..< 2 {          // the state resets at each begin
                ranks.started = []
                b.begin(buffer)
                b.ready(2 ..< 6)
                XCTAssertEqual(ranks.started, [2 ..< 6], "pass \(pass)")
                b.finish()
                XCTAssertEqual(ranks.started, [2 ..< 6, 6 ..< 10, 0 ..< 2], "pass \(pass)")
                XCTAssertEqual(b.startOrder, [1, 0, 2])
            }
            XCTAssertEqual(ranks.progressCalls, 0, "no polling when poll is off")
        }
        XCTAssertEqual(values, [Float](repeating: 4, count: 10))
    }
}
