import Common
import XCTest
import Tensor
@testable import Model
import TestSupport

/// `UNet3D.gradientsReady`: data-parallel training starts summing a bucket of the gradient arena
/// as soon as every element in it has been reported. So each report must (1) cover elements
/// whose gradient is already final — checked by copying the reported range at report time and
/// comparing it with the arena after backward, bit for bit — and (2) together the reports must
/// cover the whole arena exactly once.
final class UNetGradientsReadyTests: XCTestCase {
    func testReportedRangesAreFinalAndCoverTheArenaOnce() throws {
        var deep = UNet3DOptions(inChannels: 1, classes: 3, features: [2, 3, 4], convsPerLevel: 2)
        deep.deepSupervision = true
        for (opts, spatial) in [(UNet3DOptions(inChannels: 2, classes: 3, features: [3, 4]), [8, 6, 10]),
                                (deep, [8, 8, 8])] {
            var rng = SplitMix64(seed: 5)
            let net = try UNet3D(options: opts, threads: 2, rng: &rng)
            let n = 2, v = spatial.reduce(1, *)
            var xr = SplitMix64(seed: 6)
            let x = (0..<(n * opts.inChannels * v)).map { _ in Float.random(in: -1..<1, using: &xr) }
            _ = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: spatial) }
            let dLogits = (0..<(n * opts.classes * v)).map { _ in Float.random(in: -1..<1, using: &xr) }
            let auxCounts = net.auxiliaryLogits.indices.map { k in
                n * opts.classes * opts.levelSpatial(spatial, k + 1).reduce(1, *)
            }
            let aux = auxCounts.map { c in (0..<c).map { _ in Float.random(in: -1..<1, using: &xr) } }
            XCTAssertEqual(aux.isEmpty, !opts.deepSupervision)

            // Gradients from an earlier pass, so a range reported before it is written would differ.
            net.arena.gradients.pointer.update(repeating: .nan, count: net.parameterCount)
            var reports: [(range: Range<Int>, values: [Float])] = []
            let g = net.arena.gradients.pointer
            net.gradientsReady = { range in reports.append((range, Array(UnsafeBufferPointer(start: g + range.lowerBound, count: range.count)))) }
            try dLogits.withUnsafeBufferPointer { d in
                try withPointers(aux) { try net.backward(d.baseAddress!, auxiliary: $0) }
            }
            net.gradientsReady = nil

            var covered = [Int](repeating: 0, count: net.parameterCount)
            for (range, values) in reports {
                for i in range { covered[i] += 1 }
                let final = Array(UnsafeBufferPointer(start: g + range.lowerBound, count: range.count))
                XCTAssertEqual(values.map(\.bitPattern), final.map(\.bitPattern), "range \(range) changed after it was reported")
                XCTAssertFalse(values.contains { $0.isNaN }, "range \(range) reported before it was written")
            }
            XCTAssertEqual(covered.firstIndex { $0 != 1 }, nil, "every gradient element reported exactly once")
            // Backward runs from the head to the first layer: the main head comes first, the first
            // encoder block (start of the arena) last.
            XCTAssertEqual(reports.last?.range.lowerBound, 0)
            XCTAssertEqual(reports.first?.range, net.arena.layout.offsets[layout(net).head.weight]
                ..< net.arena.layout.offsets[layout(net).head.bias] + opts.classes)
        }
    }

    func layout(_ net: UNet3D) -> UNet3DLayout { net.layout }

    func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) throws -> R) rethrows -> R {
        // The arrays live until the end of this call; their storage does not move.
        var pointers: [UnsafePointer<Float>] = []
        var keep: [UnsafeMutableBufferPointer<Float>] = []
        defer { keep.forEach { $0.deallocate() } }
        for a in arrays {
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: a.count)
            _ = p.initialize(from: a)
            keep.append(p)
            pointers.append(UnsafePointer(p.baseAddress!))
        }
        return try body(pointers)
    }
}
