import XCTest
import Model
@testable import Training

/// The checkpoint's "compute" section and the warning on a resume under other kernels.
final class ComputeRecordTests: XCTestCase {
    let here = ComputeRecord(openblasCore: "Cooperlake", kernels: ["winograd_gemm": "blas", "conv_kernels": "avx2"])

    func checkpoint(with record: ComputeRecord?) throws -> Checkpoint {
        var c = Checkpoint()
        c.set("config", Array("x".utf8))
        if let record { c.set(ComputeRecord.sectionName, try Checkpoint.json(record)) }
        return c
    }

    func testSameKernelsOrNoRecordGiveNoWarning() throws {
        XCTAssertNil(try ComputeRecord.resumeWarning(try checkpoint(with: here), path: "c.ckpt", current: here))
        XCTAssertNil(try ComputeRecord.resumeWarning(try checkpoint(with: nil), path: "c.ckpt", current: here))
    }

    func testOtherKernelsAreNamedInTheWarning() throws {
        let there = ComputeRecord(openblasCore: "Haswell", kernels: ["winograd_gemm": "avx2", "conv_kernels": "avx2"])
        let warning = try ComputeRecord.resumeWarning(try checkpoint(with: there), path: "c.ckpt", current: here)
        XCTAssertEqual(warning, "warning: c.ckpt was written with other kernels (OpenBLAS Haswell → Cooperlake, "
                       + "winograd_gemm avx2 → blas); training continues, but not bit-identically to an uninterrupted run")
    }

    func testRecordIsReadFromItsJSONKeys() throws {
        var c = try checkpoint(with: nil)
        c.set(ComputeRecord.sectionName, Array(#"{"openblas_core": "Zen", "kernels": {"conv_kernels": "swift"}}"#.utf8))
        let warning = try ComputeRecord.resumeWarning(c, path: "c.ckpt", current: here)
        XCTAssertTrue(warning?.contains("OpenBLAS Zen → Cooperlake") ?? false, "\(String(describing: warning))")
        XCTAssertTrue(warning?.contains("winograd_gemm none → blas") ?? false, "\(String(describing: warning))")
    }
}
