import XCTest
@testable import Tensor

/// Instance norm, leaky ReLU, their fused form, softmax and concat against finite differences of
/// Double reimplementations written here from the formulas (independent of the kernels).
final class NormActivationTests: XCTestCase {
    let n = 2, c = 3, v = 5 * 6 * 7

    static func refNorm(_ x: [Double], gamma: [Double], beta: [Double], n: Int, c: Int, v: Int,
                        eps: Double = 1e-5) -> [Double] {
        var y = x
        for r in 0..<(n * c) {
            let s = Array(x[(r * v)..<((r + 1) * v)])
            let m = s.reduce(0, +) / Double(v)
            let varc = s.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v)
            for i in 0..<v { y[r * v + i] = gamma[r % c] * (s[i] - m) / (varc + eps).squareRoot() + beta[r % c] }
        }
        return y
    }
    static func refLeaky(_ x: [Double], slope: Double = 0.01) -> [Double] { x.map { $0 > 0 ? $0 : slope * $0 } }

    func testInstanceNormGradients() {
        let x = randomDoubles(n * c * v, seed: 1), gm = randomDoubles(c, seed: 2).map { $0 + 1.5 }
        let bt = randomDoubles(c, seed: 3), r = randomDoubles(n * c * v, seed: 4)
        var y = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: n * c), rstd = mean
        var dx = [Float](repeating: .nan, count: x.count), dg = [Float](repeating: 0, count: c), db = dg
        floats(x).withPtr { xp in floats(gm).withPtr { gp in floats(bt).withPtr { bp in floats(r).withPtr { rp in
            InstanceNorm3d.forward(x: xp, gamma: gp, beta: bp, y: &y, mean: &mean, rstd: &rstd, batch: n, channels: c, voxels: v)
            InstanceNorm3d.backward(x: xp, gamma: gp, mean: mean, rstd: rstd, dy: rp, dx: &dx, dgamma: &dg, dbeta: &db,
                                    batch: n, channels: c, voxels: v)
        }}}}
        let fwdErr = worstRelativeError(y, Self.refNorm(x, gamma: gm, beta: bt, n: n, c: c, v: v))
        let ex = worstRelativeError(analytic: dx, reference: finiteDifferences(x, indices: sampledIndices(x.count, every: 3)) {
            dotLoss(Self.refNorm($0, gamma: gm, beta: bt, n: self.n, c: self.c, v: self.v), r) })
        let eg = worstRelativeError(analytic: dg, reference: finiteDifferences(gm) {
            dotLoss(Self.refNorm(x, gamma: $0, beta: bt, n: self.n, c: self.c, v: self.v), r) })
        let eb = worstRelativeError(analytic: db, reference: finiteDifferences(bt) {
            dotLoss(Self.refNorm(x, gamma: gm, beta: $0, n: self.n, c: self.c, v: self.v), r) })
        report("instnorm forward", fwdErr); report("instnorm dx", ex); report("instnorm dgamma", eg); report("instnorm dbeta", eb)
        // Float statistics over 210 voxels: ~1e-6; the dx formula cancels three terms of similar size, 1e-3 margin.
        XCTAssertLessThan(fwdErr, 1e-5); XCTAssertLessThan(ex, 1e-3); XCTAssertLessThan(eg, 1e-4); XCTAssertLessThan(eb, 1e-4)
    }

    func testFusedNormLeakyReLUGradientsAndForward() {
        let x = randomDoubles(n * c * v, seed: 5), gm = randomDoubles(c, seed: 6).map { $0 + 1.5 }
        let bt = randomDoubles(c, seed: 7), r = randomDoubles(n * c * v, seed: 8)
        var a = [Float](repeating: 0, count: x.count), mean = [Float](repeating: 0, count: n * c), rstd = mean
        var dx = [Float](repeating: .nan, count: x.count), dg = [Float](repeating: 0, count: c), db = dg
        floats(x).withPtr { xp in floats(gm).withPtr { gp in floats(bt).withPtr { bp in floats(r).withPtr { rp in
            InstanceNormLeakyReLU.forward(x: xp, gamma: gp, beta: bp, y: &a, mean: &mean, rstd: &rstd, batch: n, channels: c, voxels: v)
            InstanceNormLeakyReLU.backward(x: xp, gamma: gp, mean: mean, rstd: rstd, output: a, dOutput: rp, dx: &dx,
                                           dgamma: &dg, dbeta: &db, batch: n, channels: c, voxels: v)
        }}}}
        func f(_ x: [Double], _ g: [Double], _ b: [Double]) -> [Double] {
            Self.refLeaky(Self.refNorm(x, gamma: g, beta: b, n: n, c: c, v: v))
        }
        let fwd = worstRelativeError(a, f(x, gm, bt))
        let ex = worstRelativeError(analytic: dx, reference: finiteDifferences(x, indices: sampledIndices(x.count, every: 3)) { dotLoss(f($0, gm, bt), r) })
        let eg = worstRelativeError(analytic: dg, reference: finiteDifferences(gm) { dotLoss(f(x, $0, bt), r) })
        let eb = worstRelativeError(analytic: db, reference: finiteDifferences(bt) { dotLoss(f(x, gm, $0), r) })
        report("norm+lrelu forward", fwd); report("norm+lrelu dx", ex); report("norm+lrelu dgamma", eg); report("norm+lrelu dbeta", eb)
        XCTAssertLessThan(fwd, 1e-5); XCTAssertLessThan(ex, 1e-3); XCTAssertLessThan(eg, 1e-4); XCTAssertLessThan(eb, 1e-4)
    }

    func testLeakyReLU() {
        // Values kept away from 0 so ±h never crosses the kink.
        let x = randomDoubles(200, seed: 9).map { $0 + ($0 >= 0 ? 0.1 : -0.1) }, r = randomDoubles(200, seed: 10)
        var y = [Float](repeating: 0, count: 200), dx = y
        floats(x).withPtr { xp in floats(r).withPtr { rp in
            LeakyReLU.forward(x: xp, y: &y, count: 200)
            LeakyReLU.backward(x: xp, dy: rp, dx: &dx, count: 200)
        }}
        let e = worstRelativeError(analytic: dx, reference: finiteDifferences(x) { dotLoss(Self.refLeaky($0), r) })
        report("leaky relu dx", e)
        XCTAssertLessThan(worstRelativeError(y, Self.refLeaky(x)), 1e-6)
        XCTAssertLessThan(e, 1e-5)
    }

    func testSoftmax() {
        let cl = 4, vv = 30
        let x = randomDoubles(n * cl * vv, seed: 12, scale: 3), r = randomDoubles(n * cl * vv, seed: 13)
        func ref(_ x: [Double]) -> [Double] {
            var p = x
            for s in 0..<n { for i in 0..<vv {
                let m = (0..<cl).map { x[(s * cl + $0) * vv + i] }.max()!
                let e = (0..<cl).map { Foundation.exp(x[(s * cl + $0) * vv + i] - m) }
                let t = e.reduce(0, +)
                for k in 0..<cl { p[(s * cl + k) * vv + i] = e[k] / t }
            }}
            return p
        }
        var p = [Float](repeating: 0, count: x.count), dx = p
        floats(x).withPtr { xp in floats(r).withPtr { rp in
            ChannelSoftmax.forward(x: xp, p: &p, batch: n, channels: cl, voxels: vv)
            p.withPtr { pp in ChannelSoftmax.backward(p: pp, dp: rp, dx: &dx, batch: n, channels: cl, voxels: vv) }
        }}
        let e = worstRelativeError(analytic: dx, reference: finiteDifferences(x) { dotLoss(ref($0), r) })
        report("softmax dx", e)
        XCTAssertLessThan(worstRelativeError(p, ref(x)), 1e-5)
        XCTAssertLessThan(e, 1e-4)
    }

    func testConcatRoundTrip() {
        let a: [Float] = (0..<12).map(Float.init), b: [Float] = (100..<106).map(Float.init)
        var y = [Float](repeating: 0, count: 18)
        a.withPtr { ap in b.withPtr { bp in ChannelConcat.forward(a: ap, b: bp, y: &y, batch: 2, channelsA: 2, channelsB: 1, voxels: 3) } }
        XCTAssertEqual(y, [0, 1, 2, 3, 4, 5, 100, 101, 102, 6, 7, 8, 9, 10, 11, 103, 104, 105])
        var da = [Float](repeating: 0, count: 12), db = [Float](repeating: 1, count: 6)
        y.withPtr { yp in ChannelConcat.backward(dy: yp, da: &da, db: &db, batch: 2, channelsA: 2, channelsB: 1, voxels: 3, accumulateB: true) }
        XCTAssertEqual(da, a)
        XCTAssertEqual(db, b.map { $0 + 1 })
    }

    func testWorkspaceAndParallel() {
        let ws = Workspace()
        let p = ws.buffer(1, count: 10)
        XCTAssertEqual(ws.buffer(1, count: 5), p, "smaller request reuses the slot")
        _ = ws.buffer(1, count: 1000)
        XCTAssertGreaterThanOrEqual(ws.floatsAllocated, 1000)
        var hits = [Int](repeating: 0, count: 1001)
        hits.withUnsafeMutableBufferPointer { h in
            let hp = h.baseAddress!
            Parallel.forEach(count: 1001, threads: 3) { hp[$0] += 1 }
        }
        XCTAssertEqual(hits, [Int](repeating: 1, count: 1001))
    }
}
