import Common
import XCTest
@testable import Model
import TestSupport

final class CheckpointTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "checkpoint-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Standard check values of CRC-32/ISO-HDLC (the catalogue of parametrised CRC algorithms;
    /// also what zlib.crc32 returns) — independent of this implementation.
    func testCRC32KnownValues() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        XCTAssertEqual(CRC32.checksum([]), 0)
        XCTAssertEqual(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)), 0x414F_A339)
        var incremental = CRC32()
        incremental.update(Array("12345".utf8))
        incremental.update(Array("6789".utf8))
        XCTAssertEqual(incremental.value, 0xCBF4_3926)
    }

    func sample() -> Checkpoint {
        var checkpoint = Checkpoint()
        checkpoint.set("config", text: "seed: 7\nlabels: [0, 1, 2]\n")
        var model = ByteWriter()
        model.append((0..<10_000).map { Float($0) * 0.001 - 3 } + [.nan, .infinity, -0.0])
        checkpoint.set("model", model.bytes)
        checkpoint.set("empty", [])
        checkpoint.set("rng", [1, 2, 3, 4, 5, 6, 7, 8])
        return checkpoint
    }

    func testRoundTripKeepsEverySectionBitExact() throws {
        let path = folder + "/checkpoint_latest.ckpt"
        let written = sample()
        try written.write(to: path)
        let read = try Checkpoint.read(path: path)
        XCTAssertEqual(read, written)
        XCTAssertEqual(read.sections.map(\.name), ["config", "model", "empty", "rng"])
        XCTAssertEqual(try read.requireText("config", path: path), "seed: 7\nlabels: [0, 1, 2]\n")
        var reader = ByteReader(try read.require("model", path: path), path: path, section: "model")
        let floats = try reader.floats()
        try reader.finish()
        XCTAssertEqual(floats.count, 10_003)
        XCTAssertEqual(floats[1234], Float(1234) * 0.001 - 3)
        XCTAssertTrue(floats[10_000].isNaN)
        XCTAssertEqual(floats[10_002].sign, .minus)
        // The layout documented in Checkpoint: magic then version 1, little-endian.
        let bytes = try Checkpoint.readAllBytes(path: path)
        XCTAssertEqual(Array(bytes[0..<8]), Array("DROSEGCK".utf8))
        XCTAssertEqual(Array(bytes[8..<12]), [1, 0, 0, 0])
        XCTAssertEqual(Array(bytes[12..<16]), [4, 0, 0, 0])
    }

    func testReplacingASectionKeepsItsPosition() {
        var checkpoint = sample()
        checkpoint.set("model", [9])
        XCTAssertEqual(checkpoint.sections.map(\.name), ["config", "model", "empty", "rng"])
        XCTAssertEqual(checkpoint.section("model"), [9])
        XCTAssertNil(checkpoint.section("optimizer"))
    }

    /// A writer killed mid-write leaves a partial temporary file; the good checkpoint stays.
    func testInterruptedWriteNeverReplacesTheGoodCheckpoint() throws {
        let path = folder + "/checkpoint_latest.ckpt"
        let good = sample()
        try good.write(to: path)
        var newer = sample()
        newer.set("rng", [8, 7, 6, 5])
        let bytes = newer.encoded()
        for cut in [0, 3, 20, bytes.count / 2, bytes.count - 1, bytes.count] {
            try Checkpoint.writeAtomically(bytes, to: path, crashAfterBytes: cut)
            XCTAssertEqual(try Checkpoint.read(path: path), good, "after a crash at byte \(cut)")
            let temporary = Checkpoint.temporaryPath(for: path)
            XCTAssertTrue(FileManager.default.fileExists(atPath: temporary))
            if cut < bytes.count {
                XCTAssertThrowsError(try Checkpoint.read(path: temporary), "partial file at \(cut) must not read")
            }
        }
        // The next complete write replaces both the stale temporary file and the checkpoint.
        try newer.write(to: path)
        XCTAssertEqual(try Checkpoint.read(path: path), newer)
        XCTAssertFalse(FileManager.default.fileExists(atPath: Checkpoint.temporaryPath(for: path)))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["checkpoint_latest.ckpt"])
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    func testTruncatedFilesAreRefusedNamingTheFileAndPart() throws {
        let path = folder + "/c.ckpt"
        let bytes = sample().encoded()
        let headerEnd = bytes.count - (sample().sections.reduce(0) { $0 + $1.bytes.count })
        for (cut, part) in [(0, "the header"), (5, "the header"), (12, "the header"), (40, "the header"),
                            (headerEnd + 3, "section \"config\""), (bytes.count - 1, "section \"rng\"")] {
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: path))
            let text = message { _ = try Checkpoint.read(path: path) }
            XCTAssertTrue(text.hasPrefix("checkpoint \(path): truncated in \(part)"), "cut \(cut): \(text)")
            XCTAssertTrue(text.contains("file has \(cut)"), text)
        }
    }

    func testCorruptSectionAndHeaderAreRefused() throws {
        let path = folder + "/c.ckpt"
        var bytes = sample().encoded()
        bytes[bytes.count - 2] ^= 0x10  // inside "rng"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let section = message { _ = try Checkpoint.read(path: path) }
        XCTAssertTrue(section.hasPrefix("checkpoint \(path): corrupt section \"rng\": CRC32 is 0x"), section)

        bytes = sample().encoded()
        bytes[20] ^= 0x01  // inside the first table entry's name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let header = message { _ = try Checkpoint.read(path: path) }
        XCTAssertTrue(header.hasPrefix("checkpoint \(path): corrupt header: CRC32 is 0x"), header)

        bytes = sample().encoded() + [0, 0, 0]
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let trailing = message { _ = try Checkpoint.read(path: path) }
        XCTAssertTrue(trailing.hasPrefix("checkpoint \(path): 3 unexpected bytes after the last section"), trailing)
    }

    /// A table entry whose name has control characters (a damaged header whose CRC still holds,
    /// as the fuzz tests make) is refused in one line without quoting the name.
    func testDamagedSectionNameIsRefusedWithoutQuotingIt() throws {
        let path = folder + "/c.ckpt"
        var damaged = Checkpoint()
        damaged.set("]!# The built-in\nphantom", [1, 2, 3])
        try Data(damaged.encoded()).write(to: URL(fileURLWithPath: path))
        let text = message { _ = try Checkpoint.read(path: path) }
        XCTAssertEqual(text, "checkpoint \(path): malformed section table: entry 0 has a damaged name (24 bytes, "
                       + "at most 255 printable characters)")
        XCTAssertFalse(text.contains("\n"))
    }

    func testForeignFileIsRefused() throws {
        let path = folder + "/model.nii"
        try Data("\u{5c}\u{01}\0\0 a NIfTI header, not a checkpoint".utf8).write(to: URL(fileURLWithPath: path))
        let text = message { _ = try Checkpoint.read(path: path) }
        XCTAssertEqual(text, "checkpoint \(path): not a dro-seg checkpoint (starts with \"\\... a N\", "
                       + "expected \"DROSEGCK\")")
        XCTAssertTrue(text.hasSuffix("expected \"DROSEGCK\")"), text)
    }

    /// A file from a future format version: header re-checksummed so only the version is wrong.
    func testNewerVersionIsRefusedWithUpgradeAdvice() throws {
        let path = folder + "/future.ckpt"
        var bytes = sample().encoded()
        bytes[8] = 2
        let headerEnd = bytes.count - 4 - (sample().sections.reduce(0) { $0 + $1.bytes.count })
        var crc = ByteWriter()
        crc.append(CRC32.checksum(Array(bytes[0..<headerEnd])))
        bytes.replaceSubrange(headerEnd..<headerEnd + 4, with: crc.bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(message { _ = try Checkpoint.read(path: path) },
                       "checkpoint \(path): format version 2 was written by a newer dro-seg; "
                       + "this build reads versions 1...1 — upgrade dro-seg to resume it")
        bytes[8] = 0
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(message { _ = try Checkpoint.read(path: path) },
                       "checkpoint \(path): invalid format version 0 (allowed 1...1)")
    }

    func testMissingFileAndSectionAndShortSectionNameTheFile() throws {
        let path = folder + "/absent.ckpt"
        XCTAssertEqual(message { _ = try Checkpoint.read(path: path) },
                       "checkpoint \(path): cannot open: No such file or directory")
        XCTAssertEqual(message { _ = try sample().require("optimizer", path: "x.ckpt") },
                       "checkpoint x.ckpt: section \"optimizer\" is missing")
        var reader = ByteReader([1, 2, 3], path: "x.ckpt", section: "progress")
        XCTAssertEqual(message { _ = try reader.uint64("iteration") },
                       "checkpoint x.ckpt: section \"progress\" cannot be decoded: "
                       + "iteration is truncated: needs 8 bytes at offset 0, only 3 left")
    }
}
