import XCTest
@testable import NIfTI

/// Write → read round trips through .nii and .nii.gz: data, geometry and codes survive.
final class RoundTripTests: NIfTITestCase {
    func sampleImage() -> NIfTIImage {
        let shape = [5, 4, 3]
        let values = (0..<60).map { Float($0) * 0.25 - 3 }
        return NIfTIImage(shape: shape, spacing: [0.5, 0.75, 2], values: values)
    }

    func testFloatRoundTripPlainAndGzip() throws {
        let image = sampleImage()
        for name in ["a.nii", "a.nii.gz"] {
            try image.write(to: path(name))
            let back = try NIfTIImage.read(path: path(name))
            XCTAssertEqual(back.shape, [5, 4, 3])
            XCTAssertEqual(back.datatype, .float32)
            XCTAssertEqual(back.floatValues(), image.floatValues())
            XCTAssertEqual(back.header.qformCode, 1)
            XCTAssertEqual(back.header.sformCode, 1)
            XCTAssertEqual(back.spacing, [0.5, 0.75, 2])
            // Diagonal affine: sform rows diag(spacing), translation 0 (exact in float32).
            XCTAssertEqual(back.affine, [[0.5, 0, 0, 0], [0, 0.75, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]])
            XCTAssertEqual(back.header.voxOffset, 352)
        }
    }

    func testGzipFileStartsWithGzipMagic() throws {
        try sampleImage().write(to: path("b.nii.gz"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path("b.nii.gz")))
        XCTAssertEqual(Array(bytes.prefix(2)), [0x1f, 0x8b])
        // RFC 1952 XFL byte (offset 8): zlib sets 4 for level 1 (fastest), 2 for level 9.
        XCTAssertEqual(bytes[8], 4, "default level is 1, as nibabel")
        try sampleImage().write(to: path("c.nii.gz"), gzipLevel: 9)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("c.nii.gz")))[8], 2)
    }

    func testLikeCopiesGeometryAndChoosesLabelType() throws {
        var reference = sampleImage()
        reference.header.sformCode = 2
        reference.header.qformCode = 4
        reference.header.srowX = [0, -1.5, 0, 10]
        reference.header.quaternB = 0.5
        reference.header.pixdim[0] = -1
        reference.header.xyztUnits = 10
        let small = NIfTIImage.like(reference, shape: [5, 4, 3], labels: (0..<60).map { Int32($0 % 7) })
        XCTAssertEqual(small.datatype, .uint8)
        let large = NIfTIImage.like(reference, shape: [5, 4, 3], labels: (0..<60).map { Int32($0 * 1000) })
        XCTAssertEqual(large.datatype, .uint16)
        try large.write(to: path("labels.nii.gz"))
        let back = try NIfTIImage.read(path: path("labels.nii.gz"))
        XCTAssertEqual(back.doubleValues(), (0..<60).map { Double($0 * 1000) })
        XCTAssertEqual(back.header.sformCode, 2)
        XCTAssertEqual(back.header.qformCode, 4)
        XCTAssertEqual(back.header.srowX, [0, -1.5, 0, 10])
        XCTAssertEqual(back.header.quaternB, 0.5)
        XCTAssertEqual(back.header.pixdim, reference.header.pixdim)
        XCTAssertEqual(back.header.xyztUnits, 10)
        XCTAssertEqual(back.header.sclSlope, 1)
        XCTAssertEqual(back.header.sclInter, 0)
        let floats = NIfTIImage.like(reference, shape: [5, 4, 3], values: [Float](repeating: 1.5, count: 60))
        XCTAssertEqual(floats.datatype, .float32)
        XCTAssertEqual(floats.affine, reference.affine)
    }

    func testConvertedRoundTrip() throws {
        let labels = NIfTIImage.like(sampleImage(), shape: [5, 4, 3], labels: (0..<60).map { Int32($0) - 30 })
        XCTAssertEqual(labels.datatype, .int16)
        for target in [NIfTIDatatype.int16, .int32, .float32, .float64, .int64] {
            let c = try labels.converted(to: target)
            try c.write(to: path("c.nii"))
            let back = try NIfTIImage.read(path: path("c.nii"))
            XCTAssertEqual(back.datatype, target)
            XCTAssertEqual(back.doubleValues(), labels.doubleValues())
        }
        XCTAssertThrowsError(try labels.converted(to: .uint8))
    }
}
