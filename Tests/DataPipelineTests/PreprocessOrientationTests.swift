import Foundation
import XCTest
import Common
import NIfTI
@testable import DataPipeline

/// Reorientation inside preprocessing: a case stored flipped and permuted is trained on in the
/// closest-RAS grid, and predictions go back onto the file grid exactly.
final class PreprocessOrientationTests: XCTestCase {
    /// An LPS-ish, axis-permuted storage: voxel i runs inferior→superior... (codes "PSL").
    let affine: [[Double]] = [[0, 0, -1.5, 30], [-1, 0, 0, 12], [0, 0.8, 0, -4], [0, 0, 0, 1]]
    let shape = GridShape(d: 7, h: 6, w: 5)   // NIfTI [5, 6, 7]

    func storedCase() throws -> CaseVolume {
        var rng = SplitMix64(seed: 11)
        var image = [Float](repeating: 0, count: shape.count), label = [UInt8](repeating: 0, count: shape.count)
        for z in 1..<6 { for y in 1..<5 { for x in 1..<4 {
            let i = shape.index(z, y, x)
            image[i] = 1 + Float(rng.next() % 1000) / 1000
            label[i] = UInt8(rng.next() % 3)
        } } }
        return try CaseVolume(id: "stored", channels: 1, shape: shape, image: image, label: label,
                              spacing: Spacing([1.0, 0.8, 1.5]), affine: affine)
    }

    func testCaseIsTrainedInTheClosestRASGridAndRestoredExactly() throws {
        let raw = try storedCase()
        var options = PreprocessingOptions()
        options.zScore = false
        let pre = try Preprocessor.preprocess(raw, options: options)
        XCTAssertEqual(pre.geometry.orientation.fileAxisCodes, "PSL")
        XCTAssertTrue(AxisOrientation.closestRAS(pre.affine).isIdentity, "\(pre.affine)")
        // Spacing follows the axes: canonical x is the file's k axis (1.5 mm), y its i, z its j.
        XCTAssertEqual(pre.spacing, Spacing([1.5, 1.0, 0.8]))
        // The cropped grid holds the 3×4×5 foreground box, permuted.
        XCTAssertEqual(pre.shape.niftiShape, [5, 3, 4])
        let restored = try PredictionRestorer.restoreLabels(pre.label!, shape: pre.shape, geometry: pre.geometry)
        XCTAssertEqual(restored, raw.label!)
        let probabilities = pre.image + pre.image.map { 1 - $0 }
        let back = try PredictionRestorer.restoreProbabilities(probabilities, classes: 2, shape: pre.shape,
                                                               spacing: pre.spacing, geometry: pre.geometry)
        // Class 0 carries the image inside the crop box and probability 1 outside it.
        XCTAssertEqual(Array(back[0..<shape.count]), raw.image.map { $0 == 0 ? 1 : $0 })
    }

    func testReorientationOffKeepsTheStoredGrid() throws {
        var options = PreprocessingOptions()
        options.reorient = false
        options.cropToNonzero = false
        let pre = try Preprocessor.preprocess(try storedCase(), options: options)
        XCTAssertTrue(pre.geometry.orientation.isIdentity)
        XCTAssertEqual(pre.shape, shape)
    }

    /// Checkpoints written before reorientation existed have no "reorient" key: their networks
    /// were trained on cases as stored, so the option must read as off for them.
    func testOptionsWithoutTheKeyReadAsNotReoriented() throws {
        let old = #"{"cropToNonzero":true,"zScore":true,"normalizeInsideMask":true,"anisotropyThreshold":3}"#
        let decoded = try JSONDecoder().decode(PreprocessingOptions.self, from: Data(old.utf8))
        XCTAssertFalse(decoded.reorient)
        XCTAssertTrue(PreprocessingOptions().reorient)
        let roundTrip = try JSONDecoder().decode(PreprocessingOptions.self,
                                                 from: try JSONEncoder().encode(PreprocessingOptions()))
        XCTAssertEqual(roundTrip, PreprocessingOptions())
    }
}
