import Common
import XCTest
@testable import Tensor

/// Optimizers against their update rules written out by hand (torch.optim semantics) in Double.
final class OptimizerTests: XCTestCase {
    func testSGDNesterovMatchesTorchRule() {
        let lr = 0.01, mu = 0.99, wd = 3e-5
        var p: [Float] = [0.5, -1.0, 2.0]
        let grads: [[Float]] = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.0], [0.2, 0.2, -0.1]]
        let opt = SGDOptimizer(count: 3, learningRate: Float(lr), momentum: Float(mu), nesterov: true, weightDecay: Float(wd))
        var ref = p.map(Double.init), buf: [Double]? = nil
        for g in grads {
            g.withPtr { gp in opt.step(parameters: &p, gradients: gp) }
            // torch: d = g + wd·p; buf = d (first) else mu·buf + d; d = d + mu·buf; p -= lr·d
            let d = (0..<3).map { Double(g[$0]) + wd * ref[$0] }
            buf = buf.map { b in (0..<3).map { mu * b[$0] + d[$0] } } ?? d
            for i in 0..<3 { ref[i] -= lr * (d[i] + mu * buf![i]) }
        }
        for i in 0..<3 { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 1e-6) }
    }

    func testAdamWMatchesTorchRule() {
        let lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01
        var p: [Float] = [0.5, -1.0]
        let grads: [[Float]] = [[0.1, -0.2], [-0.3, 0.05], [0.2, 0.2]]
        let opt = AdamWOptimizer(count: 2, learningRate: Float(lr))
        var ref = p.map(Double.init), m = [0.0, 0.0], v = [0.0, 0.0]
        for (t, g) in grads.enumerated() {
            g.withPtr { gp in opt.step(parameters: &p, gradients: gp) }
            for i in 0..<2 {
                ref[i] *= 1 - lr * wd
                m[i] = b1 * m[i] + (1 - b1) * Double(g[i]); v[i] = b2 * v[i] + (1 - b2) * Double(g[i]) * Double(g[i])
                let mh = m[i] / (1 - pow(b1, Double(t + 1))), vh = v[i] / (1 - pow(b2, Double(t + 1)))
                ref[i] -= lr * mh / (vh.squareRoot() + eps)
            }
        }
        for i in 0..<2 { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 1e-6) }
    }

    /// Kaiming normal: sample std of 20 000 draws within 3% of √(2/(1+a²))/√fanIn (sampling error
    /// of a std estimate ≈ 1/√(2n) = 0.5%); zeros/ones exact; offsets derived from the specs.
    func testArenaLayoutAndInit() {
        let specs = [ParameterSpec(name: "w", shape: [20, 10, 10, 10], initializer: .kaimingNormal(fanIn: 1000, negativeSlope: 0.01)),
                     ParameterSpec(name: "b", shape: [20], initializer: .zeros),
                     ParameterSpec(name: "g", shape: [5], initializer: .ones)]
        let arena = ParameterArena(layout: ParameterLayout(specs))
        XCTAssertEqual(arena.layout.offsets, [0, 20000, 20020])
        XCTAssertEqual(arena.layout.totalCount, 20025)
        var rng = SplitMix64(seed: 1)
        arena.layout.initialize(arena.values.pointer, using: &rng)
        let w = Array(arena.values.array[0..<20000]).map(Double.init)
        let mean = w.reduce(0, +) / 20000, sd = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 20000).squareRoot()
        let expected = (2 / (1 + 1e-4)).squareRoot() / 1000.0.squareRoot()
        XCTAssertEqual(sd, expected, accuracy: 0.03 * expected)
        XCTAssertEqual(Array(arena.values.array[20000..<20020]), [Float](repeating: 0, count: 20))
        XCTAssertEqual(Array(arena.values.array[20020...]), [Float](repeating: 1, count: 5))
    }
}
