import XCTest
@testable import NIfTI

/// One test per branch of the affine choice (nibabel get_best_affine), with matrices computed
/// by hand from nifti1.h's formulas.
final class AffineTests: NIfTITestCase {
    func load(_ file: HandBuiltFile) throws -> NIfTIImage {
        try file.write(data: file.encode([Float](repeating: 0, count: 8)), to: path("a.nii"))
        return try NIfTIImage.read(path: path("a.nii"))
    }

    func assertClose(_ a: [[Double]], _ b: [[Double]], tolerance: Double, line: UInt = #line) {
        for i in 0..<4 { for j in 0..<4 {
            XCTAssertEqual(a[i][j], b[i][j], accuracy: tolerance, "[\(i)][\(j)] \(a) vs \(b)", line: line)
        } }
    }

    func testSformWinsWhenCodeSet() throws {
        var f = HandBuiltFile()
        f.sformCode = 2
        f.qformCode = 1
        f.quatern = [1, 0, 0]   // a qform that would differ
        f.srow = [[0, -1.5, 0, 10], [2, 0, 0, -3], [0, 0, 0.5, 5]]   // all exact in float32
        let image = try load(f)
        XCTAssertEqual(image.affine, [[0, -1.5, 0, 10], [2, 0, 0, -3], [0, 0, 0.5, 5], [0, 0, 0, 1]])
        XCTAssertEqual(image.spacing, [2, 1.5, 0.5])
        // Voxel x → world +y (A), voxel y → world −x (L), voxel z → +z (S).
        XCTAssertEqual(NIfTIAffine.axisCodes(of: image.affine), "ALS")
        XCTAssertEqual(NIfTIAffine.axisCodes(of: NIfTIAffine.base(of: image.header)), "LAS")
    }

    func testQformExactHalfTurnAboutX() throws {
        // b = 1, c = d = 0 → a = 0: R = diag(1, −1, −1). pixdim 2, 3, 4 with qfac −1 → z scaled
        // by −4. Translation = qoffset. All exact.
        var f = HandBuiltFile()
        f.qformCode = 1
        f.quatern = [1, 0, 0]
        f.pixdim = [-1, 2, 3, 4, 1, 1, 1, 1]
        f.qoffset = [10, 20, 30]
        XCTAssertEqual(try load(f).affine, [[2, 0, 0, 10], [0, -3, 0, 20], [0, 0, 4, 30], [0, 0, 0, 1]])
        f.pixdim[0] = 1   // qfac +1: z column is −4
        XCTAssertEqual(try load(f).affine, [[2, 0, 0, 10], [0, -3, 0, 20], [0, 0, -4, 30], [0, 0, 0, 1]])
        f.pixdim[0] = 0   // qfac 0 counts as 1 (nibabel _chk_qfac)
        XCTAssertEqual(try load(f).affine, [[2, 0, 0, 10], [0, -3, 0, 20], [0, 0, -4, 30], [0, 0, 0, 1]])
    }

    func testQformQuarterTurnAboutZWithQfacMinusOne() throws {
        // d = sin(45°), a = cos(45°): R = [[0,−1,0],[1,0,0],[0,0,1]]; diag(2, 3, −4) (qfac −1).
        // d is stored as float32 (relative error ≤ 6e-8), so entries are within ~1e-6 of the
        // exact matrix (scale ≤ 4 × 2 × 6e-8 ≈ 5e-7).
        var f = HandBuiltFile()
        f.qformCode = 2
        f.quatern = [0, 0, 0.5.squareRoot()]
        f.pixdim = [-1, 2, 3, 4, 1, 1, 1, 1]
        f.qoffset = [-5, 6.5, 7]
        assertClose(try load(f).affine, [[0, -3, 0, -5], [2, 0, 0, 6.5], [0, 0, -4, 7], [0, 0, 0, 1]], tolerance: 1e-6)
    }

    func testPixdimFallbackIsCentredWithXFlipped() throws {
        // nibabel shape_zoom_affine: diag(−p1, p2, p3), translation −(n−1)/2 · zoom with the
        // flipped x zoom: x −(3/2)·(−2) = 3, y −(4/2)·3 = −6, z −(5/2)·4 = −10.
        var f = HandBuiltFile()
        f.dim = [3, 4, 5, 6, 1, 1, 1, 1]
        f.pixdim = [1, 2, 3, 4, 1, 1, 1, 1]
        f.qformCode = 0
        f.sformCode = 0
        try f.write(data: f.encode([Float](repeating: 0, count: 120)), to: path("b.nii"))
        XCTAssertEqual(try NIfTIImage.read(path: path("b.nii")).affine,
                       [[-2, 0, 0, 3], [0, 3, 0, -6], [0, 0, 4, -10], [0, 0, 0, 1]])
        // Codes outside 0...5 count as 0 (nibabel _chk_xform_code) → same fallback.
        f.sformCode = 7
        f.qformCode = -1
        try f.write(data: f.encode([Float](repeating: 0, count: 120)), to: path("c.nii"))
        XCTAssertEqual(try NIfTIImage.read(path: path("c.nii")).affine,
                       [[-2, 0, 0, 3], [0, 3, 0, -6], [0, 0, 4, -10], [0, 0, 0, 1]])
    }

    func testPixdimFallbackTwoDimensionsPadsWithOne() throws {
        // 2-D: shape (4, 5, 1), zooms (2, 3, 1): translation (3, −6, 0).
        var f = HandBuiltFile()
        f.dim = [2, 4, 5, 1, 1, 1, 1, 1]
        f.pixdim = [1, 2, 3, 9, 1, 1, 1, 1]
        try f.write(data: f.encode([Float](repeating: 0, count: 20)), to: path("d.nii"))
        XCTAssertEqual(try NIfTIImage.read(path: path("d.nii")).affine,
                       [[-2, 0, 0, 3], [0, 3, 0, -6], [0, 0, 1, 0], [0, 0, 0, 1]])
    }

    func testInvalidQuaternionIsAnError() throws {
        var f = HandBuiltFile()
        f.qformCode = 1
        f.quatern = [0.9, 0.9, 0]   // b² + c² = 1.62 > 1
        try f.write(data: f.encode([Float](repeating: 0, count: 8)), to: path("q.nii"))
        let e = assertNIfTIError(field: "quatern_b/c/d", path: path("q.nii")) { _ = try NIfTIImage.read(path: path("q.nii")) }
        XCTAssertTrue(e?.description.contains("unit quaternion") ?? false)
    }

    func testQformAndSformExposed() throws {
        var f = HandBuiltFile()
        f.qformCode = 1
        f.sformCode = 3
        f.quatern = [1, 0, 0]
        f.srow = [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3]]
        let h = try load(f).header
        XCTAssertEqual(h.qform, [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 0], [0, 0, 0, 1]])
        XCTAssertEqual(h.sform, [[1, 0, 0, 1], [0, 1, 0, 2], [0, 0, 1, 3], [0, 0, 0, 1]])
        XCTAssertEqual(h.spaceUnit, "mm")
    }
}
