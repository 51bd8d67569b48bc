import Foundation
import XCTest
@testable import NIfTI

/// dro-inspect's library side: JSON keys and values, exit status, error lines, --write-copy.
final class InspectTests: NIfTITestCase {
    func testJSONReportKeysAndValues() throws {
        var image = NIfTIImage(shape: [3, 2, 2], spacing: [0.5, 1, 2], values: [1, 2, .nan, 4, 5, 6, 7, 8, 9, 10, 11, -.infinity])
        image.header.sclSlope = .nan   // nibabel writes NaN for "no scaling": printed as null
        image.header.extensions = [NIfTIExtension(code: 6, content: Array(repeating: 65, count: 24))]
        let line = Inspect.jsonReport(image, path: "a \"quoted\" path.nii")
        XCTAssertFalse(line.contains("\n"))
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["path", "format", "shape", "datatype", "pixdim", "qform_code", "sform_code",
                                          "affine", "scl_slope", "scl_inter", "extensions", "stats"])
        XCTAssertEqual(object["extensions"] as? [[String: Int]], [["code": 6, "esize": 32]])
        XCTAssertEqual(object["path"] as? String, "a \"quoted\" path.nii")
        XCTAssertEqual(object["format"] as? String, "nifti1")
        XCTAssertEqual(object["shape"] as? [Int], [3, 2, 2])
        XCTAssertEqual(object["datatype"] as? Int, 16)
        XCTAssertTrue(object["scl_slope"] is NSNull)
        XCTAssertEqual(object["affine"] as? [[Double]], [[0.5, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 0], [0, 0, 0, 1]])
        let stats = try XCTUnwrap(object["stats"] as? [String: Any])
        // Finite values: 1, 2, 4...11 → 10 values, sum 63; NaN counted, −∞ neither NaN nor finite.
        XCTAssertEqual(stats["count"] as? Int, 12)
        XCTAssertEqual(stats["nan_count"] as? Int, 1)
        XCTAssertEqual(stats["min"] as? Double, 1)
        XCTAssertEqual(stats["max"] as? Double, 11)
        XCTAssertEqual(stats["sum"] as? Double, 63)
        XCTAssertEqual(stats["mean"] as? Double, 6.3)
    }

    func testRunReportsEveryFileAndFailsOnAnyError() throws {
        try NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [Float](repeating: 1, count: 8)).write(to: path("ok.nii.gz"))
        try writeBytes([UInt8](repeating: 0, count: 400), to: path("bad.nii"))
        var options = Inspect.Options(paths: [path("bad.nii"), path("ok.nii.gz")])
        options.json = true
        var out: [String] = [], err: [String] = []
        XCTAssertEqual(Inspect.run(options, output: { out.append($0) }, errors: { err.append($0) }), 1)
        XCTAssertEqual(out.count, 1)
        XCTAssertTrue(out[0].contains("ok.nii.gz"))
        XCTAssertEqual(err.count, 1)
        XCTAssertTrue(err[0].contains("bad.nii") && err[0].contains("sizeof_hdr"), err[0])
        options.paths = [path("ok.nii.gz")]
        options.json = false
        out = []
        XCTAssertEqual(Inspect.run(options, output: { out.append($0) }, errors: { err.append($0) }), 0)
        XCTAssertTrue(out[0].contains("sform_code 1 (scanner)"), out[0])
    }

    func testWriteCopyTypes() throws {
        let source = NIfTIImage(shape: [2, 2, 2], spacing: [1, 1, 1], values: [0, 1, 2, 3, 4, 5, 6, 300])
        try source.write(to: path("s.nii"))
        for (type, expected) in [(Inspect.CopyType.same, NIfTIDatatype.float32), (.labels, .uint16),
                                 (.datatype(.int16), .int16), (.datatype(.float32), .float32)] {
            var options = Inspect.Options(paths: [path("s.nii")])
            options.writeCopy = path("c.nii.gz")
            options.copyType = type
            XCTAssertEqual(Inspect.run(options, output: { _ in }, errors: { XCTFail($0) }), 0)
            let copy = try NIfTIImage.read(path: path("c.nii.gz"))
            XCTAssertEqual(copy.datatype, expected)
            XCTAssertEqual(copy.floatValues(), source.floatValues())
        }
        XCTAssertEqual(Inspect.CopyType(name: "uint8"), .datatype(.uint8))
        XCTAssertNil(Inspect.CopyType(name: "rgb24"))
    }
}
