// Intensity augmentation, options validation and reproducibility from a seed.
import Common
import Tensor
import Config
import XCTest
@testable import DataPipeline
import TestSupport

final class AugmentIntensityTests: XCTestCase {
    func randomSlice(_ n: Int, seed: UInt64) -> ArraySlice<Float> {
        var rng = SplitMix64(seed: seed)
        return ArraySlice((0..<n).map { _ in Float(rng.normal()) })
    }

    func moments(_ x: ArraySlice<Float>) -> (mean: Double, std: Double) {
        let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
        let v = x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)
        return (m, v.squareRoot())
    }

    func testGammaRetainsMeanAndStdAndIsIdentityAtOne() {
        let x = randomSlice(4096, seed: 1)
        let before = moments(x)
        for (g, invert) in [(Float(0.7), false), (1.5, false), (0.8, true), (1.4, true)] {
            var y = x
            IntensityTransforms.gamma(&y, gamma: g, invert: invert)
            let after = moments(y)
            // Float arithmetic over 4096 values: 1e-4 on moments of order 1.
            XCTAssertEqual(after.mean, before.mean, accuracy: 1e-4)
            XCTAssertEqual(after.std, before.std, accuracy: 1e-4)
            XCTAssertGreaterThan(zip(x, y).map { abs($0 - $1) }.max()!, 0.01)   // it did something
        }
        var y = x
        IntensityTransforms.gamma(&y, gamma: 1, invert: false)
        for (a, b) in zip(x, y) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testContrastKeepsMeanAndRangeBrightnessMultiplies() {
        let x = randomSlice(2048, seed: 2)
        var y = x
        IntensityTransforms.contrast(&y, factor: 0.6)   // shrinking: no clipping, mean unchanged
        XCTAssertEqual(moments(y).mean, moments(x).mean, accuracy: 1e-5)
        XCTAssertEqual(moments(y).std, 0.6 * moments(x).std, accuracy: 1e-4)
        var z = x
        IntensityTransforms.contrast(&z, factor: 1.5)   // stretching: clipped to the old range
        XCTAssertGreaterThanOrEqual(z.min()!, x.min()!)
        XCTAssertLessThanOrEqual(z.max()!, x.max()!)
        var b = x
        IntensityTransforms.multiply(&b, by: 1.2)
        for (u, v) in zip(x, b) { XCTAssertEqual(v, 1.2 * u, accuracy: 1e-6) }
    }

    func testBlurKeepsMassAndConstants() {
        let shape = GridShape(cube: 16)
        var impulse = ArraySlice([Float](repeating: 0, count: shape.count))
        impulse[impulse.startIndex + shape.index(8, 8, 8)] = 1
        IntensityTransforms.blur(&impulse, shape: shape, sigma: [0.8, 1.0, 0.6])
        // Normalised kernels, impulse far (≥ 7) from the edges: the sum stays 1 (Float sum: 1e-5).
        XCTAssertEqual(impulse.reduce(0, +), 1, accuracy: 1e-5)
        // Separable Gaussian: value at offset (0, 1, 0) / centre = exp(−1/2σ_h²) with σ_h = 1,
        // (the normalisation cancels in the ratio; 1 % covers Float rounding of tiny values).
        let ratio = Double(impulse[shape.index(8, 9, 8)] / impulse[shape.index(8, 8, 8)])
        XCTAssertEqual(ratio, exp(-0.5), accuracy: 0.01)
        // Kernel sizes of batchgeneratorsv2: odd size nearest to 6σ + ½ (Python rounding).
        XCTAssertEqual([0.5, 0.6, 0.75, 1.0, 2.0].map { IntensityTransforms.gaussianKernelSize(sigma: $0) }, [3, 5, 5, 7, 13])
        // Reflection at the border (torch "reflect"): a step at the edge of a 4-voxel line.
        var line = ArraySlice<Float>([1, 0, 0, 0])
        IntensityTransforms.blur(&line, shape: GridShape(d: 1, h: 1, w: 4), sigma: [0, 0, 0.5])
        let k = [exp(-2.0), 1, exp(-2.0)].map { $0 / (1 + 2 * exp(-2.0)) }   // 3 taps at σ = ½
        // Padded line: 0 | 1 0 0 0 | 0 → voxel 0 = k0·0 + k1·1 + k2·0; voxel 1 = k0·1.
        XCTAssertEqual(Double(line[0]), k[1], accuracy: 1e-6)
        XCTAssertEqual(Double(line[1]), k[0], accuracy: 1e-6)
        XCTAssertEqual(line[3], 0)
        var flat = ArraySlice([Float](repeating: 3, count: shape.count))
        IntensityTransforms.blur(&flat, shape: shape, sigma: [1, 1, 1])
        for v in flat { XCTAssertEqual(v, 3, accuracy: 1e-5) }
    }

    func testLowResolutionMatchesHandComputedNearestDownLinearUp() {
        // Image varying along w only: v(x) = x². Zoom ½ on 8 voxels: nearest-exact keeps
        // source voxels floor((o + ½)·2) = 1, 3, 5, 7 (values 1, 9, 25, 49); trilinear back to 8
        // samples the 4-grid at u = (o + ½)/2 − ½, clamped to [0, 3].
        let shape = GridShape(d: 2, h: 2, w: 8)
        var x = ArraySlice((0..<shape.count).map { Float(($0 % 8) * ($0 % 8)) })
        IntensityTransforms.simulateLowResolution(&x, shape: shape, zoom: 0.5)
        let kept: [Float] = [1, 9, 25, 49]
        let expected: [Float] = (0..<8).map { o in
            let u = min(3, max(0, (Double(o) + 0.5) / 2 - 0.5))
            let i = Int(u), t = Float(u - Double(i))
            return kept[i] + t * (kept[min(i + 1, 3)] - kept[i])
        }
        XCTAssertEqual(expected, [1, 3, 7, 13, 21, 31, 43, 49])
        // d and h shrink 2 → 1 and grow back: constant along them.
        for i in 0..<shape.count { XCTAssertEqual(x[i], expected[i % 8], accuracy: 1e-5) }
    }

    func testNoiseHasRequestedStdAndIsSharedByChannels() throws {
        var o = AugmentationOptions.none
        o.noise = RandomTransformOptions(probability: 1, range: ParameterRange(0.05, 0.05))
        let aug = try Augmenter(options: o, patchSize: GridShape(cube: 32))
        var p = Patch(image: [Float](repeating: 0, count: 2 * 32768) , label: nil, size: GridShape(cube: 32),
                      channels: 2, origin: .zero)
        for i in 32768..<65536 { p.image[i] = 1 }
        var rng = SplitMix64(seed: 3)
        aug.applyIntensity(to: &p, using: &rng)
        // σ = 0.05 (the drawn value is the standard deviation, as in batchgeneratorsv2). Sample
        // std of 32768 normals: relative standard error 1/√(2n) = 0.4 %; bound 4 × that.
        XCTAssertEqual(moments(p.image[0..<32768]).std, 0.05, accuracy: 0.016 * 0.05)
        // One noise field for all channels (synchronize_channels = True).
        for i in 0..<32768 { XCTAssertEqual(p.image[32768 + i] - 1, p.image[i], accuracy: 1e-6) }
    }

    func testBGContrastDrawsBelowAndAboveOneEquallyOften() {
        var rng = SplitMix64(seed: 4)
        let n = 10_000
        var below = 0
        for _ in 0..<n {
            let f = rng.bgContrastFactor(0.7, 1.5)
            XCTAssertTrue(f >= 0.7 && f <= 1.5)
            if f < 1 { below += 1 }
        }
        // Binomial(10000, 1/2): σ = 50, bound 4σ.
        XCTAssertEqual(Double(below), 5000, accuracy: 200)
    }

    func testOptionsValidationNamesTheKey() {
        var o = AugmentationOptions()
        XCTAssertNoThrow(try o.validate())
        o.gamma.range = ParameterRange(1.5, 0.7)
        XCTAssertThrowsError(try o.validate()) { e in
            XCTAssertEqual("\(e)", "augmentation.gamma.range = [1.5, 0.7] is invalid; allowed: lower ≤ upper, both in [0.01, 100.0] (exponent > 0)")
        }
        o = AugmentationOptions()
        o.rotation.probability = 1.2
        XCTAssertThrowsError(try o.validate()) { e in
            XCTAssertEqual("\(e)", "augmentation.rotation.probability = 1.2 is invalid; allowed: a probability in [0, 1]")
        }
        o = AugmentationOptions()
        o.mirrorAxes = [true]
        XCTAssertThrowsError(try Augmenter(options: o, patchSize: GridShape(cube: 8)))
        XCTAssertThrowsError(try BatchBuilder(patchSize: GridShape(cube: 8), foregroundFraction: 1.5)) { e in
            XCTAssertEqual("\(e)", "foreground_fraction = 1.5 is invalid; allowed: a fraction in [0, 1]")
        }
    }

    /// Every transform on, each firing with probability 1.
    static var everything: AugmentationOptions {
        var o = AugmentationOptions()
        for k in [\AugmentationOptions.rotation, \.scaling, \.elastic, \.noise, \.blur, \.brightness, \.contrast,
                  \.lowResolution, \.gamma, \.invertedGamma] {
            o[keyPath: k].enabled = true
            o[keyPath: k].probability = 1
        }
        o.blurProbabilityPerChannel = 1
        o.lowResolutionProbabilityPerChannel = 1
        return o
    }

    func testSameSeedSameBatchOtherSeedOtherBatch() throws {
        let cases = try PhantomGenerator.makeCases(count: 2, rareFraction: 0.5, seed: 1, shape: GridShape(cube: 24),
                                                   spacing: Spacing(isotropic: 3))
            .map { try Preprocessor.preprocess($0, options: PreprocessingOptions()) }
        let builder = try BatchBuilder(patchSize: GridShape(cube: 16), augmentation: Self.everything)
        func batch(_ seed: UInt64) throws -> TrainingBatch {
            var rng = SplitMix64(seed: seed)
            return try builder.makeBatch(cases: cases, caseIndices: [0, 1, 1], using: &rng)
        }
        let a = try batch(42), b = try batch(42), c = try batch(43)
        XCTAssertEqual(a.images, b.images)
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertEqual(a.origins, b.origins)
        XCTAssertNotEqual(a.images, c.images)
        XCTAssertEqual(a.images.count, 3 * 16 * 16 * 16)
        XCTAssertTrue(a.images.allSatisfy { $0.isFinite })
        XCTAssertTrue(Set(a.labels).isSubset(of: [0, 1, 2, 3, 4, 5]))
    }

    func testMirrorOnlyWithProbabilityOneFlipsAllAxes() throws {
        var o = AugmentationOptions.none
        o.mirrorEnabled = true
        o.mirrorProbabilityPerAxis = 1
        let shape = GridShape(d: 4, h: 5, w: 6)
        let c = try CaseVolume(id: "m", channels: 1, shape: shape, image: (0..<shape.count).map(Float.init),
                               label: (0..<shape.count).map { UInt8($0 % 7) }, spacing: Spacing(isotropic: 1))
        var rng = SplitMix64(seed: 0)
        let p = try Augmenter(options: o, patchSize: shape).makePatch(from: c, origin: .zero, using: &rng)
        // All three axes reversed = the linear index reversed.
        XCTAssertEqual(p.image, c.image.reversed())
        XCTAssertEqual(p.label!, c.label!.reversed())
    }
}
