import Common
import XCTest
import Tensor
@testable import Model
import TestSupport

/// Per-axis kernels and pool strides (`kernelSizes`, `poolStrides`, x y z order) against the
/// Double reference network (naive per-axis convolutions, finite differences), and the default
/// network against the same options spelt out.
final class UNetAnisotropicTests: XCTestCase {
    /// Thick slices on z: 3×3×1 kernels and 2×2×1 pooling at the fine level, then a 1×3×3 level
    /// reached with a 1×2×2 stride (every axis pattern appears once).
    static var aniso: UNet3DOptions {
        var o = UNet3DOptions(inChannels: 2, classes: 3, features: [3, 4, 5], convsPerLevel: 2)
        o.kernelSizes = [[3, 3, 1], [3, 3, 3], [1, 3, 3]]
        o.poolStrides = [[2, 2, 1], [1, 2, 2]]
        return o
    }
    /// Tensor order [D, H, W] = [z, y, x]: z divisible by 2, y by 4, x by 2.
    static let spatial = [4, 8, 6]

    func randomInput(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    func testLayoutFollowsTheKeys() throws {
        var rng = SplitMix64(seed: 1)
        let net = try UNet3D(options: Self.aniso, rng: &rng)
        let shapes = Dictionary(uniqueKeysWithValues: net.parameterTensors.map { ($0.name, $0.shape) })
        // [Cout, Cin, kD, kH, kW] with [kx, ky, kz] reversed.
        XCTAssertEqual(shapes["encoder.0.0.conv.weight"], [3, 2, 1, 3, 3])
        XCTAssertEqual(shapes["encoder.1.0.conv.weight"], [4, 3, 3, 3, 3])
        XCTAssertEqual(shapes["encoder.2.1.conv.weight"], [5, 5, 3, 3, 1])
        XCTAssertEqual(shapes["decoder.0.1.conv.weight"], [3, 3, 1, 3, 3])
        // Transposed conv [Cin, Cout, sD, sH, sW]: kernel = stride.
        XCTAssertEqual(shapes["decoder.0.up.weight"], [4, 3, 1, 2, 2])
        XCTAssertEqual(shapes["decoder.1.up.weight"], [5, 4, 2, 2, 1])
        XCTAssertEqual(Self.aniso.sizeDivisors, [2, 4, 2])
        XCTAssertEqual(Self.aniso.levelScale(1), [2, 2, 1])
    }

    func testForwardMatchesDoubleReference() throws {
        let opts = Self.aniso, spatial = Self.spatial, n = 2, v = spatial.reduce(1, *)
        var rng = SplitMix64(seed: 3)
        let net = try UNet3D(options: opts, threads: 2, rng: &rng)
        let x = randomInput(n * opts.inChannels * v, seed: 4)
        let logits = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: spatial) }
        let got = Array(UnsafeBufferPointer(start: logits, count: n * opts.classes * v))
        let ref = UNetReference(net).forward(net.arena.values.array.map(Double.init), input: x.map(Double.init),
                                             batch: n, spatial: spatial)
        var predicted = [Float](repeating: 0, count: got.count)
        try x.withUnsafeBufferPointer { try net.predict($0.baseAddress!, batch: n, spatial: spatial, into: &predicted) }
        let err = zip(got, ref).map { abs(Double($0) - $1) }.max()! / ref.map(abs).max()!
        report("anisotropic U-Net forward vs Double reference", err)
        // Float convolutions of K ≤ 270 terms and Float norms: 1e-4 of the logit scale.
        XCTAssertLessThan(err, 1e-4)
        XCTAssertEqual(predicted, got, "predict (lean buffers) must give the training forward's logits")
    }

    /// dLoss/dθ through forward + DiceCELoss + backward against central differences of the Double
    /// reference, per tensor (every bias and norm parameter, every 3rd weight).
    func testParameterGradientAgainstFiniteDifferences() throws {
        let opts = Self.aniso, spatial = Self.spatial, n = 2, v = spatial.reduce(1, *)
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
            indices += spec.shape.count == 1 ? Array(o..<(o + spec.count)) : Array(stride(from: o, to: o + spec.count, by: 3))
        }
        let fd = finiteDifferences(theta, indices: indices) {
            UNetReference.loss(ref.forward($0, input: xd, batch: n, spatial: spatial), labels: labels, n: n, cl: opts.classes, v: v)
        }
        // As UNetTests: conv biases before an instance norm have a zero gradient, so errors are
        // judged against 1e-2 of the network's largest gradient.
        let globalFloor = 1e-2 * fd.values.map(abs).max()!
        var worst = 0.0
        for (i, spec) in net.arena.layout.specs.enumerated() {
            let o = net.arena.layout.offsets[i]
            let sub = fd.filter { $0.key >= o && $0.key < o + spec.count }
            let e = worstRelativeError(analytic: grads, reference: sub, floor: globalFloor)
            worst = max(worst, e)
            XCTAssertLessThan(e, 2e-3, spec.name)
        }
        report("anisotropic U-Net parameters (\(indices.count) of \(theta.count))", worst)
    }

    /// Deep supervision on an anisotropic net: the auxiliary heads sit at each level's own size.
    func testDeepSupervisionOutputsAtLevelSizes() throws {
        var opts = Self.aniso
        opts.deepSupervision = true
        var rng = SplitMix64(seed: 5)
        let net = try UNet3D(options: opts, threads: 1, rng: &rng)
        let n = 1, v = Self.spatial.reduce(1, *)
        let x = randomInput(n * opts.inChannels * v, seed: 6)
        _ = try x.withUnsafeBufferPointer { try net.forward($0.baseAddress!, batch: n, spatial: Self.spatial) }
        let ref = UNetReference(net).forwardAll(net.arena.values.array.map(Double.init), input: x.map(Double.init),
                                                batch: n, spatial: Self.spatial)
        XCTAssertEqual(net.auxiliaryLogits.count, 1)
        // Level 1 is [z, y/2, x/2] (stride [2, 2, 1] in x y z).
        let level1 = [4, 4, 3].reduce(1, *) * opts.classes
        XCTAssertEqual(ref[1].count, level1)
        let got = Array(UnsafeBufferPointer(start: net.auxiliaryLogits[0], count: level1))
        let err = zip(got, ref[1]).map { abs(Double($0) - $1) }.max()! / ref[1].map(abs).max()!
        XCTAssertLessThan(err, 1e-4)
    }

    /// The default network and the same network with `kernelSizes` all [3, 3, 3] and
    /// `poolStrides` all [2, 2, 2] spelt out: bit-identical logits and gradients (same
    /// parameters, same kernels chosen), for every convolution algorithm.
    func testExplicitDefaultsAreBitIdentical() throws {
        let spatial = [16, 12, 20], n = 2, v = spatial.reduce(1, *)
        let x = randomInput(n * 2 * v, seed: 31)
        let labels = (0..<(n * v)).map { Int32(($0 / 7) % 3) }
        for algorithm in ConvAlgorithm.allCases {
            var results: [[Float]] = []
            for explicit in [false, true] {
                var opts = UNet3DOptions(inChannels: 2, classes: 3, features: [8, 16, 32])
                if explicit {
                    opts.kernelSizes = [[3, 3, 3], [3, 3, 3], [3, 3, 3]]
                    opts.poolStrides = [[2, 2, 2], [2, 2, 2]]
                }
                var rng = SplitMix64(seed: 30)
                let net = try UNet3D(options: opts, threads: 2, rng: &rng)
                net.convAlgorithm = algorithm
                let step = try net.lossStep(x: x, labels: labels, batch: n, spatial: spatial)
                results.append(step.logits + step.gradients)
            }
            XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern), "\(algorithm)")
        }
    }

    func testShapeAndOptionErrors() throws {
        var rng = SplitMix64(seed: 1)
        let net = try UNet3D(options: Self.aniso, rng: &rng)
        XCTAssertNoThrow(try net.checkShape(batch: 1, spatial: [2, 4, 2]))
        XCTAssertThrowsError(try net.checkShape(batch: 1, spatial: [4, 6, 6])) {
            XCTAssertEqual("\($0)", "U-Net patch size = [4, 6, 6]; allowed: 3 sizes (D, H, W), positive multiples of [2, 4, 2] (the product of each axis' pool strides)")
        }
        var o = Self.aniso
        o.kernelSizes = [[3, 3, 1], [3, 3, 3]]
        XCTAssertThrowsError(try UNet3D(options: o, rng: &rng)) {
            XCTAssertEqual("\($0)", "U-Net option kernelSizes = 2 entries; allowed: one [kx, ky, kz] per level (3 levels)")
        }
        o = Self.aniso
        o.kernelSizes = [[3, 3, 1], [3, 2, 3], [3, 3, 3]]
        XCTAssertThrowsError(try UNet3D(options: o, rng: &rng)) {
            XCTAssertEqual("\($0)", "U-Net option kernelSizes = [3, 2, 3]; allowed: 3 odd sizes ≥ 1 per level")
        }
        o = Self.aniso
        o.poolStrides = [[2, 2, 1], [3, 2, 2]]
        XCTAssertThrowsError(try UNet3D(options: o, rng: &rng)) {
            XCTAssertEqual("\($0)", "U-Net option poolStrides = [3, 2, 2]; allowed: 3 strides per downsampling, each 1 or 2")
        }
    }
}
