// Resampling to a target spacing, separate-z for anisotropic data, and restoring predictions.
import Common
import Tensor
import XCTest
@testable import DataPipeline
import TestSupport

final class PreprocessResampleTests: XCTestCase {
    /// World-linear ramp f(X, Y, Z) = 2X − Y + 0.5Z + 100 (mm), sampled at the voxel centres of
    /// a grid with an anisotropic spacing and a non-zero origin.
    func ramp(_ p: [Double]) -> Double { 2 * p[0] - p[1] + 0.5 * p[2] + 100 }

    func makeRampCase(shape: GridShape, spacing: Spacing) throws -> CaseVolume {
        var affine = Affine.diagonal(spacing)
        affine[0][3] = -10; affine[1][3] = 5; affine[2][3] = 20
        var image = [Float](repeating: 0, count: shape.count)
        for z in 0..<shape.d { for y in 0..<shape.h { for x in 0..<shape.w {
            image[shape.index(z, y, x)] = Float(ramp(Affine.apply(affine, Double(x), Double(y), Double(z))))
        } } }
        return try CaseVolume(id: "ramp", channels: 1, shape: shape, image: image, label: nil,
                              spacing: spacing, affine: affine)
    }

    func resampleOnly(_ target: Spacing) -> PreprocessingOptions {
        var o = PreprocessingOptions()
        o.cropToNonzero = false; o.zScore = false; o.targetSpacing = target
        return o
    }

    /// A mistyped target spacing must fail with the case named, not trap or allocate terabytes.
    func testAbsurdTargetSpacingIsRefusedNamingTheCase() throws {
        let raw = try makeRampCase(shape: GridShape(d: 4, h: 5, w: 6), spacing: Spacing(isotropic: 1))
        for tiny in [1e-4, 1e-300] {
            XCTAssertThrowsError(try Preprocessor.preprocess(raw, options: resampleOnly(Spacing(isotropic: tiny)))) {
                let text = "\($0)"
                XCTAssertTrue(text.hasPrefix("case ramp: resampled shape"), text)
                XCTAssertTrue(text.contains("at most \(Resampler.maxVoxels) voxels"), text)
            }
        }
        // The largest grid still allowed goes through the check (shape only; nothing resampled).
        XCTAssertEqual(try Resampler.checkedShape(GridShape(cube: 1024), from: Spacing(isotropic: 1),
                                                  to: Spacing(isotropic: 1), caseID: "big"), GridShape(cube: 1024))
    }

    func testTrilinearResampleOfRampMatchesAnalyticValuesThroughNewAffine() throws {
        let raw = try makeRampCase(shape: GridShape(d: 10, h: 12, w: 14), spacing: Spacing(x: 1.0, y: 1.5, z: 2.0))
        let c = try Preprocessor.preprocess(raw, options: resampleOnly(Spacing(x: 0.7, y: 1.1, z: 1.3)))
        // nnU-Net's shape rule: round(n · old / new).
        XCTAssertEqual(c.shape, GridShape(d: 15, h: 16, w: 20))
        // Trilinear interpolation reproduces a linear function exactly wherever the sampling
        // point lies inside the source grid (no edge clamping). Compare every such voxel with f at
        // its world position given by the NEW affine: this checks the values and the affine.
        // Tolerance 1e-3: Float storage of values ≈ 150 (ulp 1.5e-5) and a few interpolation ops.
        var checked = 0
        for z in 0..<c.shape.d { for y in 0..<c.shape.h { for x in 0..<c.shape.w {
            let u = [Resampler.sourceCoordinate(x, raw.shape.w, c.shape.w),
                     Resampler.sourceCoordinate(y, raw.shape.h, c.shape.h),
                     Resampler.sourceCoordinate(z, raw.shape.d, c.shape.d)]
            let inside = u[0] >= 0 && u[1] >= 0 && u[2] >= 0
                && u[0] <= Double(raw.shape.w - 1) && u[1] <= Double(raw.shape.h - 1) && u[2] <= Double(raw.shape.d - 1)
            guard inside else { continue }
            let world = Affine.apply(c.affine, Double(x), Double(y), Double(z))
            XCTAssertEqual(Double(c.image[c.shape.index(z, y, x)]), ramp(world), accuracy: 1e-3)
            checked += 1
        } } }
        XCTAssertGreaterThan(checked, c.shape.count / 2)
        // Actual spacing = old · n_old / n_new (the box is kept).
        XCTAssertEqual(c.spacing.x, 1.0 * 14 / 20, accuracy: 1e-12)
        XCTAssertEqual(c.spacing.z, 2.0 * 10 / 15, accuracy: 1e-12)
    }

