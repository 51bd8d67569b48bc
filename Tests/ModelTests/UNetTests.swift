import Common
import XCTest
import Tensor
@testable import Model
import TestSupport

final class UNetTests: XCTestCase {
    /// Tiny net: 2 levels [3, 4], 2 input channels, 3 classes, non-cubic 8×6×10, batch 2.
    static let tiny = UNet3DOptions(inChannels: 2, classes: 3, features: [3, 4])

    func randomInput(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    func testForwardMatchesDoubleReference() throws {
        for (opts, spatial) in [(Self.tiny, [8, 6, 10]), (UNet3DOptions(inChannels: 1, classes: 2, features: [2, 3, 4], convsPerLevel: 1), [8, 8, 4])] {
            var rng = SplitMix64(seed: 3)
            let net = try UNet3D(options: opts, threads: 2, rng: &rng)
            let n = 2, v = spatial.reduce(1, *)
            let x = randomInput(n * opts.inChannels * v, seed: 4)
            let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: spatial) }
            let got = Array(UnsafeBufferPointer(start: logits, count: n * opts.classes * v))
            let ref = UNetReference(net).forward(net.arena.values.array.map(Double.init), input: x.map(Double.init), batch: n, spatial: spatial)
            var predicted = [Float](repeating: 0, count: got.count)
            try x.withUnsafeBufferPointer { try net.predict($0.baseAddress!, batch: n, spatial: spatial, into: &predicted) }
            let scale = ref.map(abs).max()!
            let err = zip(got, ref).map { abs(Double($0) - $1) }.max()! / scale
            print("[UNet] forward vs Double reference (\(opts.features), \(spatial)): max error / max |logit| = \(err)")
            // Float convolutions of K ≤ 216 terms and Float norms: 1e-5 of the logit scale.
            XCTAssertLessThan(err, 1e-4)
            XCTAssertEqual(predicted, got, "predict (lean buffers) must give the training forward's logits")
        }
    }

    /// dLoss/dθ from forward + DiceCELoss + backward against central differences of the Double
    /// reference network, on every parameter of a sample (all biases/norm params, every 5th weight).
    func testParameterGradientAgainstFiniteDifferences() throws {
        let opts = Self.tiny, spatial = [8, 6, 10], n = 2, v = spatial.reduce(1, *)
        var rng = SplitMix64(seed: 11)
        let net = try UNet3D(options: opts, threads: 2, rng: &rng)
        let x = randomInput(n * opts.inChannels * v, seed: 12)
        var lrng = SplitMix64(seed: 13)
        let labels = (0..<(n * v)).map { _ in Int32.random(in: 0..<Int32(opts.classes), using: &lrng) }
        let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: spatial) }
        var dLogits = [Float](repeating: 0, count: n * opts.classes * v)
        _ = try labels.withUnsafeBufferPointer {
            try DiceCELoss().evaluate(logits: logits, labels: $0.baseAddress!, batch: n, classes: opts.classes, voxels: v,
                                      gradient: &dLogits, workspace: Workspace())
        }
        try dLogits.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
        let grads = net.arena.gradients.array
        let theta = net.arena.values.array.map(Double.init)
        let ref = UNetReference(net), xd = x.map(Double.init)
        var indices: [Int] = []
        for (i, spec) in net.arena.layout.specs.enumerated() {
            let o = net.arena.layout.offsets[i]
            indices += spec.shape.count == 1 ? Array(o..<(o + spec.count)) : Array(stride(from: o, to: o + spec.count, by: 5))
        }
        let fd = finiteDifferences(theta, indices: indices) {
            UNetReference.loss(ref.forward($0, input: xd, batch: n, spatial: spatial), labels: labels, n: n, cl: opts.classes, v: v)
        }
        // Per-tensor worst error, so a wrong layer is named.
        // Conv biases feeding an instance norm have an exact zero gradient (the norm removes
        // per-channel constants), so errors are judged against 1e-2 of the largest gradient
        // of the whole network rather than each tensor's own (zero) scale.
        let globalFloor = 1e-2 * fd.values.map(abs).max()!
        var worst = 0.0
        for (i, spec) in net.arena.layout.specs.enumerated() {
            let o = net.arena.layout.offsets[i]
            let sub = fd.filter { $0.key >= o && $0.key < o + spec.count }
            let e = worstRelativeError(analytic: grads, reference: sub, floor: globalFloor)
            worst = max(worst, e)
            // Float forward/backward through 5 conv layers and instance norms vs Double FD:
            // ~1e-5 typical; 2e-3 allows for the cancellation in norm gradients near 0.
            XCTAssertLessThan(e, 2e-3, spec.name)
        }
        report("U-Net parameters (\(indices.count) of \(theta.count))", worst)
    }

    /// The same gradient w.r.t. the norm/conv path when a level has one conv and 3 levels.
    func testGradientThreeLevelsOneConv() throws {
        let opts = UNet3DOptions(inChannels: 1, classes: 2, features: [2, 3, 4], convsPerLevel: 1), spatial = [4, 8, 8], n = 1
        let v = spatial.reduce(1, *)
        var rng = SplitMix64(seed: 21)
        let net = try UNet3D(options: opts, threads: 1, rng: &rng)
        let x = randomInput(v, seed: 22)
        let labels = (0..<v).map { Int32(($0 * 7) % 3 == 0 ? 1 : 0) }
        let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: spatial) }
        var dl = [Float](repeating: 0, count: 2 * v)
        _ = try labels.withUnsafeBufferPointer {
            try DiceCELoss().evaluate(logits: logits, labels: $0.baseAddress!, batch: n, classes: 2, voxels: v, gradient: &dl, workspace: Workspace())
        }
        try dl.withUnsafeBufferPointer { try net.backward($0.baseAddress!) }
        let theta = net.arena.values.array.map(Double.init), ref = UNetReference(net)
        let idx = Array(stride(from: 0, to: theta.count, by: 3))
        let fd = finiteDifferences(theta, indices: idx) {
            UNetReference.loss(ref.forward($0, input: x.map(Double.init), batch: n, spatial: spatial), labels: labels, n: n, cl: 2, v: v)
        }
        let e = worstRelativeError(analytic: net.arena.gradients.array, reference: fd)
        report("U-Net 3 levels × 1 conv", e)
        XCTAssertLessThan(e, 2e-3)
    }

    /// The fast path (Winograd for every stride-1 3×3×3 conv) against the im2col oracle path on
    /// the same weights: logits and every gradient tensor.
    func testWinogradPathMatchesIm2colPath() throws {
        let opts = UNet3DOptions(inChannels: 2, classes: 3, features: [8, 16, 32]), spatial = [16, 12, 20], n = 2
        let v = spatial.reduce(1, *)
        let x = randomInput(n * opts.inChannels * v, seed: 31)
        let labels = (0..<(n * v)).map { Int32(($0 / 7) % 3) }
        var results: [(logits: [Float], grads: [Float])] = []
        for algorithm in [ConvAlgorithm.im2col, .winograd] {
            var rng = SplitMix64(seed: 30)
            let net = try UNet3D(options: opts, threads: 2, rng: &rng)
            net.convAlgorithm = algorithm
            let step = try net.lossStep(x: x, labels: labels, batch: n, spatial: spatial)
            results.append((step.logits, step.gradients))
        }
        func rel(_ a: [Float], _ b: [Float]) -> Double {
            let scale = b.map { abs(Double($0)) }.max()!
            return zip(a, b).map { abs(Double($0) - Double($1)) }.max()! / scale
        }
        let el = rel(results[1].logits, results[0].logits), eg = rel(results[1].grads, results[0].grads)
        print("[UNet] winograd vs im2col: logits \(el), gradients \(eg) (max error / max magnitude)")
        // Winograd's transforms add a few Float roundings per output: 1e-4 of the scale.
        XCTAssertLessThan(el, 1e-4)
        XCTAssertLessThan(eg, 1e-4)
    }

    func testShapeAndOptionErrors() throws {
        var rng = SplitMix64(seed: 1)
        XCTAssertThrowsError(try UNet3D(options: UNet3DOptions(classes: 1), rng: &rng)) {
            XCTAssertEqual("\($0)", "U-Net option classes = 1; allowed: ≥ 2 (background + foreground)")
        }
        let net = try UNet3D(options: Self.tiny, rng: &rng)
        XCTAssertThrowsError(try net.checkShape(batch: 1, spatial: [8, 7, 8])) {
            XCTAssertEqual("\($0)", "U-Net patch size = [8, 7, 8]; allowed: 3 sizes, each a positive multiple of 2 (2^(levels−1))")
        }
    }

    func testParametersRoundTripThroughRawFile() throws {
        var rng = SplitMix64(seed: 5)
        let a = try UNet3D(options: Self.tiny, rng: &rng), b = try UNet3D(options: Self.tiny, rng: &rng)
        XCTAssertNotEqual(a.arena.values.array, b.arena.values.array)
        let path = NSTemporaryDirectory() + "unet-params-\(UInt32.random(in: 0...UInt32.max)).f32"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try a.saveParameters(to: path)
        try b.loadParameters(from: path)
        XCTAssertEqual(a.arena.values.array, b.arena.values.array)
        let small = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: 2, features: [2]), rng: &rng)
        XCTAssertThrowsError(try small.loadParameters(from: path))
    }
}

// Shared FD helpers (same definitions as the Tensor tests).
func finiteDifferences(_ x: [Double], indices: [Int], step h: Double = 1e-5, _ f: ([Double]) -> Double) -> [Int: Double] {
    var out: [Int: Double] = [:], xx = x
    for i in indices {
        let x0 = xx[i]
        xx[i] = x0 + h; let fp = f(xx)
        xx[i] = x0 - h; let fm = f(xx)
        xx[i] = x0
        out[i] = (fp - fm) / (2 * h)
    }
    return out
}

func worstRelativeError(analytic: [Float], reference: [Int: Double], floor given: Double? = nil) -> Double {
    let scale = reference.values.map(abs).max() ?? 0
    let floor = given ?? max(1e-2 * scale, 1e-12)
    return reference.map { abs(Double(analytic[$0.key]) - $0.value) / max(abs($0.value), floor) }.max() ?? 0
}

func report(_ name: String, _ err: Double) {
    print("[FD] \(name): worst relative error \(String(format: "%.2e", err))")
}
