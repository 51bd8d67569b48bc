import XCTest
@testable import NIfTI

/// Writing "like" a source: the source's format version (NIfTI-2 keeps float64 geometry
/// exactly), its extensions, and a writability check that runs before any voxel exists.
final class WriteLikeTests: NIfTITestCase {
    /// Geometry no float32 holds exactly (0.1, 1/3, ...): a float32 round trip would change it.
    func nifti2Source(bigEndian: Bool = false) -> HandBuiltFile {
        var f = HandBuiltFile()
        f.nifti2 = true
        f.bigEndian = bigEndian
        f.dim = [3, 4, 3, 2, 1, 1, 1, 1]
        f.pixdim = [1, 0.1, 1.0 / 3, 2.2, 1, 1, 1, 1]
        f.sformCode = 2
        f.qformCode = 1
        f.srow = [[0.1, 0.01, 0, -12.345678901], [0, 1.0 / 3, 0, 7.1], [0, 0, 2.2, 0.3]]
        f.quatern = [0.1, 0.2, 0.3]
        f.qoffset = [1.1, -2.2, 3.3]
        f.extender = [1, 0, 0, 0]
        f.extensionBytes = f.extensionRecord(code: 6, content: Array("a comment".utf8))
            + f.extensionRecord(code: 40, content: (0..<21).map { UInt8($0) })
        return f
    }

    func testNIfTI2SourceIsWrittenAsNIfTI2WithExactGeometryAndExtensions() throws {
        for bigEndian in [false, true] {
            let f = nifti2Source(bigEndian: bigEndian)
            try f.write(data: f.encode((0..<24).map { Float($0) }), to: path("src.nii"))
            let source = try NIfTIImage.read(path: path("src.nii"))
            XCTAssertEqual(source.header.extensions.map(\.code), [6, 40])
            XCTAssertEqual(source.header.extensions[0].content, Array("a comment".utf8) + [UInt8](repeating: 0, count: 15),
                           "9 bytes + esize/ecode = 17, padded to 32 on disk")
            let labels = NIfTIImage.like(source, shape: [4, 3, 2], labels: (0..<24).map { Int32($0 % 3) })
            for name in ["out.nii", "out.nii.gz"] {
                try labels.write(to: path(name))
                let back = try NIfTIImage.read(path: path(name))
                XCTAssertEqual(back.header.format, .nifti2)
                XCTAssertEqual(back.header.srowX, [0.1, 0.01, 0, -12.345678901])
                XCTAssertEqual(back.header.srowY, [0, 1.0 / 3, 0, 7.1])
                XCTAssertEqual(back.header.pixdim, source.header.pixdim)
                XCTAssertEqual(back.header.quaternB, 0.1)
                XCTAssertEqual(back.header.qoffsetZ, 3.3)
                XCTAssertEqual(back.affine, source.affine, "float64 affine unchanged, bit for bit")
                XCTAssertEqual(back.header.extensions, source.header.extensions)
                XCTAssertEqual(back.header.voxOffset, 540 + 4 + 32 + 32)
                XCTAssertEqual(back.doubleValues(), (0..<24).map { Double($0 % 3) })
            }
        }
    }

    func testNIfTI1SourceKeepsNIfTI1AndExtensionLayout() throws {
        var f = HandBuiltFile()
        f.extender = [1, 0, 0, 0]
        f.extensionBytes = f.extensionRecord(code: 4, content: Array(repeating: 0x41, count: 40))
        try f.write(data: f.encode([Float](repeating: 1, count: 8)), to: path("n1.nii"))
        let source = try NIfTIImage.read(path: path("n1.nii"))
        try source.converted(to: .int16).write(to: path("c.nii"))
        let bytes = try readBytes(path("c.nii"))
        XCTAssertEqual(Array(bytes[344..<348]), Array("n+1\0".utf8))
        XCTAssertEqual(Array(bytes[348..<352]), [1, 0, 0, 0], "extender announces extensions")
        XCTAssertEqual(Array(bytes[352..<360]), [48, 0, 0, 0, 4, 0, 0, 0], "esize 8 + 40 → 48, ecode 4")
        XCTAssertEqual(bytes[108..<112].withUnsafeBytes { Float(bitPattern: $0.loadUnaligned(as: UInt32.self)) }, 400)
        XCTAssertEqual(bytes.count, 400 + 8 * 2)
        XCTAssertEqual(try NIfTIImage.read(path: path("c.nii")).header.extensions, source.header.extensions)
    }