    func testAnisotropicResampleUsesNearestAlongThickAxis() throws {
        // z spacing 4 mm vs 1 mm in-plane: ratio 4 > 3, so z is resampled with nearest neighbour.
        let raw = try makeRampCase(shape: GridShape(d: 6, h: 8, w: 8), spacing: Spacing(x: 1, y: 1, z: 4))
        XCTAssertEqual(Resampler.imageModes(current: raw.spacing, target: Spacing(x: 0.5, y: 0.5, z: 2)),
                       [.nearest, .linear, .linear])
        XCTAssertEqual(Resampler.imageModes(current: Spacing(isotropic: 1), target: Spacing(isotropic: 2)),
                       [.linear, .linear, .linear])
        let c = try Preprocessor.preprocess(raw, options: resampleOnly(Spacing(x: 0.5, y: 0.5, z: 2)))
        XCTAssertEqual(c.shape, GridShape(d: 12, h: 16, w: 16))
        // Each output slice equals the nearest source slice's in-plane interpolation: its value
        // is f at the in-plane world position and at the z of source slice round(u_z).
        for z in 0..<c.shape.d { for y in 1..<(c.shape.h - 1) { for x in 1..<(c.shape.w - 1) {
            let uz = Resampler.sourceCoordinate(z, raw.shape.d, c.shape.d)
            let k = min(raw.shape.d - 1, max(0, Int((uz + 0.5).rounded(.down))))
            let world = Affine.apply(c.affine, Double(x), Double(y), Double(z))
            let sliceZ = Affine.apply(raw.affine, 0, 0, Double(k))[2]
            let expected = ramp([world[0], world[1], sliceZ])
            XCTAssertEqual(Double(c.image[c.shape.index(z, y, x)]), expected, accuracy: 1e-3)
        } } }
    }

    func testLabelsResampleByNearestAndRestoreExactlyForFactorTwo() throws {
        var rng = SplitMix64(seed: 5)
        let shape = GridShape(d: 5, h: 6, w: 7)
        let image = (0..<shape.count).map { _ in Float(rng.uniform(1, 2)) }
        let label = (0..<shape.count).map { _ in UInt8.random(in: 0...4, using: &rng) }
        let raw = try CaseVolume(id: "lab", channels: 1, shape: shape, image: image, label: label,
                                 spacing: Spacing(isotropic: 1))
        let c = try Preprocessor.preprocess(raw, options: resampleOnly(Spacing(isotropic: 0.5)))
        XCTAssertEqual(c.shape, GridShape(d: 10, h: 12, w: 14))
        // Upsampling ×2 by nearest copies each label into a 2×2×2 block; labels stay in 0...4.
        for z in 0..<10 { for y in 0..<12 { for x in 0..<14 {
            XCTAssertEqual(c.label![c.shape.index(z, y, x)], label[shape.index(z / 2, y / 2, x / 2)])
        } } }
        // Restoring (×½ nearest) returns the original map exactly.
        XCTAssertEqual(try PredictionRestorer.restoreLabels(c.label!, shape: c.shape, geometry: c.geometry), label)
    }

    func testRestoreProbabilitiesAfterCropAndResample() throws {
        // Non-zero box in a larger grid, resampled ×2; a constant probability map restores to
        // the same constants inside the box and to background = 1 outside.
        let shape = GridShape(d: 8, h: 8, w: 8)
        var image = [Float](repeating: 0, count: shape.count)
        let box = GridBox(lower: GridPoint(d: 2, h: 1, w: 3), upper: GridPoint(d: 6, h: 7, w: 8))
        for i in 0..<shape.count where box.contains(shape.point(ofIndex: i)) { image[i] = 1 }
        let raw = try CaseVolume(id: "p", channels: 1, shape: shape, image: image, label: nil, spacing: Spacing(isotropic: 1))
        var o = PreprocessingOptions()
        o.targetSpacing = Spacing(isotropic: 0.5)
        let c = try Preprocessor.preprocess(raw, options: o)
        let probs = [Float](repeating: 0.25, count: c.shape.count) + [Float](repeating: 0.75, count: c.shape.count)
        let back = try PredictionRestorer.restoreProbabilities(probs, classes: 2, shape: c.shape, spacing: c.spacing,
                                                               geometry: c.geometry)
        XCTAssertEqual(back.count, 2 * shape.count)
        for i in 0..<shape.count {
            let inside = box.contains(shape.point(ofIndex: i))
            XCTAssertEqual(back[i], inside ? 0.25 : 1, accuracy: 1e-6)
            XCTAssertEqual(back[shape.count + i], inside ? 0.75 : 0, accuracy: 1e-6)
        }
        XCTAssertThrowsError(try PredictionRestorer.restoreLabels([1, 2], shape: c.shape, geometry: c.geometry))
    }
}
