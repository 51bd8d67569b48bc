import CKernels
import Common
import XCTest
@testable import Tensor

/// The loss's vectorised exp and softmax run (softmax_avx.c) against Double: exp over its whole
/// input range in ulps of the correctly rounded Float, the special values, and the loss's
/// statistics with extreme logits (spreads of ±80, −inf masking) against a Double softmax.
final class SoftmaxExpTests: XCTestCase {
    /// The kernels this CPU can run (the Swift/libm path is `nil`, always included).
    var kernels: [DiceCELoss.SoftmaxKernel?] {
        var k: [DiceCELoss.SoftmaxKernel?] = [nil]
        if CPUFeatures.avx2FMA { k.append(.avx2) }
        if CPUFeatures.avx512 { k.append(.avx512) }
        return k
    }

    func exp(_ kernel: DiceCELoss.SoftmaxKernel, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: .nan, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { yp in
            switch kernel {
            case .avx512: dro_exp_avx512(xp.baseAddress!, yp.baseAddress!, x.count)
            case .avx2: dro_exp_avx2(xp.baseAddress!, yp.baseAddress!, x.count)
            }
        }}
        return y
    }

    /// Distance in units in the last place between two finite non-negative Floats (bit patterns
    /// are ordered like the values there, subnormals included).
    func ulps(_ a: Float, _ b: Float) -> Int {
        abs(Int(a.bitPattern) - Int(b.bitPattern))
    }

    /// Every 61st Float bit pattern in [−104, 88.72] (≈ 34 million / 61 ≈ 0.55 M inputs per sign,
    /// every binade) plus a dense sweep of [−1, 1]: worst error ≤ 2 ulp of Float(exp(Double x)).
    func testExpWithinTwoUlpOverItsRange() throws {
        var x: [Float] = []
        for sign in [Float(1), -1] {
            var bits: UInt32 = 0
            let top = sign > 0 ? Float(88.72).bitPattern : Float(104).bitPattern
            while bits <= top { x.append(sign * Float(bitPattern: bits)); bits += 61 }
        }
        for i in -100_000...100_000 { x.append(Float(i) / 100_000) }
        let available = kernels.compactMap { $0 }
        guard !available.isEmpty else { throw XCTSkip("no AVX2 or AVX-512 (or DRO_PORTABLE_KERNELS=1)") }
        for k in available {
            let y = exp(k, x)
            var worst = 0, at: Float = 0
            for (xi, yi) in zip(x, y) {
                let ref = Float(Foundation.exp(Double(xi)))
                let e = ulps(yi, ref)
                if e > worst { worst = e; at = xi }
            }
            print("[exp] \(k): worst \(worst) ulp at x = \(at) over \(x.count) inputs")
            // Cephes' polynomial with a two-part ln 2: ≤ 1 ulp measured; 2 allowed (the brief of the kernel).
            XCTAssertLessThanOrEqual(worst, 2, "\(k) at \(at)")
        }
    }

    func testExpSpecialValues() throws {
        let available = kernels.compactMap { $0 }
        guard !available.isEmpty else { throw XCTSkip("no AVX2 or AVX-512 (or DRO_PORTABLE_KERNELS=1)") }
        let x: [Float] = [-.infinity, -1e30, -104.5, -104, -103.5, -100, -87.5, 0, -0.0, 88.8, 1e30, .infinity, .nan]
        for k in available {
            let y = exp(k, x)
            XCTAssertEqual(y[0], 0); XCTAssertEqual(y[1], 0); XCTAssertEqual(y[2], 0)
            for i in 3...6 {
                let ref = Float(Foundation.exp(Double(x[i])))
                XCTAssertLessThanOrEqual(ulps(y[i], ref), 2, "\(k) exp(\(x[i])) = \(y[i]), reference \(ref)")
            }
            XCTAssertTrue(y[5].isSubnormal && y[5] > 0, "\(k): exp(−100) is subnormal, got \(y[5])")
            XCTAssertEqual(y[7], 1); XCTAssertEqual(y[8], 1)
            XCTAssertEqual(y[9], .infinity); XCTAssertEqual(y[10], .infinity); XCTAssertEqual(y[11], .infinity)
            XCTAssertTrue(y[12].isNaN)
            // Every tail length of the masked loop.
            for n in 1...33 {
                let xs = (0..<n).map { Float($0) / 7 - 2 }
                let ys = exp(k, xs)
                for (a, b) in zip(xs, ys) { XCTAssertLessThanOrEqual(ulps(b, Float(Foundation.exp(Double(a)))), 2) }
            }
        }
    }

    /// `softmaxStatistics` with each kernel on 9 classes: logits spread ±80 around large
    /// offsets, whole classes at −inf (masked) for some voxels, ties; Σ p·y, Σ p, Σ y and
    /// Σ −log p_y against a Double softmax; p against Double within 4 ulp-scale relative error.
    func testStatisticsWithExtremeLogits() throws {
        let n = 2, cl = 9, v = 4096 + 300 + 5
        var rng = SplitMix64(seed: 77)
        var z = [Float](repeating: 0, count: n * cl * v)
        var y = [Int32](repeating: 0, count: n * v)
        for s in 0..<n { for i in 0..<v {
            let label = Int32.random(in: 0..<Int32(cl), using: &rng)
            y[s * v + i] = label
            let offset = Float([0, 1e4, -1e4, 30][i % 4])
            for c in 0..<cl {
                var x = offset + Float.random(in: -80...80, using: &rng)
                if i % 7 == 3 && c != Int(label) && c % 2 == 1 { x = -.infinity }
                if i % 11 == 5 { x = offset }    // all classes tied
                z[(s * cl + c) * v + i] = x
            }
        }}
        // Double reference.
        var refP = [Double](repeating: 0, count: z.count)
        var inter = [Double](repeating: 0, count: n * cl), sumP = inter, sumY = inter
        var nll = [Double](repeating: 0, count: n)
        for s in 0..<n { for i in 0..<v {
            // x − max rounded to Float as the loss computes it (the exp input; its rounding, up to
            // 2^−24·|x − max| ≈ 1e-5 relative in p at spreads of 160, is the loss's own precision
            // and outside what this test checks), the rest in Double.
            let xf = (0..<cl).map { z[(s * cl + $0) * v + i] }, mf = xf.max()!
            let xs = xf.map { Double($0 - mf) }
            let m = 0.0, es = xs.map { Foundation.exp($0) }, t = es.reduce(0, +)
            let label = Int(y[s * v + i])
            for c in 0..<cl { refP[(s * cl + c) * v + i] = es[c] / t; sumP[s * cl + c] += es[c] / t }
            inter[s * cl + label] += es[label] / t
            sumY[s * cl + label] += 1
            nll[s] += Foundation.log(t) - (xs[label] - m)
        }}
        for k in kernels {
            var p = [Float](repeating: .nan, count: z.count)
            let r = z.withPtr { zp in y.withUnsafeBufferPointer { yp in p.withUnsafeMutableBufferPointer { pp in
                DiceCELoss.softmaxStatistics(logits: zp, labels: yp.baseAddress!, p: pp.baseAddress!, batch: n,
                                             classes: cl, voxels: v, threads: 2, kernel: k)
            }}}
            // Normal p: relative error; subnormal p (below 2^−126, e.g. e^−100): the relative bound
            // plus two subnormal steps (2^−149 each, the spacing there).
            var worstP = 0.0, subnormalExcess = 0.0
            for (a, b) in zip(p, refP) {
                let e = abs(Double(a) - b)
                if b >= 0x1p-126 { worstP = max(worstP, e / b) } else { subnormalExcess = max(subnormalExcess, e - 1e-6 * b) }
            }
            print("[softmax] \(String(describing: k)): p worst relative \(worstP), subnormal p off by \(subnormalExcess / 0x1p-149) steps")
            // exp within 2 ulp, a Float sum of ≤ 9 terms, a reciprocal and a product: < 1e-6 relative
            // (2^−24 ≈ 6e-8 per rounding).
            XCTAssertLessThan(worstP, 1e-6)
            XCTAssertLessThanOrEqual(subnormalExcess, 2 * 0x1p-149)
            for j in 0..<(n * cl) {
                // Float run sums of ≤ 256 values in [0, 1] per 4096-block: 1e-6 of the count.
                XCTAssertEqual(r.sumP[j], sumP[j], accuracy: 1e-6 * Double(v))
                XCTAssertEqual(r.inter[j], inter[j], accuracy: 1e-6 * Double(v))
                XCTAssertEqual(r.sumY[j], sumY[j])
            }
            for s in 0..<n {
                // Σ of v terms of size ≤ ~170 (the spread), each within Float rounding of x − m.
                XCTAssertEqual(r.nll[s], nll[s], accuracy: 1e-6 * max(1, abs(nll[s])), "\(String(describing: k))")
            }
        }
    }
}
