import Training
import Common
import XCTest
import Foundation
import Tensor
@testable import Model
import TestSupport

/// The U-Net learns: on a sphere in Gaussian noise (two classes) training drives the hard Dice of
/// a fresh, unseen volume above 0.9 within a fixed number of steps, fixed seed.
final class UNetLearningTests: XCTestCase {
    static let size = 16
    /// Noise std relative to the unit contrast between sphere and background.
    static let noise = 0.4

    /// Image [1, S³] = sphere indicator + N(0, noise²); labels 1 inside a sphere of random centre
    /// and radius 3–6 voxels.
    static func sample(_ rng: inout SplitMix64) -> ([Float], [Int32]) {
        let s = size
        let c = (0..<3).map { _ in Double.random(in: 5...Double(s - 6), using: &rng) }
        let r = Double.random(in: 3...6, using: &rng)
        var img = [Float](repeating: 0, count: s * s * s), lab = [Int32](repeating: 0, count: s * s * s)
        for z in 0..<s { for y in 0..<s { for x in 0..<s {
            let i = (z * s + y) * s + x
            let d = ((Double(z) - c[0]) * (Double(z) - c[0]) + (Double(y) - c[1]) * (Double(y) - c[1]) + (Double(x) - c[2]) * (Double(x) - c[2])).squareRoot()
            lab[i] = d <= r ? 1 : 0
            img[i] = Float(Double(lab[i]) + noise * RandomSample.normal(using: &rng))
        }}}
        return (img, lab)
    }

    func testLearnsSphereInNoise() throws {
        var rng = SplitMix64(seed: 2026)
        let opts = UNet3DOptions(inChannels: 1, classes: 2, features: [4, 8])
        let net = try UNet3D(options: opts, threads: 1, rng: &rng)
        let batch = 2, v = Self.size * Self.size * Self.size, spatial = [Self.size, Self.size, Self.size]
        // SGD as docs/method.md §4 but momentum 0.9 and lr 0.05: the 0.99-momentum schedule is tuned
        // for 1000-epoch runs, far longer than a unit test.
        let steps = 120
        let opt = SGDOptimizer(count: net.parameterCount, learningRate: 0.05, momentum: 0.9, nesterov: true, weightDecay: 3e-5)
        let loss = DiceCELoss(), ws = Workspace()
        var dl = [Float](repeating: 0, count: batch * 2 * v)
        var first = 0.0, last = 0.0
        for step in 0..<steps {
            var x: [Float] = [], y: [Int32] = []
            for _ in 0..<batch { let (i, l) = Self.sample(&rng); x += i; y += l }
            let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: batch, spatial: spatial) }
            let out = try y.withUnsafeBufferPointer {
                try loss.evaluate(logits: logits, labels: $0.baseAddress!, batch: batch, classes: 2, voxels: v, gradient: &dl, workspace: ws)
            }
            if step == 0 { first = out.loss }
            last = out.loss
            try dl.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
            let gradients = net.arena.gradients.pointer
            let norm = (0..<net.parameterCount).reduce(Float(0)) { $0 + gradients[$1] * gradients[$1] }.squareRoot()
            let factor = Schedule.clipFactor(norm: norm, maxNorm: 12)
            for i in 0..<net.parameterCount { gradients[i] *= factor }
            opt.step(parameters: net.arena.values.pointer, gradients: net.arena.gradients.pointer)
        }
        // Evaluate on unseen volumes with the lean predict path.
        var dices: [Double] = []
        for _ in 0..<3 {
            let (img, lab) = Self.sample(&rng)
            var logits = [Float](repeating: 0, count: 2 * v)
            try img.withUnsafeBufferPointer { try net.predict($0.baseAddress!, batch: 1, spatial: spatial, into: &logits) }
            var tp = 0, np = 0, ng = 0
            for i in 0..<v {
                let p = logits[v + i] > logits[i]
                if p { np += 1 }; if lab[i] == 1 { ng += 1 }; if p && lab[i] == 1 { tp += 1 }
            }
            dices.append(2 * Double(tp) / Double(np + ng))
        }
        print("[UNet] learning: loss \(first) → \(last) in \(steps) steps; held-out Dice \(dices)")
        XCTAssertGreaterThan(dices.min()!, 0.9)
    }

    /// Sliding window: positions match nnU-Net's rule, and on a volume the size of one patch the
    /// result equals a single predict call (weights cancel).
    func testSlidingWindow() throws {
        XCTAssertEqual(SlidingWindow.starts(size: 96, patch: 64, overlap: 0.5), [0, 32])
        XCTAssertEqual(SlidingWindow.starts(size: 112, patch: 64, overlap: 0.5), [0, 24, 48])
        XCTAssertEqual(SlidingWindow.starts(size: 64, patch: 64, overlap: 0.5), [0])
        XCTAssertEqual(SlidingWindow.starts(size: 100, patch: 64, overlap: 0.5), [0, 18, 36])
        var rng = SplitMix64(seed: 9)
        let net = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 3]), rng: &rng)
        let vol = (0..<(8 * 8 * 8)).map { _ in Float.random(in: -1..<1, using: &rng) }
        let sw = SlidingWindow(patch: [8, 8, 8])
        let a = try vol.withUnsafeBufferPointer { try sw.logits(volume: $0.baseAddress!, spatial: [8, 8, 8], model: net) }
        var b = [Float](repeating: 0, count: 2 * 512)
        try vol.withUnsafeBufferPointer { try net.predict($0.baseAddress!, batch: 1, spatial: [8, 8, 8], into: &b) }
        for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-5 * max(1, abs(b[i]))) }
        // Translation: a 12-wide volume, windows at 0 and 4; constant volume → every voxel's
        // average is a convex combination of window outputs, finite everywhere.
        let big = [Float](repeating: 0.5, count: 8 * 8 * 12)
        let c = try big.withUnsafeBufferPointer { try sw.logits(volume: $0.baseAddress!, spatial: [8, 8, 12], model: net) }
        XCTAssertTrue(c.allSatisfy { $0.isFinite })
        XCTAssertThrowsError(try big.withUnsafeBufferPointer { try sw.logits(volume: $0.baseAddress!, spatial: [8, 8, 4], model: net) })
    }
}
