import XCTest
@testable import Tensor

/// The pure parts of BLASRuntime: which core a flag set maps to (OpenBLAS dynamic.c's own tests)
/// and the /proc/cpuinfo parser. The re-execution itself is checked end to end by
/// scripts/interop/test_blas_core.py (it needs a fresh process).
final class BLASRuntimeTests: XCTestCase {
    func testPreferredCoreFollowsOpenBLASFeatureTests() {
        let avx2: Set<String> = ["sse3", "avx", "avx2", "fma"]
        let avx512 = avx2.union(["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"])
        XCTAssertEqual(BLASRuntime.preferredCore(flags: avx2), "Haswell")
        XCTAssertEqual(BLASRuntime.preferredCore(flags: avx512), "SkylakeX")
        XCTAssertEqual(BLASRuntime.preferredCore(flags: avx512.union(["avx512_bf16"])), "Cooperlake")
        // AVX-512 without DQ is not SkylakeX (Knights Landing): AVX2 kernels.
        XCTAssertEqual(BLASRuntime.preferredCore(flags: avx512.subtracting(["avx512dq"])), "Haswell")
        XCTAssertNil(BLASRuntime.preferredCore(flags: ["sse3", "avx"]))
        XCTAssertNil(BLASRuntime.preferredCore(flags: ["avx2"]), "AVX2 without FMA")
    }

    func testFallbackCores() {
        for core in ["Prescott", "PRESCOTT", "Core2", "Nehalem", "Unknown"] { XCTAssertTrue(BLASRuntime.isFallbackCore(core), core) }
        for core in ["Haswell", "SkylakeX", "Cooperlake", "Zen", "Sandybridge"] { XCTAssertFalse(BLASRuntime.isFallbackCore(core), core) }
    }

    func testCPUFlagsParsesFirstFlagsLine() throws {
        let path = NSTemporaryDirectory() + "cpuinfo-\(getpid())"
        let text = "processor\t: 0\nmodel name\t: Test\nflags\t\t: fpu sse3 avx2 fma avx512f\nbugs\t\t: none\n"
            + "processor\t: 1\nflags\t\t: fpu\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(BLASRuntime.cpuFlags(path: path), ["fpu", "sse3", "avx2", "fma", "avx512f"])
        XCTAssertNil(BLASRuntime.cpuFlags(path: path + ".missing"))
    }
}
