import Common
import XCTest
import Tensor
@testable import DataPipeline
@testable import Inference
import TestSupport

/// The checkpoint's preprocessing is undone: a pointwise "threshold" model (logit of class 1 =
/// the preprocessed intensity, class 0 = 0) labels the voxels brighter than the z-score mean,
/// and after cropping, normalising, resampling and restoring, those labels must sit on the
/// voxels of the original grid that are brighter than the mean — computed here independently.
final class InferRestoreTests: XCTestCase {
    let shape = GridShape(d: 14, h: 20, w: 18)
    /// Box of non-zero voxels, deliberately off-centre so the crop moves the grid.
    let box = GridBox(lower: GridPoint(d: 2, h: 3, w: 5), upper: GridPoint(d: 13, h: 17, w: 16))

    func raw() throws -> (CaseVolume, expected: [Int32]) {
        var rng = SplitMix64(seed: 21)
        var image = [Float](repeating: 0, count: shape.count)
        let centre = (0..<3).map { Double(box.lower[$0] + box.upper[$0]) / 2 }
        for z in box.lower.d..<box.upper.d { for y in box.lower.h..<box.upper.h { for x in box.lower.w..<box.upper.w {
            let r2 = pow(Double(z) - centre[0], 2) + pow(Double(y) - centre[1], 2) + pow(Double(x) - centre[2], 2)
            image[shape.index(z, y, x)] = (r2 < 16 ? 5 : 1) + Float.random(in: -0.2..<0.2, using: &rng)
        }}}
        // z-score inside the non-zero mask (the box): mean over the box, in Double.
        let inside = image.filter { $0 != 0 }.map(Double.init)
        let mean = inside.reduce(0, +) / Double(inside.count)
        let expected = image.map { $0 != 0 && Double($0) > mean ? Int32(7) : 0 }
        let volume = try CaseVolume(id: "blob", channels: 1, shape: shape, image: image, label: nil,
                                    spacing: Spacing(x: 1, y: 1, z: 1))
        return (volume, expected)
    }

    /// Logits [0, x]: class 1 wherever the preprocessed intensity is positive.
    let threshold = WindowModel(inChannels: 1, classes: 2, patch: [8, 8, 8]) { windows, count, out in
        let pv = 512
        for b in 0..<count {
            for i in 0..<pv { out[(2 * b) * pv + i] = 0; out[(2 * b + 1) * pv + i] = windows[b * pv + i] }
        }
    }

    func testCropAndZScoreAreUndoneExactly() throws {
        let (volume, expected) = try raw()
        var settings = InferenceSettings()
        settings.probabilities = true
        let result = try VolumeSegmenter.segment(volume, models: [threshold], preprocessing: PreprocessingOptions(),
                                                 labelValues: [0, 7], settings: settings)
        XCTAssertEqual(result.labels.count, shape.count)
        XCTAssertEqual(result.labels, expected)
        XCTAssertGreaterThan(expected.filter { $0 == 7 }.count, 100)
        // Outside the crop box: background with probability 1.
        let p = try XCTUnwrap(result.probabilities)
        XCTAssertEqual(p[shape.index(0, 0, 0)], 1)
        XCTAssertEqual(p[shape.count + shape.index(0, 0, 0)], 0)
    }

    func testResamplingIsUndoneUpToInterpolation() throws {
        let (volume, expected) = try raw()
        var preprocessing = PreprocessingOptions()
        preprocessing.targetSpacing = Spacing(x: 1.5, y: 0.8, z: 2)   // coarser in x and z, finer in y
        let result = try VolumeSegmenter.segment(volume, models: [threshold], preprocessing: preprocessing,
                                                 labelValues: [0, 7], settings: InferenceSettings())
        XCTAssertEqual(result.labels.count, shape.count)
        var both = 0, predicted = 0, reference = 0
        for (a, b) in zip(result.labels, expected) {
            if a == 7 { predicted += 1 }
            if b == 7 { reference += 1 }
            if a == 7 && b == 7 { both += 1 }
        }
        let dice = 2 * Double(both) / Double(predicted + reference)
        func centroid(_ labels: [Int32]) -> [Double] {
            var sum = [0.0, 0.0, 0.0], n = 0.0
            for (i, v) in labels.enumerated() where v == 7 {
                let p = shape.point(ofIndex: i)
                sum[0] += Double(p.d); sum[1] += Double(p.h); sum[2] += Double(p.w); n += 1
            }
            return sum.map { $0 / n }
        }
        // Where: the label's centroid is the ball's (measured: within 0.07 voxels). Cropping
        // without un-cropping would move it by the crop offset (2, 3, 5), a flip by ≥ 2 voxels.
        for (got, want) in zip(centroid(result.labels), centroid(expected)) { XCTAssertEqual(got, want, accuracy: 0.25) }
        // How much: thresholding linearly interpolated intensities close to the low side widens
        // the ball by about a voxel (measured Dice 0.79, 407 voxels for 268); a wrong scale
        // (e.g. resampling to the wrong shape) would not overlap like this.
        XCTAssertGreaterThan(dice, 0.7)
        XCTAssertTrue(result.labels.enumerated().allSatisfy { $0.element == 0 || volume.image[$0.offset] != 0 },
                      "labels only inside the non-zero box")
    }

    func testEnsembleAveragesTheSoftmax() throws {
        let (volume, _) = try raw()
        func constant(_ bias: [Float]) -> WindowModel {
            WindowModel(inChannels: 1, classes: 2, patch: [8, 8, 8]) { _, count, out in
                for b in 0..<count { for c in 0..<2 { for i in 0..<512 { out[(2 * b + c) * 512 + i] = bias[c] } } }
            }
        }
        var settings = InferenceSettings()
        settings.probabilities = true
        let result = try VolumeSegmenter.segment(volume, models: [constant([0, 1]), constant([2, -1])],
                                                 preprocessing: PreprocessingOptions(), labelValues: [0, 1], settings: settings)
        // softmax([0, 1])₁ = e/(1+e); softmax([2, −1])₁ = 1/(1+e³); mean inside the crop box.
        let e = 2.718281828459045   // Euler's number
        let want = (e / (1 + e) + 1 / (1 + e * e * e)) / 2
        let p = try XCTUnwrap(result.probabilities)
        XCTAssertEqual(Double(p[shape.count + shape.index(5, 5, 8)]), want, accuracy: 1e-6)
        XCTAssertEqual(result.labels[shape.index(5, 5, 8)], want > 0.5 ? 1 : 0)
    }
}
