import XCTest
@testable import NIfTI

/// Malformed files: each error names the file and the field, the value found, what is allowed.
final class ErrorTests: NIfTITestCase {
    func write(_ f: HandBuiltFile, dataCount: Int = 8, name: String = "x.nii") throws -> String {
        try f.write(data: [UInt8](repeating: 0, count: dataCount * 4), to: path(name))
        return path(name)
    }

    func expect(_ field: String, _ p: String, contains text: String, line: UInt = #line) {
        let e = assertNIfTIError(field: field, path: p, line: line) { _ = try NIfTIImage.read(path: p) }
        XCTAssertTrue(e?.description.contains(text) ?? false, "\(String(describing: e)) lacks \(text)", line: line)
    }

    func testBadSizeofHdr() throws {
        var bytes = HandBuiltFile().headerBytes() + [UInt8](repeating: 0, count: 32)
        bytes[0] = 0x5D   // 349
        try writeBytes(bytes, to: path("s.nii"))
        expect("sizeof_hdr", path("s.nii"), contains: "349")
    }

    func testBadMagic() throws {
        var f = HandBuiltFile()
        f.magic = "abc"
        expect("magic", try write(f), contains: "abc")
        f.magic = "ni1"   // pair magic in a single .nii
        expect("magic", try write(f), contains: "n+1")
    }

    func testBadDims() throws {
        var f = HandBuiltFile()
        f.dim[0] = 8
        expect("dim[0]", try write(f), contains: "1...7")
        f.dim = [3, 2, 0, 2, 1, 1, 1, 1]
        expect("dim[2]", try write(f), contains: "is 0")
        f.dim = [3, 2, -5, 2, 1, 1, 1, 1]
        expect("dim[2]", try write(f), contains: "-5")
        var n2 = HandBuiltFile()
        n2.nifti2 = true
        n2.dim = [4, 1 << 40, 1 << 40, 1 << 20, 4, 1, 1, 1]   // product overflows Int64
        expect("dim", try write(n2), contains: "bytes of voxel data")
    }

    func testVoxOffsetPastEndAndShortData() throws {
        var f = HandBuiltFile()
        f.voxOffset = 100_000   // header claims data far past the end of a 400-byte file
        try writeBytes(f.headerBytes() + [UInt8](repeating: 0, count: 32), to: path("far.nii"))
        expect("vox_offset", path("far.nii"), contains: "100000")
        f.voxOffset = 200
        expect("vox_offset", try write(f), contains: "≥ 348")
        f.voxOffset = nil
        expect("voxel data", try write(f, dataCount: 5), contains: "32 bytes")
    }

    func testTruncatedAndCorruptGzip() throws {
        let image = NIfTIImage(shape: [20, 20, 20], spacing: [1, 1, 1], values: (0..<8000).map { Float($0) })
        try image.write(to: path("g.nii.gz"))
        let good = try readBytes(path("g.nii.gz"))
        try writeBytes(Array(good.prefix(good.count / 2)), to: path("t.nii.gz"))
        expect("gzip stream", path("t.nii.gz"), contains: "truncated")
        try writeBytes(Array(good.prefix(good.count - 4)), to: path("t2.nii.gz"))   // ISIZE cut off
        expect("gzip stream", path("t2.nii.gz"), contains: "truncated")
        var bad = good
        bad[bad.count - 6] ^= 0xFF   // inside the CRC-32
        try writeBytes(bad, to: path("c.nii.gz"))
        expect("gzip stream", path("c.nii.gz"), contains: "corrupt")
        // A valid gzip stream that holds less data than the header promises.
        var f = HandBuiltFile()
        f.dim = [3, 10, 10, 10, 1, 1, 1, 1]
        try writeBytes(try gzipMember(f.headerBytes() + [UInt8](repeating: 0, count: 100), in: directory), to: path("s.nii.gz"))
        expect("voxel data", path("s.nii.gz"), contains: "4000 bytes")
    }

    func testMissingFileAndShortHeader() throws {
        expect("file", path("nope.nii"), contains: "nope.nii")
        try writeBytes(Array(HandBuiltFile().headerBytes().prefix(200)), to: path("h.nii"))
        expect("header", path("h.nii"), contains: "200 bytes")
    }

    func testWriteErrors() throws {
        let image = NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [Float](repeating: 0, count: 8))
        let e = assertNIfTIError(field: "file name", path: path("x.img")) { try image.write(to: path("x.img")) }
        XCTAssertTrue(e?.allowed.contains(".nii.gz") ?? false)
        assertNIfTIError(field: "gzip level", path: path("x.nii.gz")) { try image.write(to: path("x.nii.gz"), gzipLevel: 12) }
        assertNIfTIError(field: "file", path: path("no/dir/x.nii")) { try image.write(to: path("no/dir/x.nii")) }
        var wide = NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [Float](repeating: 0, count: 8))
        wide.header.dim[1] = 40000   // a NIfTI-2 size that NIfTI-1 cannot hold
        assertNIfTIError(field: "dim[1]", path: path("w.nii")) { try wide.write(to: path("w.nii")) }
    }
}
