import XCTest
@testable import NIfTI

/// value = scl_slope · stored + scl_inter when scl_slope is non-zero and finite, else stored.
final class ScalingTests: NIfTITestCase {
    let stored: [Int16] = [-4, -1, 0, 1, 2, 3, 100, 32767]

    func load(slope: Double, inter: Double, nifti2: Bool = false) throws -> NIfTIImage {
        var f = HandBuiltFile()
        f.nifti2 = nifti2
        f.datatype = 4
        f.bitpix = 16
        f.slope = slope
        f.inter = inter
        try f.write(data: f.encode(stored), to: path("s.nii"))
        return try NIfTIImage.read(path: path("s.nii"))
    }

    func testSlopeAndInterceptApplied() throws {
        for nifti2 in [false, true] {
            // 0.5 and −3 are exact in float32, so the expected values are exact in Double.
            let image = try load(slope: 0.5, inter: -3, nifti2: nifti2)
            let expected = stored.map { 0.5 * Double($0) - 3 }
            XCTAssertEqual(image.doubleValues(), expected)
            XCTAssertEqual(image.floatValues(), expected.map { Float($0) })
            XCTAssertEqual(image.statistics().sum, expected.reduce(0, +))
        }
    }

    func testFloatValuesAreRoundedDoubleValues() throws {
        // A slope not exact in float32: scaling is in Double, then rounded once to Float.
        let image = try load(slope: 0.1, inter: 0.3)
        XCTAssertEqual(image.floatValues(), image.doubleValues().map { Float($0) })
        XCTAssertEqual(image.doubleValues()[6], Double(Float(0.1)) * 100 + Double(Float(0.3)))
    }

    func testNoScalingWhenSlopeZeroOrNotFinite() throws {
        for slope in [0.0, .nan, .infinity, -.infinity] {
            let image = try load(slope: slope, inter: 7)
            XCTAssertNil(image.header.scaling)
            XCTAssertEqual(image.doubleValues(), stored.map { Double($0) }, "slope \(slope)")
        }
    }

    func testNonFiniteInterceptWithValidSlopeIsAnError() throws {
        // nibabel raises "Valid slope but invalid intercept" here too.
        let e = assertNIfTIError(field: "scl_inter", path: path("s.nii")) { _ = try load(slope: 2, inter: .nan) }
        XCTAssertTrue(e?.allowed.contains("finite") ?? false)
    }
}
