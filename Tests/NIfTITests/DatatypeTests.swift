import XCTest
@testable import NIfTI

/// Every stored datatype in both byte orders, with extreme values; unsupported codes rejected.
final class DatatypeTests: NIfTITestCase {
    /// Writes `stored` as a 2×2×2 (8 values) file of datatype `code` and reads it back.
    func roundTrip(code: Int, bitpix: Int, bytes: (HandBuiltFile) -> [UInt8], bigEndian: Bool) throws -> NIfTIImage {
        var f = HandBuiltFile()
        f.datatype = code
        f.bitpix = bitpix
        f.bigEndian = bigEndian
        try f.write(data: bytes(f), to: path("t.nii"))
        let image = try NIfTIImage.read(path: path("t.nii"))
        XCTAssertEqual(image.header.littleEndian, !bigEndian)
        XCTAssertEqual(image.datatype.rawValue, code)
        return image
    }

    func check<T: FixedWidthInteger>(_ values: [T], code: Int) throws {
        for big in [false, true] {
            let image = try roundTrip(code: code, bitpix: T.bitWidth, bytes: { $0.encode(values) }, bigEndian: big)
            XCTAssertEqual(image.doubleValues(), values.map { Double($0) }, "code \(code) big-endian \(big)")
            XCTAssertEqual(image.floatValues(), values.map { Float(Double($0)) }, "code \(code) big-endian \(big)")
        }
    }

    func testIntegerTypesBothByteOrders() throws {
        try check([0, 1, 2, 127, 128, 200, 254, 255] as [UInt8], code: 2)
        try check([-128, -1, 0, 1, 2, 100, 126, 127] as [Int8], code: 256)
        try check([Int16.min, -300, -1, 0, 1, 258, 4096, Int16.max], code: 4)
        try check([0, 1, 255, 256, 1000, 40000, 65534, UInt16.max], code: 512)
        try check([Int32.min, -70000, -1, 0, 1, 16_777_217, 1 << 30, Int32.max], code: 8)
        try check([0, 1, 255, 65536, 1 << 31, 3_000_000_000, UInt32.max - 1, UInt32.max], code: 768)
        // int64 beyond 2^53 is not exact in Double; nibabel's get_fdata rounds the same way.
        try check([Int64.min, -(1 << 40), -1, 0, 1, 1 << 53, (1 << 53) + 1, Int64.max], code: 1024)
    }

    func testFloatTypesBothByteOrders() throws {
        let f32: [Float] = [-1.5, 0, .leastNonzeroMagnitude, 3.25, .greatestFiniteMagnitude, .nan, .infinity, -0.0]
        let f64: [Double] = [-1.5e300, 0, .leastNonzeroMagnitude, 3.25, .pi, .nan, -.infinity, 2]
        for big in [false, true] {
            let a = try roundTrip(code: 16, bitpix: 32, bytes: { $0.encode(f32) }, bigEndian: big)
            XCTAssertEqual(a.floatValues().map(\.bitPattern), f32.map(\.bitPattern))
            let b = try roundTrip(code: 64, bitpix: 64, bytes: { $0.encode(f64) }, bigEndian: big)
            XCTAssertEqual(b.doubleValues().map(\.bitPattern), f64.map(\.bitPattern))
            let s = b.statistics()
            XCTAssertEqual(s.count, 8)
            XCTAssertEqual(s.nanCount, 1)
            XCTAssertEqual(s.finiteCount, 6)
            XCTAssertEqual(s.min, -1.5e300)
            XCTAssertEqual(s.max, 3.25)
        }
    }

    func testUnsupportedDatatypesAreNamed() throws {
        for (code, name) in [(128, "rgb24"), (32, "complex64"), (1792, "complex128"), (2304, "rgba32"), (99, "unknown code")] {
            var f = HandBuiltFile()
            f.datatype = code
            try f.write(data: [UInt8](repeating: 0, count: 64), to: path("u.nii"))
            let e = assertNIfTIError(field: "datatype", path: path("u.nii")) { _ = try NIfTIImage.read(path: path("u.nii")) }
            XCTAssertTrue(e?.found.contains(name) ?? false, "\(String(describing: e))")
            XCTAssertTrue(e?.allowed.contains("16 (float32)") ?? false)
        }
    }

    func testWriteEveryStoredTypeAndReadBack() throws {
        let base = NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [0, 1, 2, 3, 4, 5, 6, 100])
        for t in NIfTIDatatype.allCases {
            let c = try base.converted(to: t)
            try c.write(to: path("w.nii.gz"))
            let back = try NIfTIImage.read(path: path("w.nii.gz"))
            XCTAssertEqual(back.datatype, t)
            XCTAssertEqual(back.doubleValues(), [0, 1, 2, 3, 4, 5, 6, 100], "\(t)")
        }
    }
}
