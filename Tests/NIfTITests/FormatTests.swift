import Common
import XCTest
@testable import NIfTI

/// File layouts: NIfTI-2, .hdr/.img pairs (plain and gzipped), extensions before vox_offset,
/// 1-D to 7-D shapes, concatenated gzip members.
final class FormatTests: NIfTITestCase {
    let values: [Float] = (0..<24).map { Float($0) * 1.5 - 7 }

    func testNIfTI2BothByteOrders() throws {
        for big in [false, true] {
            var f = HandBuiltFile()
            f.nifti2 = true
            f.bigEndian = big
            f.dim = [3, 2, 3, 4, 1, 1, 1, 1]
            f.pixdim = [1, 0.1, 0.2, 0.3, 1, 1, 1, 1]  // not exact in float32: must stay exact Double
            f.sformCode = 1
            f.srow = [[0.1, 0, 0, -1.1], [0, 0.2, 0, 2.2], [0, 0, 0.3, 3.3]]
            try f.write(data: f.encode(values), to: path("n2.nii"))
            let image = try NIfTIImage.read(path: path("n2.nii"))
            XCTAssertEqual(image.header.format, .nifti2)
            XCTAssertEqual(image.header.voxOffset, 544)
            XCTAssertEqual(image.shape, [2, 3, 4])
            XCTAssertEqual(image.floatValues(), values)
            XCTAssertEqual(image.affine, [[0.1, 0, 0, -1.1], [0, 0.2, 0, 2.2], [0, 0, 0.3, 3.3], [0, 0, 0, 1]])
            XCTAssertEqual(image.header.pixdim[3], 0.3)
        }
    }

    func testHdrImgPairOpenedFromEitherFile() throws {
        var f = HandBuiltFile()
        f.pair = true
        f.dim = [3, 2, 3, 4, 1, 1, 1, 1]
        try f.write(data: f.encode(values), to: path("p.hdr"))
        for name in ["p.hdr", "p.img"] {
            let image = try NIfTIImage.read(path: path(name))
            XCTAssertTrue(image.header.isPair)
            XCTAssertEqual(image.floatValues(), values, name)
        }
    }

    func testPairWithGzippedImageAndNonZeroVoxOffset() throws {
        var f = HandBuiltFile()
        f.pair = true
        f.voxOffset = 16
        f.dim = [3, 2, 3, 4, 1, 1, 1, 1]
        try f.write(data: f.encode(values), to: path("g.hdr"), imagePath: path("g.raw"))
        try writeBytes(try gzipMember(try readBytes(path("g.raw")), in: directory), to: path("g.img.gz"))
        XCTAssertEqual(try NIfTIImage.read(path: path("g.hdr")).floatValues(), values)
        XCTAssertEqual(try NIfTIImage.read(path: path("g.img.gz")).floatValues(), values)
    }

    func testMissingImgIsNamed() throws {
        var f = HandBuiltFile()
        f.pair = true
        try writeBytes(f.headerBytes(), to: path("lonely.hdr"))
        let e = assertNIfTIError(field: "image file", path: path("lonely.hdr")) { _ = try NIfTIImage.read(path: path("lonely.hdr")) }
        XCTAssertTrue(e?.allowed.contains("lonely.img") ?? false)
    }

    func testExtensionBytesBeforeVoxOffsetAreSkipped() throws {
        var f = HandBuiltFile()
        f.dim = [3, 2, 3, 4, 1, 1, 1, 1]
        // An extension flag of 1 and a 32-byte extension (esize 32, ecode 6 = comment).
        f.extensionBytes = [32, 0, 0, 0, 6, 0, 0, 0] + [UInt8](repeating: 0x41, count: 24)
        var head = f.headerBytes()
        head[348] = 1
        try writeBytes(head + f.encode(values), to: path("e.nii"))
        let image = try NIfTIImage.read(path: path("e.nii"))
        XCTAssertEqual(image.header.voxOffset, 384)
        XCTAssertEqual(image.floatValues(), values)
        try writeBytes(try gzipMember(head + f.encode(values), in: directory), to: path("e.nii.gz"))
        XCTAssertEqual(try NIfTIImage.read(path: path("e.nii.gz")).floatValues(), values)
    }

    func testOneToSevenDimensions() throws {
        let shapes = [[24], [4, 6], [2, 3, 4], [2, 3, 2, 2], [2, 3, 2, 2, 1], [1, 2, 3, 2, 2, 1], [1, 1, 2, 3, 2, 1, 2]]
        for shape in shapes {
            var f = HandBuiltFile()
            f.dim = [shape.count] + shape + [Int](repeating: 1, count: 7 - shape.count)
            try f.write(data: f.encode(values), to: path("d.nii.gz"))
            try writeBytes(try gzipMember(try readBytes(path("d.nii.gz")), in: directory), to: path("d.nii.gz"))
            let image = try NIfTIImage.read(path: path("d.nii.gz"))
            XCTAssertEqual(image.shape, shape)
            XCTAssertEqual(image.floatValues(), values)
            // Written back (NIfTI-1) and read again: same shape and data.
            try image.write(to: path("d2.nii"))
            XCTAssertEqual(try NIfTIImage.read(path: path("d2.nii")).shape, shape)
        }
    }

    func testConcatenatedGzipMembers() throws {
        var f = HandBuiltFile()
        f.dim = [3, 2, 3, 4, 1, 1, 1, 1]
        let file = f.headerBytes() + f.encode(values)
        // Three members split inside the header, inside the data, and one empty member.
        let parts = [Array(file[0..<100]), Array(file[100..<400]), [], Array(file[400...])]
        var joined: [UInt8] = []
        for p in parts { joined += try gzipMember(p, in: directory) }
        try writeBytes(joined, to: path("cat.nii.gz"))
        XCTAssertEqual(try NIfTIImage.read(path: path("cat.nii.gz")).floatValues(), values)
    }

    func testLargeGzipVolumeCrossesChunkBoundaries() throws {
        // 96³ float32 = 3.4 MiB of data: several 1 MiB input/output chunks.
        let n = 96
        var rng = SplitMix64(seed: 7)
        let big = (0..<(n * n * n)).map { _ in Float(Int(rng.next() % 1000)) * 0.5 }
        let image = NIfTIImage(shape: [n, n, n], spacing: [1, 1, 1], values: big)
        try image.write(to: path("big.nii.gz"), gzipLevel: 0)   // level 0: stored blocks, incompressible
        XCTAssertEqual(try NIfTIImage.read(path: path("big.nii.gz")).floatValues(), big)
        try image.write(to: path("big.nii.gz"), gzipLevel: 6)
        XCTAssertEqual(try NIfTIImage.read(path: path("big.nii.gz")).floatValues(), big)
    }
}
