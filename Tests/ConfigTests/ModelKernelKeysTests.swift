import Foundation
import XCTest
@testable import Config

/// `model.kernel_sizes` and `model.pool_strides`: decoding, load-time errors naming the key, and
/// the per-axis patch divisibility rule.
final class ModelKernelKeysTests: XCTestCase {
    func testAbsentOrNullMeansTheIsotropicNetwork() throws {
        for text in ["", "  kernel_sizes: null\n  pool_strides: null\n"] {
            let c = try decodeConfig(minimalData + "model:\n  features: [8, 16, 32]\n" + text)
            XCTAssertNil(c.model.kernelSizes); XCTAssertNil(c.model.poolStrides)
            XCTAssertEqual(c.model.levelKernels, [[3, 3, 3], [3, 3, 3], [3, 3, 3]])
            XCTAssertEqual(c.model.levelStrides, [[2, 2, 2], [2, 2, 2]])
            XCTAssertEqual(c.model.patchDivisors, [4, 4, 4])
            // Not written back, so resolved configs of existing runs are unchanged (resume compares them).
            XCTAssertFalse(try c.resolvedYAML().contains("kernel_sizes"))
        }
    }

    func testAnisotropicKeysDecodeAndRoundTrip() throws {
        let yaml = minimalData + """
            model:
              features: [8, 16, 32]
              kernel_sizes: [[3, 3, 1], [3, 3, 3], [3, 3, 3]]
              pool_strides: [[2, 2, 1], [2, 2, 2]]
            training:
              patch_size: [32, 32, 8]
            """
        let c = try decodeConfig(yaml)
        XCTAssertEqual(c.model.kernelSizes, [[3, 3, 1], [3, 3, 3], [3, 3, 3]])
        XCTAssertEqual(c.model.poolStrides, [[2, 2, 1], [2, 2, 2]])
        XCTAssertEqual(c.model.patchDivisors, [4, 4, 2])
        let resolved = try c.resolvedYAML()
        XCTAssertTrue(resolved.contains("kernel_sizes: [[3, 3, 1], [3, 3, 3], [3, 3, 3]]"), resolved)
        let again = try decodeConfig(resolved)
        XCTAssertEqual(again.model, c.model)
        // --set takes the same YAML.
        let set = try decodeConfig(minimalData + "model: {features: [8, 16]}\ntraining: {patch_size: [8, 8, 4]}\n",
                                   overrides: ["model.kernel_sizes=[[1, 3, 3], [3, 3, 3]]", "model.pool_strides=[[1, 2, 2]]"])
        XCTAssertEqual(set.model.kernelSizes, [[1, 3, 3], [3, 3, 3]])
        XCTAssertEqual(set.model.poolStrides, [[1, 2, 2]])
    }

    func testBadValuesAreReportedNamingTheKey() {
        let p = problems(minimalData + """
            model:
              features: [8, 16]
              kernel_sizes: [[3, 3, 2], [3, 3]]
              pool_strides: [[2, 3, 2]]
            """)
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:5: model.kernel_sizes[0]: value [3, 3, 2] is out of range; allowed: odd sizes (padding k//2 keeps the size)",
            "test.cfg:5: model.kernel_sizes[1]: found a list, expected a list of 3 integers, each ≥ 1",
            "test.cfg:6: model.pool_strides[0][1]: value 3 is out of range; allowed: an integer in [1, 2]",
        ])
        let q = problems(minimalData + "model:\n  features: [8, 16, 32]\n  kernel_sizes: [[3, 3, 3]]\n  pool_strides: [[2, 2, 2], [2, 2, 1], [1, 1, 1]]\n")
        XCTAssertEqual(q.map(\.description), [
            "test.cfg:5: model.kernel_sizes: has 1 entries for the 3 levels of model.features; allowed: 3 (one [kx, ky, kz] per level)",
            "test.cfg:6: model.pool_strides: has 3 entries for the 3 levels of model.features; allowed: 2 (one [sx, sy, sz] per downsampling)",
        ])
        let r = problems(minimalData + "model:\n  features: [8, 16]\n  kernel_sizes: 3\n")
        XCTAssertEqual(r.count, 1)
        XCTAssertTrue(r[0].description.hasPrefix("test.cfg:5: model.kernel_sizes: found 3, expected a list of [x, y, z] lists"),
                      r[0].description)
    }

    func testPatchMustBeDivisiblePerAxisByTheStrides() {
        let p = problems(minimalData + """
            model:
              features: [8, 16, 32]
              pool_strides: [[2, 2, 1], [2, 2, 2]]
            training:
              patch_size: [32, 30, 3]
            """)
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:7: training.patch_size: [32, 30, 3] must be divisible by [4, 4, 2] per axis (x, y, z: the product of each axis' model.pool_strides)"])
        // z = 6 is fine once z is pooled only once.
        XCTAssertNoThrow(try decodeConfig(minimalData + "model: {features: [8, 16, 32], pool_strides: [[2, 2, 1], [2, 2, 2]]}\ntraining: {patch_size: [32, 32, 6]}\n"))
    }

    /// `data.demo.spacing` (the anisotropic phantom): read, range-checked, written only when set.
    func testDemoSpacing() throws {
        let c = try decodeConfig("data:\n  dataset: d\n  demo: {spacing: [1.2, 1.2, 4.8]}\n")
        XCTAssertEqual(c.data.demo?.spacing, [1.2, 1.2, 4.8])
        XCTAssertTrue(try c.resolvedYAML().contains("spacing: [1.2, 1.2, 4.8]"))
        let d = try decodeConfig("data:\n  dataset: d\n  demo: {cases: 4}\n")
        XCTAssertEqual(d.data.demo?.spacing, [1.2, 1.2, 1.2])
        XCTAssertFalse(try d.resolvedYAML().contains("spacing: [1.2, 1.2, 1.2]"))
        let p = problems("data:\n  dataset: d\n  demo: {spacing: [1.2, 0, 4.8]}\n")
        XCTAssertEqual(p.map(\.description), [
            "test.cfg:3: data.demo.spacing[1]: value 0 is out of range; allowed: a number in [0.3, 20]"])
    }
}
