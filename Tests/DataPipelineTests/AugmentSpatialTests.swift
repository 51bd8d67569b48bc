// Spatial augmentation: mirroring, rotation/scaling in one resample, elastic field, labels.
import Common
import Tensor
import Config
import XCTest
@testable import DataPipeline
import TestSupport

final class AugmentSpatialTests: XCTestCase {
    func makeCase(_ shape: GridShape, image f: (Int, Int, Int) -> Float, label l: ((Int, Int, Int) -> UInt8)? = nil) throws -> CaseVolume {
        var image = [Float](repeating: 0, count: shape.count)
        var label = [UInt8](repeating: 0, count: shape.count)
        for z in 0..<shape.d { for y in 0..<shape.h { for x in 0..<shape.w {
            image[shape.index(z, y, x)] = f(z, y, x)
            label[shape.index(z, y, x)] = l?(z, y, x) ?? 0
        } } }
        return try CaseVolume(id: "syn", channels: 1, shape: shape, image: image, label: l == nil ? nil : label,
                              spacing: Spacing(isotropic: 1))
    }

    func testFlipTwiceIsIdentityAndFlipOnceReversesTheAxis() throws {
        var rng = SplitMix64(seed: 1)
        let size = GridShape(d: 5, h: 6, w: 7)
        let original = Patch(image: (0..<(2 * size.count)).map { _ in Float(rng.uniform(-1, 1)) },
                             label: (0..<size.count).map { _ in UInt8.random(in: 0...5, using: &rng) },
                             size: size, channels: 2, origin: .zero)
        for axis in 0..<3 {
            var p = original
            Augmenter.flip(&p, axis: axis)
            for z in 0..<5 { for y in 0..<6 { for x in 0..<7 {
                var s = [z, y, x]
                s[axis] = size[axis] - 1 - s[axis]
                XCTAssertEqual(p.image[size.count + size.index(z, y, x)], original.image[size.count + size.index(s[0], s[1], s[2])])
                XCTAssertEqual(p.label![size.index(z, y, x)], original.label![size.index(s[0], s[1], s[2])])
            } } }
            Augmenter.flip(&p, axis: axis)
            XCTAssertEqual(p.image, original.image)
            XCTAssertEqual(p.label, original.label)
        }
    }

    func testRotationOfRampHasAnalyticGradient() throws {
        // f = y (ramp along h). Rotating the sampling grid by θ about d: patch voxel offset c reads
        // s_h = centre_h + cosθ·c_h − sinθ·c_w, so along the patch's h axis f grows by cosθ per
        // voxel and along w by −sinθ, and not at all along d. Trilinear interpolation is exact on
        // a linear function, so the finite differences match to Float rounding (1e-4).
        let c = try makeCase(GridShape(cube: 32), image: { _, y, _ in Float(y) })
        let theta = 0.35
        let t = SpatialTransform(angles: [theta, 0, 0], scale: [1, 1, 1])
        let size = GridShape(cube: 16)
        let p = t.apply(to: c, origin: GridPoint(d: 8, h: 8, w: 8), size: size, labelMode: .nearest)
        for z in 0..<15 { for y in 0..<15 { for x in 0..<15 {
            let v = p.image[size.index(z, y, x)]
            XCTAssertEqual(p.image[size.index(z, y + 1, x)] - v, Float(cos(theta)), accuracy: 1e-4)
            XCTAssertEqual(p.image[size.index(z, y, x + 1)] - v, Float(-sin(theta)), accuracy: 1e-4)
            XCTAssertEqual(p.image[size.index(z + 1, y, x)] - v, 0, accuracy: 1e-4)
        } } }
        // The patch centre maps to the case point origin + (P − 1)/2 = 15.5: f = 15.5 there.
        let mid = (p.image[size.index(7, 7, 7)] + p.image[size.index(8, 8, 8)] + p.image[size.index(7, 8, 8)] + p.image[size.index(8, 7, 7)]
                   + p.image[size.index(7, 7, 8)] + p.image[size.index(8, 8, 7)] + p.image[size.index(7, 8, 7)] + p.image[size.index(8, 7, 8)]) / 8
        XCTAssertEqual(mid, 15.5, accuracy: 1e-4)
        // Scaling by 1.3 (no rotation): slope 1.3 per voxel along h.
        let s = SpatialTransform(angles: [0, 0, 0], scale: [1.3, 1.3, 1.3]).apply(to: c, origin: GridPoint(d: 8, h: 8, w: 8),
                                                                                 size: size, labelMode: .nearest)
        XCTAssertEqual(s.image[size.index(3, 9, 3)] - s.image[size.index(3, 8, 3)], 1.3, accuracy: 1e-4)
    }

