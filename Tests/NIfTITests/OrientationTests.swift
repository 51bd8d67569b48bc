import XCTest
@testable import NIfTI

/// `AxisOrientation`: closest-RAS axis codes (checked against nibabel's `aff2axcodes` in
/// scripts/interop/test_orientation.py) and the exact reordering to and from the canonical grid,
/// checked here through world positions: the canonical grid's affine must put every value at
/// the same millimetre position as the file grid did.
final class OrientationTests: XCTestCase {
    /// Affine whose voxel axis v points along world axis `world[v]` with sign `sign[v]`,
    /// spacing `spacing[v]` and some origin.
    func affine(world: [Int], sign: [Double], spacing: [Double] = [0.8, 1.1, 2.5]) -> [[Double]] {
        var a: [[Double]] = [[0, 0, 0, -30], [0, 0, 0, 12.5], [0, 0, 0, 7], [0, 0, 0, 1]]
        for v in 0..<3 { a[world[v]][v] = sign[v] * spacing[v] }
        return a
    }

    /// All 48 axis orders and directions.
    var allOrientations: [(world: [Int], sign: [Double])] {
        let permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        return permutations.flatMap { p in
            (0..<8).map { m in (p, [m & 1 == 0 ? 1.0 : -1, m & 2 == 0 ? 1.0 : -1, m & 4 == 0 ? 1.0 : -1]) }
        }
    }

    func testAxisCodesOfCommonStorage() {
        XCTAssertEqual(AxisOrientation.closestRAS(affine(world: [0, 1, 2], sign: [1, 1, 1])).fileAxisCodes, "RAS")
        XCTAssertTrue(AxisOrientation.closestRAS(affine(world: [0, 1, 2], sign: [1, 1, 1])).isIdentity)
        XCTAssertEqual(AxisOrientation.closestRAS(affine(world: [0, 1, 2], sign: [-1, -1, 1])).fileAxisCodes, "LPS")
        // Voxel i runs superior→inferior, j right→left, k posterior→anterior.
        XCTAssertEqual(AxisOrientation.closestRAS(affine(world: [2, 0, 1], sign: [-1, -1, 1])).fileAxisCodes, "ILA")
    }

    func testObliqueAffineTakesTheClosestAxes() {
        // 25° rotation about z of an LAS grid: still closest to L, A, S.
        let t = 25.0 * Double.pi / 180
        let a: [[Double]] = [[-cos(t), -sin(t), 0, 0], [-sin(t), cos(t), 0, 0], [0, 0, 1.5, 0], [0, 0, 0, 1]]
        XCTAssertEqual(AxisOrientation.closestRAS(a).fileAxisCodes, "LAS")
    }

    func testCanonicalAffineIsClosestToRASForEveryStorage() {
        for o in allOrientations {
            let a = affine(world: o.world, sign: o.sign)
            let orientation = AxisOrientation.closestRAS(a)
            let c = orientation.canonicalAffine(a, fileShape: [3, 4, 5])
            XCTAssertEqual(AxisOrientation.closestRAS(c), .identity, "storage \(orientation)")
            for r in 0..<3 { XCTAssertGreaterThan(c[r][r], 0, "storage \(orientation) row \(r)") }
        }
    }

    /// Every value of the canonical grid sits where the file put it, in millimetres.
    func testReorderingKeepsEveryValueAtItsWorldPosition() {
        let fileShape = [3, 4, 5], channels = 2
        let voxels = fileShape.reduce(1, *)
        let data = (0..<(channels * voxels)).map { Int32($0) }
        for o in allOrientations {
            let a = affine(world: o.world, sign: o.sign)
            let orientation = AxisOrientation.closestRAS(a)
            let canonical = orientation.toCanonical(data, channels: channels, fileShape: fileShape)
            let cShape = orientation.canonicalShape(fileShape)
            let cAffine = orientation.canonicalAffine(a, fileShape: fileShape)
            // World position → value, from the file grid.
            var byPosition: [[Int]: Int32] = [:]
            for k in 0..<fileShape[2] { for j in 0..<fileShape[1] { for i in 0..<fileShape[0] {
                let p = world(a, i, j, k)
                byPosition[p] = data[voxels + i + fileShape[0] * (j + fileShape[1] * k)]
            } } }
            for k in 0..<cShape[2] { for j in 0..<cShape[1] { for i in 0..<cShape[0] {
                let value = canonical[voxels + i + cShape[0] * (j + cShape[1] * k)]
                XCTAssertEqual(byPosition[world(cAffine, i, j, k)], value, "storage \(orientation) voxel \([i, j, k])")
            } } }
            XCTAssertEqual(orientation.toFile(canonical, channels: channels, fileShape: fileShape), data,
                           "storage \(orientation): toFile must undo toCanonical")
        }
    }

    /// World position in units of 0.01 mm (exact keys for the comparison above).
    func world(_ a: [[Double]], _ i: Int, _ j: Int, _ k: Int) -> [Int] {
        (0..<3).map { r in Int(((a[r][0] * Double(i) + a[r][1] * Double(j) + a[r][2] * Double(k) + a[r][3]) * 100).rounded()) }
    }
}
