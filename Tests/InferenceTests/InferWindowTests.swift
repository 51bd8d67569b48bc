import Common
import XCTest
import Tensor
@testable import DataPipeline
@testable import Inference
@testable import Model
import TestSupport

/// The sliding window as inference runs it: Gaussian stitching, batched windows, mirroring
/// TTA, volumes smaller than the window — each on a real UNet3D whose output is known.
final class InferWindowTests: XCTestCase {
    /// A network whose every parameter is 0 but the head bias: its logits are the bias at every
    /// voxel, whatever the input.
    func constantNetwork(bias: [Float]) throws -> UNet3D {
        var rng = SplitMix64(seed: 2)
        let net = try UNet3D(options: UNet3DOptions(inChannels: 2, classes: bias.count, features: [2, 4]), rng: &rng)
        net.arena.values.zero()
        InferFixtures.set(net, "head.bias", bias)
        return net
    }

    /// Every 3×3×3 kernel replaced by the mean of its 8 mirror images: with zero padding,
    /// instance norm (global statistics) and a 1×1×1 head, a one-level U-Net is then exactly
    /// equivariant to flips of any axis (up to float summation order).
    func symmetricNetwork(symmetrize: Bool) throws -> UNet3D {
        var rng = SplitMix64(seed: 5)
        let net = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: 3, features: [4]), rng: &rng)
        guard symmetrize else { return net }
        for (index, spec) in net.arena.layout.specs.enumerated() where spec.shape.count == 5 && spec.shape[2] == 3 {
            let w = net.arena.value(index), kernels = spec.count / 27
            for k in 0..<kernels {
                let original = (0..<27).map { w[k * 27 + $0] }
                for z in 0..<3 { for y in 0..<3 { for x in 0..<3 {
                    var sum: Float = 0
                    for m in WindowPredictor.mirrorings {
                        let (mz, my, mx) = (m[0] ? 2 - z : z, m[1] ? 2 - y : y, m[2] ? 2 - x : x)
                        sum += original[(mz * 3 + my) * 3 + mx]
                    }
                    w[k * 27 + (z * 3 + y) * 3 + x] = sum / 8
                }}}
            }
        }
        return net
    }

    func randomVolume(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
    }

    func testConstantNetworkStitchesToTheConstant() throws {
        let bias: [Float] = [0.75, -1.5, 3.25]
        let net = try constantNetwork(bias: bias)
        let shape = GridShape(d: 13, h: 17, w: 11)   // windows overlap unevenly on every axis
        let image = randomVolume(2 * shape.count, seed: 1)
        var settings = InferenceSettings()
        // 3×4×2 = 24 windows at overlap 0.5: batch 4 divides them, batch 5 leaves a partial batch.
        for (batch, overlap) in [(4, 0.5), (5, 0.5), (1, 0.25)] {
            settings.batch = batch; settings.overlap = overlap
            let model = WindowModel(inChannels: 2, classes: 3, patch: [8, 8, 8]) {
                try net.predict($0, batch: $1, spatial: [8, 8, 8], into: $2)
            }
            let logits = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: model, settings: settings)
            XCTAssertEqual(logits.count, 3 * shape.count)
            // Σ w·b / Σ w in float: relative error a few ulps per added window (≤ 8 here).
            for c in 0..<3 {
                let worst = (0..<shape.count).map { abs(logits[c * shape.count + $0] - bias[c]) }.max()!
                XCTAssertLessThan(worst, 1e-5 * abs(bias[c]), "class \(c), batch \(batch), overlap \(overlap)")
            }
        }
    }

    func testBatchedWindowsEqualOneAtATime() throws {
        var rng = SplitMix64(seed: 11)
        let net = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]), rng: &rng)
        let shape = GridShape(d: 12, h: 10, w: 14)
        let image = randomVolume(shape.count, seed: 4)
        let model = WindowModel(inChannels: 1, classes: 2, patch: [8, 8, 8]) {
            try net.predict($0, batch: $1, spatial: [8, 8, 8], into: $2)
        }
        var settings = InferenceSettings()
        let one = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: model, settings: settings)
        // The window module's own entry (batch 1, model.predict) is the reference.
        let reference = try image.withUnsafeBufferPointer {
            try SlidingWindow(patch: [8, 8, 8]).logits(volume: $0.baseAddress!, spatial: [12, 10, 14], model: net)
        }
        XCTAssertEqual(one, reference)
        settings.batch = 5
        let batched = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: model, settings: settings)
        // Instance norm is per sample, so a batch is N independent windows; the GEMMs of a batch
        // sum in another order: agreement to float rounding (1e-5 relative).
        for i in one.indices { XCTAssertEqual(batched[i], one[i], accuracy: 1e-5 * max(1, abs(one[i]))) }
    }

    func testMirroringTTALeavesAFlipEquivariantNetworkUnchanged() throws {
        let shape = GridShape(d: 10, h: 9, w: 12)
        let image = randomVolume(shape.count, seed: 8)
        var settings = InferenceSettings()
        settings.batch = 2
        func difference(symmetric: Bool) throws -> Float {
            let net = try symmetricNetwork(symmetrize: symmetric)
            let plain = WindowPredictor(network: net, patch: [8, 8, 8], tta: false)
            let mirrored = WindowPredictor(network: net, patch: [8, 8, 8], tta: true)
            let a = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: WindowModel(inChannels: 1, classes: 3, patch: [8, 8, 8]) {
                try plain.predict($0, count: $1, into: $2)
            }, settings: settings)
            let b = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: WindowModel(inChannels: 1, classes: 3, patch: [8, 8, 8]) {
                try mirrored.predict($0, count: $1, into: $2)
            }, settings: settings)
            return zip(a, b).map { abs($0 - $1) / max(1, abs($0)) }.max()!
        }
        // Equivariant: the 8 mirrored predictions are the same numbers summed in another order.
        XCTAssertLessThan(try difference(symmetric: true), 1e-5)
        // The same check fails for the unsymmetrised network: TTA really changes its output.
        XCTAssertGreaterThan(try difference(symmetric: false), 1e-3)
    }

    func testFlipMatchesIndexArithmetic() {
        let shape = [2, 3, 4], n = 24
        let src = (0..<(2 * n)).map(Float.init)   // two planes
        var dst = [Float](repeating: 0, count: 2 * n)
        for axes in WindowPredictor.mirrorings {
            src.withUnsafeBufferPointer { s in dst.withUnsafeMutableBufferPointer {
                WindowPredictor.flip(s.baseAddress!, into: $0.baseAddress!, planes: 2, shape: shape, axes: axes)
            }}
            for p in 0..<2 { for z in 0..<2 { for y in 0..<3 { for x in 0..<4 {
                let fz = axes[0] ? 1 - z : z, fy = axes[1] ? 2 - y : y, fx = axes[2] ? 3 - x : x
                XCTAssertEqual(dst[p * n + (z * 3 + y) * 4 + x], src[p * n + (fz * 3 + fy) * 4 + fx], "\(axes)")
            }}}}
        }
        XCTAssertEqual(WindowPredictor.mirrorings.count, 8)
        XCTAssertEqual(Set(WindowPredictor.mirrorings).count, 8)
        XCTAssertEqual(WindowPredictor.mirrorings[0], [false, false, false])
    }

    func testVolumeSmallerThanThePatch() throws {
        var rng = SplitMix64(seed: 3)
        let net = try UNet3D(options: UNet3DOptions(inChannels: 1, classes: 2, features: [2, 4]), rng: &rng)
        let shape = GridShape(d: 5, h: 8, w: 3)
        let image = randomVolume(shape.count, seed: 6)
        let model = WindowModel(inChannels: 1, classes: 2, patch: [8, 8, 8]) {
            try net.predict($0, batch: $1, spatial: [8, 8, 8], into: $2)
        }
        let logits = try VolumeSegmenter.slidingWindowLogits(image, shape: shape, model: model, settings: InferenceSettings())
        XCTAssertEqual(logits.count, 2 * shape.count)
        // One window covers the zero-padded volume: its Gaussian weights cancel, so the result is
        // the network's output on the padded 8³ input, cropped to the first 5×8×3 voxels.
        var padded = [Float](repeating: 0, count: 512)
        for z in 0..<5 { for y in 0..<8 { for x in 0..<3 { padded[(z * 8 + y) * 8 + x] = image[(z * 8 + y) * 3 + x] } } }
        var out = [Float](repeating: 0, count: 2 * 512)
        try padded.withUnsafeBufferPointer { try net.predict($0.baseAddress!, batch: 1, spatial: [8, 8, 8], into: &out) }
        for c in 0..<2 { for z in 0..<5 { for y in 0..<8 { for x in 0..<3 {
            let got = logits[c * shape.count + (z * 8 + y) * 3 + x], want = out[c * 512 + (z * 8 + y) * 8 + x]
            XCTAssertEqual(got, want, accuracy: 1e-5 * max(1, abs(want)))
        }}}}
    }
}
