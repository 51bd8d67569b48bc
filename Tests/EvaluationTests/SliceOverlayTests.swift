import XCTest
@testable import Evaluation
@testable import Plotting

/// Overlay colours at known pixels: outlines of a 4×4 square (ground truth) and the same square
/// shifted by one column (prediction), on the ground-truth labels as background.
final class SliceOverlayTests: XCTestCase {
    func testOutlinesAndSliceChoice() {
        let shape = [8, 8, 3]
        var gt = [Int32](repeating: 0, count: 192), pred = gt
        for y in 2...5 { for x in 2...5 { gt[x + 8 * (y + 8 * 1)] = 1; pred[x + 1 + 8 * (y + 8 * 1)] = 1 } }
        XCTAssertEqual(SliceOverlay.chooseSlice(gt: gt, pred: pred, label: 1, shape: shape), 1)
        let png = SliceOverlay.render(gt: gt, pred: pred, intensity: nil, label: 1, shape: shape, z: 1)
        let scale = SliceOverlay.maxScale  // 8 px wide: enlarged by the maximum factor
        XCTAssertEqual(png.width, 8 * scale)
        func colour(_ x: Int, _ y: Int) -> RGB {
            let i = 3 * (x * scale + png.width * ((7 - y) * scale))  // row 0 shows y = 7
            return RGB(png.pixels[i], png.pixels[i + 1], png.pixels[i + 2])
        }
        XCTAssertEqual(colour(2, 3), .green)            // ground-truth left edge only
        XCTAssertEqual(colour(6, 3), .red)              // prediction right edge only
        XCTAssertEqual(colour(3, 2), SliceOverlay.both) // bottom edge of both
        XCTAssertEqual(colour(4, 4).r, colour(4, 4).g)  // interior: grey background
        XCTAssertEqual(colour(0, 0), .black)
    }
}
