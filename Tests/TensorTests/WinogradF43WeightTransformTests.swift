import Common
import XCTest
@testable import Tensor

/// The previous one-pair-at-a-time F(4,3) weight transforms, verbatim, as the reference for the
/// eight-lane ones (`WinogradF43.transformWeights`, `accumulateWeightGradient`).
enum F43WeightReference {
    // (in Double, rounded once)

    /// G (6×3) applied to (g0, g1, g2): Lavin & Gray F(4,3).
    @inline(__always)
    static func gApply(_ g0: Double, _ g1: Double, _ g2: Double) -> (Double, Double, Double, Double, Double, Double) {
        let a = g0 + g2
        return (g0 / 4, -(a + g1) / 6, -(a - g1) / 6, g0 / 24 + g1 / 12 + g2 / 6, g0 / 24 - g1 / 12 + g2 / 6, g2)
    }

    /// Gᵀ (3×6) applied to m.
    @inline(__always)
    static func gtApply(_ m: UnsafePointer<Double>, _ s: Int) -> (Double, Double, Double) {
        let (m0, m1, m2, m3, m4, m5) = (m[0], m[s], m[2 * s], m[3 * s], m[4 * s], m[5 * s])
        return (m0 / 4 - (m1 + m2) / 6 + (m3 + m4) / 24, (m2 - m1) / 6 + (m3 - m4) / 12, (m3 + m4 - m1 - m2) / 6 + m5)
    }

    /// u[ξ][co][ci] = (G w[co, ci] Gᵀ)_ξ per axis; with `flipTranspose` the kernel flipped in space
    /// and laid out u[ξ][ci][co] (the input gradient's forward).
    static func transformWeights(_ w: UnsafePointer<Float>, cout: Int, cin: Int, flipTranspose: Bool,
                                 u: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        Parallel.forEach(count: matrix, threads: matrix >= 256 ? Parallel.defaultThreads : 1) { pair in
            let co = pair / cin, ci = pair % cin
            let k = w + pair * 27
            let index = flipTranspose ? ci * cout + co : co * cin + ci
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 54 + 108) { buffer in
                let a = buffer.baseAddress!, b = a + 54   // a[(kd·3 + kh)·6 + ξw], b[(kd·6 + ξh)·6 + ξw]
                @inline(__always) func tap(_ i: Int) -> Double { Double(flipTranspose ? k[26 - i] : k[i]) }
                for line in 0..<9 {
                    let r = gApply(tap(3 * line), tap(3 * line + 1), tap(3 * line + 2))
                    let o = a + line * 6
                    o[0] = r.0; o[1] = r.1; o[2] = r.2; o[3] = r.3; o[4] = r.4; o[5] = r.5
                }
                for kd in 0..<3 {
                    for xw in 0..<6 {
                        let p = a + kd * 18 + xw
                        let r = gApply(p[0], p[6], p[12])
                        let o = b + kd * 36 + xw
                        o[0] = r.0; o[6] = r.1; o[12] = r.2; o[18] = r.3; o[24] = r.4; o[30] = r.5
                    }
                }
                for hw in 0..<36 {
                    let r = gApply(b[hw], b[36 + hw], b[72 + hw])
                    let o = u + hw * matrix + index, s = 36 * matrix
                    o[0] = Float(r.0); o[s] = Float(r.1); o[2 * s] = Float(r.2)
                    o[3 * s] = Float(r.3); o[4 * s] = Float(r.4); o[5 * s] = Float(r.5)
                }
            }
        }
    }

    /// dw[co, ci] += Gᵀ dU[ξ][co][ci] G per axis.
    static func accumulateWeightGradient(du: UnsafePointer<Float>, cout: Int, cin: Int,
                                         dw: UnsafeMutablePointer<Float>) {
        let matrix = cout * cin
        Parallel.forEach(count: matrix, threads: matrix >= 256 ? Parallel.defaultThreads : 1) { pair in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: 216 + 108 + 54) { buffer in
                let t = buffer.baseAddress!, b = t + 216, a = b + 108  // t[ξ], b[kd][ξh][ξw], a[kd][kh][ξw]
                for xi in 0..<216 { t[xi] = Double(du[xi * matrix + pair]) }
                for hw in 0..<36 {
                    let r = gtApply(t + hw, 36)
                    b[hw] = r.0; b[36 + hw] = r.1; b[72 + hw] = r.2
                }
                for kd in 0..<3 {
                    for xw in 0..<6 {
                        let r = gtApply(b + kd * 36 + xw, 6)
                        let o = a + kd * 18 + xw
                        o[0] = r.0; o[6] = r.1; o[12] = r.2
                    }
                }
                for line in 0..<9 {
                    let r = gtApply(a + line * 6, 1)
                    dw[pair * 27 + 3 * line] += Float(r.0)
                    dw[pair * 27 + 3 * line + 1] += Float(r.1)
                    dw[pair * 27 + 3 * line + 2] += Float(r.2)
                }
            }
        }
    }
}

/// Eight-lane F(4,3) weight transforms against the one-pair transforms they replaced: the same
/// Double operations per pair, so bit-identical, for full and partial blocks, both layouts.
final class WinogradF43WeightTransformTests: XCTestCase {
    static let shapes = [(3, 2), (5, 13), (13, 5), (16, 8), (64, 128)]

    private static func random(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    func testTransformIsBitIdenticalToTheOnePairTransform() {
        for (cout, cin) in Self.shapes {
            let w = Self.random(cout * cin * 27, seed: UInt64(cout * 1000 + cin))
            for flip in [false, true] {
                var expected = [Float](repeating: .nan, count: 216 * cout * cin)
                var u = expected
                w.withUnsafeBufferPointer { wp in
                    expected.withUnsafeMutableBufferPointer {
                        F43WeightReference.transformWeights(wp.baseAddress!, cout: cout, cin: cin, flipTranspose: flip,
                                                            u: $0.baseAddress!)
                    }
                    u.withUnsafeMutableBufferPointer {
                        WinogradF43.transformWeights(wp.baseAddress!, cout: cout, cin: cin, flipTranspose: flip,
                                                     u: $0.baseAddress!)
                    }
                }
                XCTAssertEqual(u.map(\.bitPattern), expected.map(\.bitPattern), "\(cout)×\(cin) flip \(flip)")
            }
        }
    }

    func testGradientIsBitIdenticalToTheOnePairTransform() {
        for (cout, cin) in Self.shapes {
            let du = Self.random(216 * cout * cin, seed: UInt64(cout * 77 + cin))
            var expected = Self.random(27 * cout * cin, seed: UInt64(cout + cin * 31))
            var dw = expected
            du.withUnsafeBufferPointer { dp in
                expected.withUnsafeMutableBufferPointer {
                    F43WeightReference.accumulateWeightGradient(du: dp.baseAddress!, cout: cout, cin: cin, dw: $0.baseAddress!)
                }
                dw.withUnsafeMutableBufferPointer {
                    WinogradF43.accumulateWeightGradient(du: dp.baseAddress!, cout: cout, cin: cin, dw: $0.baseAddress!)
                }
            }
            XCTAssertEqual(dw.map(\.bitPattern), expected.map(\.bitPattern), "\(cout)×\(cin)")
        }
    }
}
