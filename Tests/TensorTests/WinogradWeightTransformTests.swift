import Common
import XCTest
@testable import Tensor

/// The eight-lane weight transforms against the one-pair-at-a-time transforms they replaced
/// (kept here verbatim as the reference): same Float operations per pair, so the results must
/// be bit-identical, for full and partial blocks of eight pairs, both layouts, any thread count.
final class WinogradWeightTransformTests: XCTestCase {
    private static func g(_ g0: Float, _ g1: Float, _ g2: Float) -> (Float, Float, Float, Float) {
        (g0, 0.5 * (g0 + g1 + g2), 0.5 * (g0 - g1 + g2), g2)
    }

    private static func gt(_ u0: Float, _ u1: Float, _ u2: Float, _ u3: Float) -> (Float, Float, Float) {
        (u0 + 0.5 * (u1 + u2), 0.5 * (u1 - u2), 0.5 * (u1 + u2) + u3)
    }

    /// The previous `WinogradWeightTransforms.transform`, one pair at a time.
    static func referenceTransform(w: [Float], cout: Int, cin: Int, flipTranspose: Bool) -> [Float] {
        let matrix = cout * cin
        var u = [Float](repeating: .nan, count: 64 * matrix)
        var t1 = [Float](repeating: 0, count: 36), t2 = [Float](repeating: 0, count: 48)
        for co in 0..<cout {
            for ci in 0..<cin {
                let base = (co * cin + ci) * 27
                func tap(_ z: Int, _ y: Int, _ x: Int) -> Float {
                    flipTranspose ? w[base + (2 - z) * 9 + (2 - y) * 3 + (2 - x)] : w[base + z * 9 + y * 3 + x]
                }
                for z in 0..<3 {
                    for y in 0..<3 {
                        let r = g(tap(z, y, 0), tap(z, y, 1), tap(z, y, 2))
                        let b = (z * 3 + y) * 4
                        t1[b] = r.0; t1[b + 1] = r.1; t1[b + 2] = r.2; t1[b + 3] = r.3
                    }
                }
                for z in 0..<3 {
                    for xiw in 0..<4 {
                        let r = g(t1[(z * 3) * 4 + xiw], t1[(z * 3 + 1) * 4 + xiw], t1[(z * 3 + 2) * 4 + xiw])
                        t2[z * 16 + xiw] = r.0; t2[z * 16 + 4 + xiw] = r.1
                        t2[z * 16 + 8 + xiw] = r.2; t2[z * 16 + 12 + xiw] = r.3
                    }
                }
                let offset = flipTranspose ? ci * cout + co : co * cin + ci
                for yw in 0..<16 {
                    let r = g(t2[yw], t2[16 + yw], t2[32 + yw])
                    u[yw * matrix + offset] = r.0; u[(16 + yw) * matrix + offset] = r.1
                    u[(32 + yw) * matrix + offset] = r.2; u[(48 + yw) * matrix + offset] = r.3
                }
            }
        }
        return u
    }

    /// The previous `WinogradWeightTransforms.accumulateGradient`, one pair at a time.
    static func referenceGradient(du: [Float], cout: Int, cin: Int, dw: inout [Float]) {
        let matrix = cout * cin
        var t1 = [Float](repeating: 0, count: 48), t2 = [Float](repeating: 0, count: 36)
        for pair in 0..<matrix {
            for yw in 0..<16 {
                let r = gt(du[yw * matrix + pair], du[(16 + yw) * matrix + pair], du[(32 + yw) * matrix + pair],
                           du[(48 + yw) * matrix + pair])
                t1[yw] = r.0; t1[16 + yw] = r.1; t1[32 + yw] = r.2
            }
            for z in 0..<3 {
                for xiw in 0..<4 {
                    let b = z * 16 + xiw
                    let r = gt(t1[b], t1[b + 4], t1[b + 8], t1[b + 12])
                    t2[(z * 3) * 4 + xiw] = r.0; t2[(z * 3 + 1) * 4 + xiw] = r.1; t2[(z * 3 + 2) * 4 + xiw] = r.2
                }
            }
            for z in 0..<3 {
                for y in 0..<3 {
                    let b = (z * 3 + y) * 4
                    let r = gt(t2[b], t2[b + 1], t2[b + 2], t2[b + 3])
                    dw[pair * 27 + z * 9 + y * 3] += r.0; dw[pair * 27 + z * 9 + y * 3 + 1] += r.1
                    dw[pair * 27 + z * 9 + y * 3 + 2] += r.2
                }
            }
        }
    }

