import Common
import XCTest
@testable import Evaluation

/// Analytic cases of the metric definitions (docs/method.md §5) plus the brute-force oracle of TestMasks.
/// Distance tolerance 1e-9 mm: exact EDT vs direct sqrt of the same sums (rounding only).
final class SurfaceMetricsTests: XCTestCase {
    let iso = [1.0, 1.0, 1.0]
    let aniso = [0.5, 0.5, 3.0]

    func testIdenticalMasks() {
        let shape = [20, 18, 16]
        let m = TestMasks.ball(shape, centre: [9, 8, 7], radius: 5)
        let r = SegmentationMetrics.compare(gt: m, pred: m, shape: shape, spacing: aniso)
        XCTAssertEqual(r.dice, 1)
        XCTAssertEqual(r.hd, 0); XCTAssertEqual(r.hd95, 0); XCTAssertEqual(r.assd, 0)
        XCTAssertEqual(r.empty, .none)
        XCTAssertEqual(r.nGT, m.filter { $0 }.count)
        XCTAssertEqual(r.volumeGT, Double(r.nGT) * 0.75, accuracy: 1e-12)
    }

    /// One voxel shifted by (1,1,1): every distance is √(sx²+sy²+sz²), Dice 0.
    func testSingleVoxelDiagonalShift() {
        let shape = [6, 6, 6]
        let a = TestMasks.mask(shape) { x, y, z in x == 2 && y == 2 && z == 2 }
        let b = TestMasks.mask(shape) { x, y, z in x == 3 && y == 3 && z == 3 }
        for s in [iso, aniso] {
            let r = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: s)
            let d = (s[0] * s[0] + s[1] * s[1] + s[2] * s[2]).squareRoot()
            XCTAssertEqual(r.dice, 0)
            XCTAssertEqual(r.hd, d, accuracy: 1e-12)
            XCTAssertEqual(r.hd95, d, accuracy: 1e-12)
            XCTAssertEqual(r.assd, d, accuracy: 1e-12)
        }
        XCTAssertEqual(SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: iso).hd,
                       3.0.squareRoot(), accuracy: 1e-12)
    }

    /// A cube shifted diagonally by one voxel: the far corners are √3 apart, Dice = 2·9³/(2·10³).
    func testCubeDiagonalShift() {
        let shape = [16, 16, 16]
        let a = TestMasks.mask(shape) { x, y, z in (2...11).contains(x) && (2...11).contains(y) && (2...11).contains(z) }
        let b = TestMasks.mask(shape) { x, y, z in (3...12).contains(x) && (3...12).contains(y) && (3...12).contains(z) }
        let r = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: iso)
        XCTAssertEqual(r.dice, 2.0 * 729 / 2000, accuracy: 1e-15)
        XCTAssertEqual(r.hd, 3.0.squareRoot(), accuracy: 1e-12)
        assertOracle(a, b, shape, iso, r)
    }

    /// Concentric spheres of radii 8 and 5: distances near 3, within the voxelisation error
    /// (√3/2 per surface, so ±√3), and exactly the oracle's.
    func testSpheresOfTwoRadii() {
        let shape = [24, 24, 24]
        let big = TestMasks.ball(shape, centre: [11.5, 11.5, 11.5], radius: 8)
        let small = TestMasks.ball(shape, centre: [11.5, 11.5, 11.5], radius: 5)
        let r = SegmentationMetrics.compare(gt: big, pred: small, shape: shape, spacing: iso)
        let nBig = big.filter { $0 }.count, nSmall = small.filter { $0 }.count
        XCTAssertEqual(r.dice, 2.0 * Double(nSmall) / Double(nBig + nSmall), accuracy: 1e-15)
        XCTAssertEqual(r.hd, 3, accuracy: 3.0.squareRoot())
        XCTAssertEqual(r.assd, 3, accuracy: 3.0.squareRoot())
        assertOracle(big, small, shape, iso, r)
    }

    /// Boxes shifted by one slice along z at 0.5×0.5×3 mm: HD is the 3 mm slice thickness.
    func testAnisotropicSpacing() {
        let shape = [12, 12, 10]
        let a = TestMasks.mask(shape) { x, y, z in (2...8).contains(x) && (2...8).contains(y) && (2...5).contains(z) }
        let b = TestMasks.mask(shape) { x, y, z in (2...8).contains(x) && (2...8).contains(y) && (3...6).contains(z) }
        let r = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: aniso)
        XCTAssertEqual(r.hd, 3.0, accuracy: 1e-12)
        assertOracle(a, b, shape, aniso, r)
        assertOracle(a, b, shape, aniso, SegmentationMetrics.compare(
            gt: a, pred: b, shape: shape, spacing: aniso, options: MetricOptions(hd95Mode: .pooled)),
            pooled: true)
    }

    /// One far outlier voxel in the prediction: HD sees it, HD95 does not.
    func testOutlierVoxelHDversusHD95() {
        let shape = [40, 16, 16]
        let cube = TestMasks.mask(shape) { x, y, z in (2...11).contains(x) && (2...11).contains(y) && (2...11).contains(z) }
        var pred = cube
        pred[35 + 40 * (6 + 16 * 6)] = true  // 24 voxels beyond the cube face x = 11
        let r = SegmentationMetrics.compare(gt: cube, pred: pred, shape: shape, spacing: iso)
        XCTAssertEqual(r.hd, 24, accuracy: 1e-12)
        XCTAssertEqual(r.hd95, 0)
        XCTAssertGreaterThan(r.assd, 0)
        assertOracle(cube, pred, shape, iso, r)
    }

    /// The ground truth fills the image: its border voxels are surface (outside = background).
    func testMaskTouchingImageBorder() {
        let shape = [6, 6, 6]
        let full = [Bool](repeating: true, count: 216)
        let pred = TestMasks.mask(shape) { x, _, _ in x <= 4 }
        let r = SegmentationMetrics.compare(gt: full, pred: pred, shape: shape, spacing: iso)
        XCTAssertEqual(r.hd, 1, accuracy: 1e-12)
        let pair = MaskPair(box: VoxelBox(lo: [0, 0, 0], hi: [5, 5, 5]), imageShape: shape,
                            isGT: { full[$0] }, isPred: { pred[$0] })
        XCTAssertEqual(pair.surface(of: pair.gt).indices.count, 216 - 64)
        assertOracle(full, pred, shape, iso, r)
    }

    func testEmptyMaskPolicy() {
        let shape = [5, 5, 5]
        let none = [Bool](repeating: false, count: 125)
        let one = TestMasks.mask(shape) { x, y, z in x == 1 && y == 2 && z == 3 }
        let opts = MetricOptions(surfaceDiceTolerance: 1)
        let gtEmpty = SegmentationMetrics.compare(gt: none, pred: one, shape: shape, spacing: iso, options: opts)
        XCTAssertEqual(gtEmpty.empty, .gt)
        let predEmpty = SegmentationMetrics.compare(gt: one, pred: none, shape: shape, spacing: iso, options: opts)
        XCTAssertEqual(predEmpty.empty, .pred)
        for r in [gtEmpty, predEmpty] {
            XCTAssertEqual(r.dice, 0)
            XCTAssertEqual(r.hd, .infinity); XCTAssertEqual(r.hd95, .infinity); XCTAssertEqual(r.assd, .infinity)
            XCTAssertEqual(r.surfaceDice, 0)
        }
        let both = SegmentationMetrics.compare(gt: none, pred: none, shape: shape, spacing: iso, options: opts)
        XCTAssertEqual(both.empty, .both)
        XCTAssertEqual(both.nGT, 0); XCTAssertEqual(both.nPred, 0)
        for v in [both.dice, both.hd, both.hd95, both.assd, both.surfaceDice!] { XCTAssertTrue(v.isNaN) }
    }

    /// Surface Dice (MONAI, voxel count): shifted cube at tolerance 0 and at √3.
    func testSurfaceDiceTolerance() {
        let shape = [16, 16, 16]
        let a = TestMasks.mask(shape) { x, y, z in (2...11).contains(x) && (2...11).contains(y) && (2...11).contains(z) }
        let b = TestMasks.mask(shape) { x, y, z in (3...12).contains(x) && (3...12).contains(y) && (3...12).contains(z) }
        let wide = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: iso,
                                               options: MetricOptions(surfaceDiceTolerance: 3.0.squareRoot()))
        XCTAssertEqual(wide.surfaceDice, 1)
        let tight = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: iso,
                                                options: MetricOptions(surfaceDiceTolerance: 0))
        let d1 = TestMasks.directed(b, a, shape, iso), d2 = TestMasks.directed(a, b, shape, iso)
        let zeros = (d1 + d2).filter { $0 == 0 }.count
        XCTAssertEqual(tight.surfaceDice!, Double(zeros) / Double(d1.count + d2.count), accuracy: 1e-15)
    }

    /// Random blobs against the oracle, both HD95 modes.
    func testRandomMasksMatchOracle() {
        var rng = SplitMix64(seed: 42)
        let shape = [11, 9, 7]
        for _ in 0..<4 {
            let a = (0..<693).map { _ in rng.nextUnitDouble() < 0.3 }
            let b = (0..<693).map { _ in rng.nextUnitDouble() < 0.1 }
            for pooled in [false, true] {
                let r = SegmentationMetrics.compare(gt: a, pred: b, shape: shape, spacing: aniso,
                                                    options: MetricOptions(hd95Mode: pooled ? .pooled : .directed))
                assertOracle(a, b, shape, aniso, r, pooled: pooled)
            }
        }
    }

    private func assertOracle(_ gt: [Bool], _ pred: [Bool], _ shape: [Int], _ s: [Double],
                              _ r: LabelMetrics, pooled: Bool = false,
                              file: StaticString = #filePath, line: UInt = #line) {
        let o = TestMasks.oracle(gt: gt, pred: pred, shape: shape, spacing: s)
        XCTAssertEqual(r.hd, o.hd, accuracy: 1e-9, file: file, line: line)
        XCTAssertEqual(r.hd95, pooled ? o.hd95Pooled : o.hd95Directed, accuracy: 1e-9, file: file, line: line)
        XCTAssertEqual(r.assd, o.assd, accuracy: 1e-9, file: file, line: line)
    }
}