    func testExtensionsOfAHdrImgPairAreRead() throws {
        var f = HandBuiltFile()
        f.pair = true
        f.extender = [1, 0, 0, 0]
        f.extensionBytes = f.extensionRecord(code: 6, content: Array("pair".utf8))
        try f.write(data: f.encode([Float](repeating: 2, count: 8)), to: path("p.hdr"))
        let image = try NIfTIImage.read(path: path("p.hdr"))
        XCTAssertEqual(image.header.extensions.map(\.code), [6])
        f.extensionBytes.removeLast(3)   // the .hdr now ends inside the extension
        try f.write(data: f.encode([Float](repeating: 2, count: 8)), to: path("p.hdr"))
        assertNIfTIError(field: "extension 1", path: path("p.hdr")) { _ = try NIfTIImage.read(path: path("p.hdr")) }
    }

    func testBadExtensionSizesAreRejectedNamingTheExtension() throws {
        for (esize, expected) in [(4, "is 4"), (-16, "is -16"), (64, "is 64")] {
            var f = HandBuiltFile()
            f.extender = [1, 0, 0, 0]
            f.extensionBytes = f.encode([Int32(esize), 6]) + [UInt8](repeating: 0, count: 24)   // 32 bytes before vox_offset
            try f.write(data: f.encode([Float](repeating: 0, count: 8)), to: path("e.nii"))
            let e = assertNIfTIError(field: "extension 1 esize", path: path("e.nii")) { _ = try NIfTIImage.read(path: path("e.nii")) }
            XCTAssertTrue(e?.description.contains(expected) ?? false, "\(String(describing: e))")
        }
        // A zero extender means "no extensions", whatever follows (as nibabel reads it).
        var f = HandBuiltFile()
        f.extensionBytes = f.encode([Int32(-1), 6]) + [UInt8](repeating: 0, count: 8)
        try f.write(data: f.encode([Float](repeating: 0, count: 8)), to: path("z.nii"))
        XCTAssertEqual(try NIfTIImage.read(path: path("z.nii")).header.extensions, [])
    }

    func testCheckWritableRejectsNIfTI1DimsAbove32767BeforeAnyWork() throws {
        let source = NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [Float](repeating: 0, count: 8))
        let wide = NIfTIHeader.like(source.header, shape: [40_000, 2, 1], datatype: .uint8)
        assertNIfTIError(field: "dim[1]", path: path("wide.nii.gz")) { try wide.checkWritable(to: path("wide.nii.gz")) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("wide.nii.gz")))
        var n2 = source.header
        n2.format = .nifti2
        XCTAssertNoThrow(try NIfTIHeader.like(n2, shape: [40_000, 2, 1], datatype: .uint8).checkWritable(to: path("wide.nii.gz")))
        assertNIfTIError(field: "file name", path: path("x.img")) { try source.header.checkWritable(to: path("x.img")) }
        assertNIfTIError(field: "dim[0]", path: path("x.nii")) {
            try NIfTIHeader.like(source.header, shape: [], datatype: .uint8).checkWritable(to: path("x.nii"))
        }
        assertNIfTIError(field: "dim[2]", path: path("x.nii")) {
            try NIfTIHeader.like(source.header, shape: [3, 0], datatype: .uint8).checkWritable(to: path("x.nii"))
        }
        var units = source.header
        units.xyztUnits = 300
        assertNIfTIError(field: "xyzt_units", path: path("x.nii")) { try units.checkWritable(to: path("x.nii")) }
    }
}
