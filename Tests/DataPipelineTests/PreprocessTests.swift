// Preprocessing: crop to non-zero, z-score inside the mask, and their inverses.
import Common
import Tensor
import XCTest
@testable import DataPipeline
import TestSupport

final class PreprocessTests: XCTestCase {
    /// A 1-channel case: random positive values inside a box (and a hole of zeros inside the
    /// box, which the non-zero mask fills), zeros elsewhere; label 1..3 inside the box.
    func makeBoxCase(seed: UInt64) throws -> (CaseVolume, GridBox) {
        var rng = SplitMix64(seed: seed)
        let shape = GridShape(d: 12, h: 15, w: 17)
        let box = GridBox(lower: GridPoint(d: 2, h: 3, w: 4), upper: GridPoint(d: 10, h: 11, w: 14))
        var image = [Float](repeating: 0, count: shape.count)
        var label = [UInt8](repeating: 0, count: shape.count)
        for i in 0..<shape.count where box.contains(shape.point(ofIndex: i)) {
            image[i] = Float(rng.uniform(50, 150))
            label[i] = UInt8.random(in: 1...3, using: &rng)
        }
        image[shape.index(6, 7, 9)] = 0   // enclosed hole: inside the mask after filling
        return (try CaseVolume(id: "box", channels: 1, shape: shape, image: image, label: label,
                               spacing: Spacing(x: 0.8, y: 0.9, z: 2.0)), box)
    }

    func testCropFindsNonzeroBoxAndUncropIsExact() throws {
        let (raw, box) = try makeBoxCase(seed: 1)
        var opts = PreprocessingOptions()
        opts.zScore = false
        let c = try Preprocessor.preprocess(raw, options: opts)
        XCTAssertEqual(c.geometry.cropBox, box)
        XCTAssertEqual(c.shape, box.shape)
        // Un-cropping restores every voxel exactly (both image and label are zero outside).
        let image = Cropping.uncrop(c.image, channels: 1, box: c.geometry.cropBox, into: raw.shape, fill: [0])
        XCTAssertEqual(image, raw.image)
        let label = try PredictionRestorer.restoreLabels(c.label!, shape: c.shape, geometry: c.geometry)
        XCTAssertEqual(label, raw.label!)
        // The affine of the cropped grid puts its voxel 0 where the box's corner was.
        let a = Affine.apply(c.affine, 0, 0, 0), b = Affine.apply(raw.affine, 4, 3, 2)
        for k in 0..<3 { XCTAssertEqual(a[k], b[k], accuracy: 1e-12) }
    }

    func testZScoreInsideMaskHasMeanZeroStdOne() throws {
        let (raw, box) = try makeBoxCase(seed: 2)
        let c = try Preprocessor.preprocess(raw, options: PreprocessingOptions())
        // Reference statistics computed here in Double over the filled mask = the whole box.
        var ref = [Double]()
        for i in 0..<raw.shape.count where box.contains(raw.shape.point(ofIndex: i)) { ref.append(Double(raw.image[i])) }
        let mean = ref.reduce(0, +) / Double(ref.count)
        let std = (ref.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(ref.count)).squareRoot()
        XCTAssertEqual(c.intensityStats![0].mean, mean, accuracy: 1e-9 * mean)
        XCTAssertEqual(c.intensityStats![0].std, std, accuracy: 1e-9 * std)
        // After normalisation: mean 0, std 1 over the mask. Tolerance 1e-5: values are stored
        // in Float (relative precision 6e-8) and summed over 640 voxels in Double.
        let v = c.image.map(Double.init)
        let m = v.reduce(0, +) / Double(v.count)
        let s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
        XCTAssertEqual(m, 0, accuracy: 1e-5)
        XCTAssertEqual(s, 1, accuracy: 1e-5)
        // The filled hole belongs to the mask: it holds (0 − μ)/σ, not 0.
        let hole = c.shape.index(6 - 2, 7 - 3, 9 - 4)
        XCTAssertEqual(Double(c.image[hole]), -mean / std, accuracy: 1e-5)
    }

    func testZScoreOutsideMaskIsZero() throws {
        // A ring of non-zero voxels around an L-shaped zero region that touches the border:
        // the zero region is not a hole, so after z-scoring it stays exactly 0.
        let shape = GridShape(d: 4, h: 6, w: 6)
        var image = [Float](repeating: 3, count: shape.count)
        for z in 0..<4 { for y in 0..<3 { for x in 0..<2 { image[shape.index(z, y, x)] = 0 } } }
        image[shape.index(0, 5, 5)] = 7
        let raw = try CaseVolume(id: "l", channels: 1, shape: shape, image: image, label: nil, spacing: Spacing(isotropic: 1))
        var o = PreprocessingOptions()
        o.cropToNonzero = false
        let c = try Preprocessor.preprocess(raw, options: o)
        for z in 0..<4 { for y in 0..<3 { for x in 0..<2 { XCTAssertEqual(c.image[shape.index(z, y, x)], 0) } } }
        XCTAssertGreaterThan(c.image[shape.index(0, 5, 5)], 0)
    }

    func testMultiChannelMaskIsUnionOfChannels() throws {
        let shape = GridShape(d: 3, h: 4, w: 5)
        var image = [Float](repeating: 0, count: 2 * shape.count)
        image[shape.index(1, 1, 1)] = 5                       // channel 0 only
        image[shape.count + shape.index(2, 3, 4)] = 9         // channel 1 only
        image[shape.count + shape.index(1, 1, 1)] = 1
        let raw = try CaseVolume(id: "mc", channels: 2, shape: shape, image: image, label: nil, spacing: Spacing(isotropic: 1))
        var o = PreprocessingOptions()
        o.zScore = false
        let c = try Preprocessor.preprocess(raw, options: o)
        XCTAssertEqual(c.geometry.cropBox, GridBox(lower: GridPoint(d: 1, h: 1, w: 1), upper: GridPoint(d: 3, h: 4, w: 5)))
    }

    func testPreprocessRejectsPreprocessedCaseAndBadOptions() throws {
        let (raw, _) = try makeBoxCase(seed: 3)
        let c = try Preprocessor.preprocess(raw, options: PreprocessingOptions())
        XCTAssertThrowsError(try Preprocessor.preprocess(c, options: PreprocessingOptions())) { e in
            XCTAssertTrue("\(e)".contains("case box"), "\(e)")
        }
        var o = PreprocessingOptions()
        o.targetSpacing = Spacing(x: 1, y: 0, z: 1)
        XCTAssertThrowsError(try Preprocessor.preprocess(raw, options: o)) { e in
            XCTAssertEqual("\(e)", "preprocessing.target_spacing.y = 0.0 is invalid; allowed: finite value > 0 mm")
        }
        XCTAssertThrowsError(try CaseVolume(id: "bad", channels: 1, shape: GridShape(cube: 2), image: [1, 2],
                                            label: nil, spacing: Spacing(isotropic: 1))) { e in
            XCTAssertEqual("\(e)", "case bad: image has 2 values, expected 8 from its shape")
        }
    }
}
