import Foundation
import XCTest
@testable import NIfTI

/// NIfTI writes are atomic and durable: a failed write (no space, no permission) names the
/// output, leaves the previous file untouched and no temporary file behind.
final class DurableWriteTests: NIfTITestCase {
    func image(_ n: Int, value: Float) -> NIfTIImage {
        NIfTIImage(shape: [n, n, n], spacing: [1, 1, 1], values: [Float](repeating: value, count: n * n * n))
    }

    func leftovers() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.contains(".tmp") }
    }

    func testSuccessfulWriteLeavesOnlyTheOutput() throws {
        try image(4, value: 1).write(to: path("a.nii.gz"))
        try image(4, value: 2).write(to: path("a.nii.gz"))   // replaces
        XCTAssertEqual(try NIfTIImage.read(path: path("a.nii.gz")).floatValues().first, 2)
        XCTAssertEqual(try leftovers(), [])
        XCTAssertEqual(NIfTIImage.temporaryPath(for: path("a.nii.gz")), path("a.nii.gz") + ".tmp\(getpid())")
    }

    /// A disk that fills up mid-write, simulated with the file-size limit (RLIMIT_FSIZE; with
    /// SIGXFSZ ignored, write(2) fails with EFBIG instead of killing the process).
    func testFullDiskKeepsThePreviousFileAndNamesTheOutput() throws {
        for name in ["full.nii", "full.nii.gz"] {
            try image(4, value: 7).write(to: path(name))
            let before = try readBytes(path(name))
            var saved = rlimit()
            XCTAssertEqual(getrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved), 0)
            let oldHandler = signal(SIGXFSZ, SIG_IGN)
            var small = saved
            small.rlim_cur = 8192
            XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &small), 0)
            var thrown: Error?
            do { try image(64, value: 3).write(to: path(name), gzipLevel: 0) } catch { thrown = error }
            XCTAssertEqual(setrlimit(Int32(RLIMIT_FSIZE.rawValue), &saved), 0)
            signal(SIGXFSZ, oldHandler)
            guard let e = thrown as? NIfTIError else { return XCTFail("\(name): expected a NIfTIError, got \(String(describing: thrown))") }
            XCTAssertTrue(e.description.hasPrefix(path(name) + ": file is not "), e.description)
            XCTAssertTrue(e.description.contains("File too large"), e.description)
            XCTAssertEqual(try readBytes(path(name)), before, "\(name): the previous file is intact")
            XCTAssertEqual(try leftovers(), [], "\(name): no temporary file left")
        }
    }

    func testMissingFolderIsReportedWithTheOutputPath() throws {
        let out = path("no-such-folder") + "/x.nii.gz"
        let e = assertNIfTIError(field: "file", path: out) { try image(4, value: 1).write(to: out) }
        XCTAssertTrue(e?.description.hasPrefix(out + ": ") ?? false, "\(String(describing: e))")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// An unwritable header is reported before the output is touched: the old file stays.
    func testInvalidHeaderDoesNotTouchTheExistingFile() throws {
        try image(4, value: 5).write(to: path("keep.nii"))
        let before = try readBytes(path("keep.nii"))
        var bad = image(4, value: 1)
        bad.header.qformCode = 70_000
        assertNIfTIError(field: "qform_code", path: path("keep.nii")) { try bad.write(to: path("keep.nii")) }
        XCTAssertEqual(try readBytes(path("keep.nii")), before)
        XCTAssertEqual(try leftovers(), [])
    }
}
