import XCTest
@testable import Sampling

final class PatchCellsTests: XCTestCase {
    /// Hand-tiled example. Shape (100, 80, 50), box [10, 20, 0)..<(90, 60, 50), patch (64, 64, 32):
    /// x: extent 80 → 2 cells at 10 and min(74, 100−64) = 36; y: extent 40 → 1 cell at
    /// min(20, 80−64) = 16; z: extent 50 → 2 cells at 0 and min(32, 50−32) = 18.
    func testHandComputedTiling() throws {
        let c = PatchCells.Case(id: "A", shape: Voxel3(100, 80, 50), foreground: (Voxel3(10, 20, 0), Voxel3(90, 60, 50)))
        let cells = try PatchCells(cases: [c], patchSize: Voxel3(64, 64, 32))
        XCTAssertEqual(cells.count, 4)
        let origins = (0 ..< 4).map { cells.cell($0)!.origin }
        XCTAssertEqual(origins, [Voxel3(10, 16, 0), Voxel3(36, 16, 0), Voxel3(10, 16, 18), Voxel3(36, 16, 18)])
        XCTAssertNil(cells.cell(4))
        XCTAssertNil(cells.cell(-1))
    }

    /// A volume smaller than the patch gives one cell at the origin; no foreground tiles it all.
    func testSmallVolumesAndEmptyForeground() throws {
        let cells = try PatchCells(cases: [
            .init(id: "small", shape: Voxel3(20, 30, 10), foreground: (Voxel3(5, 5, 5), Voxel3(6, 6, 6))),
            .init(id: "empty", shape: Voxel3(128, 64, 64), foreground: nil),
        ], patchSize: Voxel3(64, 64, 64))
        XCTAssertEqual(cells.cellCount(caseIndex: 0), 1)
        XCTAssertEqual(cells.cell(0)!.origin, Voxel3(0, 0, 0))
        XCTAssertEqual(cells.cellCount(caseIndex: 1), 2)
        XCTAssertEqual(cells.cell(2)!.caseIndex, 1)
        XCTAssertEqual(cells.cell(2)!.origin, Voxel3(64, 0, 0))
        XCTAssertEqual(cells.caseID(1), "empty")
    }

    /// Random cases: index ↔ (case, origin) is a bijection, origins are distinct, cells stay in
    /// the volume, and every foreground voxel lies in some cell (brute force on small shapes).
    func testBijectionAndCoverageOnRandomCases() throws {
        var g = SeededGenerator(seed: 31)
        var cases = [PatchCells.Case]()
        for k in 0 ..< 25 {
            let s = Voxel3(1 + g.nextIndex(below: 20), 1 + g.nextIndex(below: 20), 1 + g.nextIndex(below: 20))
            let lo = Voxel3(g.nextIndex(below: s.x), g.nextIndex(below: s.y), g.nextIndex(below: s.z))
            let hi = Voxel3(lo.x + 1 + g.nextIndex(below: s.x - lo.x), lo.y + 1 + g.nextIndex(below: s.y - lo.y),
                            lo.z + 1 + g.nextIndex(below: s.z - lo.z))
            cases.append(.init(id: "c\(k)", shape: s, foreground: k % 5 == 0 ? nil : (lo, hi)))
        }
        let p = Voxel3(4, 6, 5)
        let cells = try PatchCells(cases: cases, patchSize: p)
        var seen = Set<[Int]>()
        for i in 0 ..< cells.count {
            let (c, o) = cells.cell(i)!
            XCTAssertEqual(cells.index(caseIndex: c, origin: o), i)
            XCTAssertTrue(seen.insert([c, o.x, o.y, o.z]).inserted)
            let s = cases[c].shape
            for a in 0 ..< 3 { XCTAssert(o[a] >= 0 && (o[a] + p[a] <= s[a] || o[a] == 0)) }
        }
        for (c, k) in cases.enumerated() {
            let (lo, hi) = k.foreground ?? (Voxel3(0, 0, 0), k.shape)
            let mine = (0 ..< cells.count).compactMap { cells.cell($0) }.filter { $0.caseIndex == c }.map { $0.origin }
            for x in lo.x ..< hi.x { for y in lo.y ..< hi.y { for z in lo.z ..< hi.z {
                XCTAssertTrue(mine.contains { $0.x <= x && x < $0.x + p.x && $0.y <= y && y < $0.y + p.y && $0.z <= z && z < $0.z + p.z },
                              "case \(c) voxel (\(x),\(y),\(z)) not covered")
            } } }
        }
        XCTAssertNil(cells.index(caseIndex: 0, origin: Voxel3(1, 1, 1000)))
        XCTAssertNil(cells.index(caseIndex: 99, origin: Voxel3(0, 0, 0)))
    }

    /// 10⁶ cells (1000 cases × 10³ cells) cost O(cases) here; with the sampler ≤ 32 bytes per sample.
    func testMillionCellsStayCheap() throws {
        let cases = (0 ..< 1000).map { PatchCells.Case(id: "case_\($0)", shape: Voxel3(320, 320, 320), foreground: nil) }
        let cells = try PatchCells(cases: cases, patchSize: Voxel3(32, 32, 32))
        XCTAssertEqual(cells.count, 1_000_000)
        let (c, o) = cells.cell(654_321)!
        XCTAssertEqual(c, 654)
        XCTAssertEqual(o, Voxel3(32 * 1, 32 * 2, 32 * 3))  // local 321 = 1 + 10·2 + 100·3
        let s = try HardnessWeightedSampler(count: cells.count, options: HardnessSamplerOptions(), generator: SeededGenerator(seed: 1))
        let perSample = Double(s.memoryBytes + cells.memoryBytes) / Double(cells.count)
        XCTAssertLessThanOrEqual(perSample, 32)
        print("patch sampler at 1e6 cells: \(perSample) bytes per sample")
    }

    func testInvalidGeometryNamesTheCase() {
        let bad = PatchCells.Case(id: "BraTS_001", shape: Voxel3(128, 128, 64), foreground: (Voxel3(0, 0, 0), Voxel3(10, 130, 5)))
        XCTAssertThrowsError(try PatchCells(cases: [bad], patchSize: Voxel3(8, 8, 8))) {
            XCTAssertEqual("\($0)", "case 'BraTS_001': foreground box (0, 0, 0)..<(10, 130, 5) is invalid on axis y: need 0 ≤ lower < upper ≤ shape 128")
        }
        let zero = PatchCells.Case(id: "z", shape: Voxel3(0, 4, 4), foreground: nil)
        XCTAssertThrowsError(try PatchCells(cases: [zero], patchSize: Voxel3(8, 8, 8))) { XCTAssertTrue("\($0)".hasPrefix("case 'z'"), "\($0)") }
        XCTAssertThrowsError(try PatchCells(cases: [], patchSize: Voxel3(8, 8, 8)))
        XCTAssertThrowsError(try PatchCells(cases: [zero], patchSize: Voxel3(8, 0, 8))) { XCTAssertTrue("\($0)".contains("patch_size"), "\($0)") }
    }
}
