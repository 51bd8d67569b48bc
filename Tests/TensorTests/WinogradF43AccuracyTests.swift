import XCTest
@testable import Tensor

/// Float error of Winograd F(4,3) (6³ input tiles, 4³ outputs) against F(2,3) (4³ / 2³, the kernel
/// the U-Net runs), both emulated tile by tile in Float with the standard Lavin–Gray matrices
/// (interpolation points 0, ±1, ±2 for F(4,3); 0, ±1 for F(2,3)), against the direct convolution in
/// Double. Only the forward (the input gradient is the same transform on flipped weights).
/// A measurement for choosing per layer (docs/performance.md), bounded loosely: F(2,3) must stay
/// ≤ 1e-5 (the real kernel measures ≤ 1e-6 in ConvAccuracyTests), F(4,3) is only printed.
final class WinogradF43AccuracyTests: XCTestCase {
    struct Transform { let bt: [[Double]]; let g: [[Double]]; let at: [[Double]] }

    static let f23 = Transform(
        bt: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
        g: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
        at: [[1, 1, 1, 0], [0, 1, -1, -1]])
    static let f43 = Transform(
        bt: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
             [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
        g: [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
            [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]],
        at: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]])

    /// out = M ⊗ M ⊗ M applied to a cube of side n (M: m×n), in Float.
    static func apply3(_ m: [[Double]], _ x: [Float], _ n: Int) -> [Float] {
        let r = m.count
        let mf = m.map { $0.map(Float.init) }
        var a = [Float](repeating: 0, count: r * n * n)   // along axis 0
        for i in 0..<r { for j in 0..<n { for k in 0..<n {
            var s: Float = 0; for t in 0..<n { s += mf[i][t] * x[(t * n + j) * n + k] }; a[(i * n + j) * n + k] = s } } }
        var b = [Float](repeating: 0, count: r * r * n)
        for i in 0..<r { for j in 0..<r { for k in 0..<n {
            var s: Float = 0; for t in 0..<n { s += mf[j][t] * a[(i * n + t) * n + k] }; b[(i * r + j) * n + k] = s } } }
        var c = [Float](repeating: 0, count: r * r * r)
        for i in 0..<r { for j in 0..<r { for k in 0..<r {
            var s: Float = 0; for t in 0..<n { s += mf[k][t] * b[(i * r + j) * n + t] }; c[(i * r + j) * r + k] = s } } }
        return c
    }

    /// Worst |y − ref| / max |ref| over `tiles` random tiles, Cout = 2, for Cin channels.
    static func error(_ tr: Transform, cin: Int, tiles: Int, seed: UInt64) -> Double {
        let a = tr.bt.count, m = tr.at.count   // input tile side, output tile side
        var worst = 0.0, scale = 0.0
        let wScale = (3.0 / Double(27 * cin)).squareRoot()
        for t in 0..<tiles {
            let x = randomDoubles(cin * a * a * a, seed: seed &+ UInt64(t))
            let xf = floats(x)
            for co in 0..<2 {
                let w = randomDoubles(cin * 27, seed: seed &+ 1000 &+ UInt64(t * 2 + co), scale: wScale)
                let wf = floats(w)
                var acc = [Float](repeating: 0, count: a * a * a)
                var ref = [Double](repeating: 0, count: m * m * m)
                for ci in 0..<cin {
                    let u = apply3(tr.g, Array(wf[(ci * 27)..<(ci * 27 + 27)]), 3)
                    let v = apply3(tr.bt, Array(xf[(ci * a * a * a)..<((ci + 1) * a * a * a)]), a)
                    for i in acc.indices { acc[i] += u[i] * v[i] }
                    for od in 0..<m { for oh in 0..<m { for ow in 0..<m {
                        var s = 0.0
                        for kd in 0..<3 { for kh in 0..<3 { for kw in 0..<3 {
                            s += Double(wf[ci * 27 + (kd * 3 + kh) * 3 + kw])
                                * Double(xf[ci * a * a * a + ((od + kd) * a + oh + kh) * a + ow + kw])
                        }}}
                        ref[(od * m + oh) * m + ow] += s
                    }}}
                }
                let y = apply3(tr.at, acc, a)
                for i in ref.indices { worst = max(worst, abs(Double(y[i]) - ref[i])); scale = max(scale, abs(ref[i])) }
            }
        }
        return worst / scale
    }

    func testF43AgainstF23() {
        print("[winograd-error] forward, max |error| / max |reference| vs Double, emulated per tile in Float:")
        for cin in [16, 32, 64, 128, 256, 320] {
            let tiles = max(4, 2048 / cin)
            let e23 = Self.error(Self.f23, cin: cin, tiles: tiles * 8, seed: 5)  // same number of outputs
            let e43 = Self.error(Self.f43, cin: cin, tiles: tiles, seed: 5)
            print(String(format: "[winograd-error] Cin %3d: F(2,3) %.1e  F(4,3) %.1e  (ratio %.1f)", cin, e23, e43, e43 / e23))
            XCTAssertLessThan(e23, 1e-5)
        }
    }
}