    func testRotateThenRotateBackRestoresInterior() throws {
        // Gaussian blob (amplitude 1, σ = 4 voxels) 7.8 voxels off-centre, roughly across the
        // rotation axis (so the first rotation moves it ~4 voxels), plus a weak ramp. Linear
        // interpolation errs by at most h²/8 · Σ|∂²f/∂x_i²| ≤ 3/8 · 1/σ² = 0.023 per resample;
        // two resamples: tolerance 0.05. Interior = within 11 voxels of the centre, where both
        // passes sample inside the grid.
        let n = 40, centre = Double(n - 1) / 2
        let shape = GridShape(cube: n)
        let c = try makeCase(shape, image: { z, y, x in
            let d2 = Double((z - 25) * (z - 25) + (y - 25) * (y - 25) + (x - 20) * (x - 20))
            return Float(exp(-d2 / 32) + 0.01 * Double(x))
        })
        let angles = [0.4, -0.3, 0.25]
        let forward = SpatialTransform(angles: angles, scale: [1, 1, 1])
        let once = forward.apply(to: c, origin: .zero, size: shape, labelMode: .nearest)
        let mid = try CaseVolume(id: "mid", channels: 1, shape: shape, image: once.image, label: nil, spacing: Spacing(isotropic: 1))
        // Inverse of R_d·R_h·R_w is R_w(−)·R_h(−)·R_d(−): build it from the transpose.
        let m = forward.matrix
        let inverse = SpatialTransform(matrix: [m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]], displacement: nil)
        let back = inverse.apply(to: mid, origin: .zero, size: shape, labelMode: .nearest)
        var worst: Float = 0, moved: Float = 0
        for i in 0..<shape.count {
            let p = shape.point(ofIndex: i)
            let r2 = [p.d, p.h, p.w].map { (Double($0) - centre) * (Double($0) - centre) }.reduce(0, +)
            guard r2 <= 121 else { continue }
            worst = max(worst, abs(back.image[i] - c.image[i]))
            moved = max(moved, abs(once.image[i] - c.image[i]))
        }
        XCTAssertLessThan(worst, 0.05)
        XCTAssertGreaterThan(moved, 0.3)   // the first rotation did change the image
        // Single-axis rotations: R(−θ) undoes R(θ) the same way.
        let r = SpatialTransform(angles: [0, 0.5, 0], scale: [1, 1, 1]).apply(to: c, origin: .zero, size: shape, labelMode: .nearest)
        let rc = try CaseVolume(id: "r", channels: 1, shape: shape, image: r.image, label: nil, spacing: Spacing(isotropic: 1))
        let rb = SpatialTransform(angles: [0, -0.5, 0], scale: [1, 1, 1]).apply(to: rc, origin: .zero, size: shape, labelMode: .nearest)
        for i in 0..<shape.count {
            let p = shape.point(ofIndex: i)
            let r2 = [p.d, p.h, p.w].map { (Double($0) - centre) * (Double($0) - centre) }.reduce(0, +)
            if r2 <= 121 { XCTAssertEqual(rb.image[i], c.image[i], accuracy: 0.05) }
        }
    }

    func testLabelsStayLabels() throws {
        // 4³ blocks of labels from {0, 2, 5, 7}: after rotation + scaling + elastic resampling,
        // in both label modes, every value is still in the set (no interpolated values like 3.5).
        let allowed: Set<UInt8> = [0, 2, 5, 7]
        let values: [UInt8] = [0, 2, 5, 7]
        let c = try makeCase(GridShape(cube: 32), image: { z, _, _ in Float(z) },
                             label: { z, y, x in values[(z / 4 * 7 + y / 4 * 3 + x / 4) % 4] })
        var rng = SplitMix64(seed: 4)
        for mode in [LabelInterpolation.nearest, .linearVote] {
            var o = AugmentationOptions.none
            o.rotation.enabled = true; o.rotation.probability = 1
            o.scaling.enabled = true; o.scaling.probability = 1
            o.elastic.enabled = true; o.elastic.probability = 1
            o.labelInterpolation = mode
            let aug = try Augmenter(options: o, patchSize: GridShape(cube: 24))
            for _ in 0..<5 {
                let p = aug.makePatch(from: c, origin: GridPoint(d: 4, h: 4, w: 4), using: &rng)
                XCTAssertTrue(Set(p.label!).isSubset(of: allowed), "\(mode): \(Set(p.label!))")
            }
        }
        // Two labels that fill the grid (no 0 anywhere): a rotated interior patch contains only
        // those two — no background leaking in and no value in between.
        let halves = try makeCase(GridShape(cube: 32), image: { _, _, _ in 1 }, label: { _, _, x in x < 16 ? 2 : 7 })
        for mode in [LabelInterpolation.nearest, .linearVote] {
            let p = SpatialTransform(angles: [0.3, 0, 0], scale: [0.9, 0.9, 0.9])
                .apply(to: halves, origin: GridPoint(d: 8, h: 8, w: 8), size: GridShape(cube: 16), labelMode: mode)
            XCTAssertEqual(Set(p.label!), [2, 7], "\(mode)")
        }
    }

    func testLinearVotePicksLargestWeightAndBreaksTiesLow() {
        var votes = [Float](repeating: 0, count: 256)
        // Corners 0–2 are label 4 (weights 0.1 each), corners 3–7 label 9 (0.14 each): 9 wins.
        let w = SIMD8<Float>(0.1, 0.1, 0.1, 0.14, 0.14, 0.14, 0.14, 0.14)
        XCTAssertEqual(SpatialTransform.sampleLabel(SIMD8(4, 4, 4, 9, 9, 9, 9, 9), weights: w, mode: .linearVote, votes: &votes), 9)
        // Nearest takes the single largest weight even if the class has less total weight.
        let w2 = SIMD8<Float>(0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1)
        XCTAssertEqual(SpatialTransform.sampleLabel(SIMD8(4, 9, 9, 9, 9, 9, 9, 9), weights: w2, mode: .nearest, votes: &votes), 4)
        XCTAssertEqual(SpatialTransform.sampleLabel(SIMD8(4, 9, 9, 9, 9, 9, 9, 9), weights: w2, mode: .linearVote, votes: &votes), 9)
        // Equal halves: the lower label, as argmax over sorted one-hot channels does.
        let half = SIMD8<Float>(repeating: 0.125)
        XCTAssertEqual(SpatialTransform.sampleLabel(SIMD8(6, 6, 6, 6, 3, 3, 3, 3), weights: half, mode: .linearVote, votes: &votes), 3)
        XCTAssertTrue(votes.allSatisfy { $0 == 0 })   // scratch left clean
    }

    func testElasticFieldHasRequestedMagnitudeAndIsSmooth() {
        var rng = SplitMix64(seed: 8)
        let size = GridShape(d: 20, h: 24, w: 28)
        let f = DisplacementField(size: size, sigma: [6, 6, 6], magnitude: [3, 2, 1], using: &rng)
        for a in 0..<3 {
            let peak = f.components[a].map(abs).max()!
            XCTAssertEqual(peak, Float([3, 2, 1][a]), accuracy: 1e-5)
            // Smooth: neighbouring voxels along w differ by far less than the peak (control
            // step 6 voxels → at most ~2·peak/6 per voxel for trilinear pieces).
            var maxStep: Float = 0
            for i in 0..<size.count where i % size.w != size.w - 1 {
                maxStep = max(maxStep, abs(f.components[a][i + 1] - f.components[a][i]))
            }
            XCTAssertLessThan(maxStep, peak / 2)
        }
    }
}