    private static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    /// Shapes: fewer pairs than a block (3 × 2), partial last blocks along both layouts (5 × 13,
    /// 13 × 5), whole blocks (16 × 8), and a network-sized 64 × 128.
    static let shapes = [(3, 2), (5, 13), (13, 5), (16, 8), (64, 128)]

    func testTransformIsBitIdenticalToTheOnePairTransform() {
        for (cout, cin) in Self.shapes {
            let w = Self.random(cout * cin * 27, seed: UInt64(cout * 1000 + cin))
            for flip in [false, true] {
                let expected = Self.referenceTransform(w: w, cout: cout, cin: cin, flipTranspose: flip)
                var u = [Float](repeating: .nan, count: 64 * cout * cin)
                w.withUnsafeBufferPointer { wp in
                    u.withUnsafeMutableBufferPointer { up in
                        WinogradWeightTransforms.transform(w: wp.baseAddress!, cout: cout, cin: cin, flipTranspose: flip,
                                                           u: up.baseAddress!)
                    }
                }
                XCTAssertEqual(u.map(\.bitPattern), expected.map(\.bitPattern), "\(cout)×\(cin) flip \(flip)")
            }
        }
    }

    func testGradientIsBitIdenticalToTheOnePairTransform() {
        for (cout, cin) in Self.shapes {
            let du = Self.random(64 * cout * cin, seed: UInt64(cout * 77 + cin))
            let start = Self.random(27 * cout * cin, seed: UInt64(cout + cin * 31))
            var expected = start
            Self.referenceGradient(du: du, cout: cout, cin: cin, dw: &expected)
            var dw = start
            du.withUnsafeBufferPointer { dp in
                dw.withUnsafeMutableBufferPointer { wp in
                    WinogradWeightTransforms.accumulateGradient(du: dp.baseAddress!, cout: cout, cin: cin,
                                                                dw: wp.baseAddress!)
                }
            }
            XCTAssertEqual(dw.map(\.bitPattern), expected.map(\.bitPattern), "\(cout)×\(cin)")
        }
    }
}

/// The workers' weight-gradient partials summed over two threads against the serial loop the
/// Winograd paths ran before (each element added in worker order): bit-identical.
final class WinogradAccumulatorSumTests: XCTestCase {
    func testParallelSumMatchesTheSerialLoop() {
        let count = 70_001, workers = 3   // above the parallel threshold, odd split
        var rng = SplitMix64(seed: 11)
        let parts = (0..<workers).map { _ in (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) } }
        var expected = parts[0]
        for k in 1..<workers { for i in 0..<count { expected[i] += parts[k][i] } }
        let memory = UnsafeMutablePointer<Float>.allocate(capacity: workers * count)
        defer { memory.deallocate() }
        let scratch = (0..<workers).map { k -> WinogradWorkerScratch in
            let p = memory + k * count
            p.update(from: parts[k], count: count)
            return WinogradWorkerScratch(data: p, products: p, lines: p, edge: p, accumulator: p)
        }
        winogradSumAccumulators(scratch, count: count, threads: 2)
        let got = Array(UnsafeBufferPointer(start: memory, count: count))
        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern))
        winogradZeroAccumulators(scratch, count: count)
        XCTAssertTrue(UnsafeBufferPointer(start: memory, count: workers * count).allSatisfy { $0 == 0 })
    }
}
