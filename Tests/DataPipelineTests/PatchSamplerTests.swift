// Patch locations (random, forced foreground, cells), padding and exact extraction.
import Common
import Tensor
import XCTest
import Sampling
@testable import DataPipeline
import TestSupport

final class PatchSamplerTests: XCTestCase {
    /// 24×24×24 case: image = linear index (so every voxel is identifiable), label 0 except
    /// a 6×6×6 block of class 1 and a single voxel of class 3, both away from the border.
    func makeCase() throws -> CaseVolume {
        let shape = GridShape(cube: 24)
        var label = [UInt8](repeating: 0, count: shape.count)
        for z in 4..<10 { for y in 12..<18 { for x in 6..<12 { label[shape.index(z, y, x)] = 1 } } }
        label[shape.index(16, 8, 15)] = 3
        return try CaseVolume(id: "blob", channels: 1, shape: shape, image: (0..<shape.count).map(Float.init),
                              label: label, spacing: Spacing(isotropic: 1))
    }

    func testPatchContentEqualsSourceAtOriginIncludingPadding() throws {
        let c = try makeCase()
        var rng = SplitMix64(seed: 11)
        let size = GridShape(d: 7, h: 9, w: 5)
        for _ in 0..<50 {
            let origin = GridPoint(d: Int.random(in: -8...22, using: &rng), h: Int.random(in: -8...22, using: &rng),
                                   w: Int.random(in: -8...22, using: &rng))
            let p = PatchExtractor.extract(c, origin: origin, size: size)
            for z in 0..<size.d { for y in 0..<size.h { for x in 0..<size.w {
                let s = GridPoint(d: origin.d + z, h: origin.h + y, w: origin.w + x)
                let q = size.index(z, y, x)
                if c.shape.contains(s) {
                    XCTAssertEqual(p.image[q], c.image[c.shape.index(s.d, s.h, s.w)])
                    XCTAssertEqual(p.label![q], c.label![c.shape.index(s.d, s.h, s.w)])
                } else {
                    XCTAssertEqual(p.image[q], 0); XCTAssertEqual(p.label![q], 0)
                }
            } } }
        }
    }

    func testSmallCaseIsPaddedAndCentred() throws {
        // 5×6×7 case, 8³ patch: padding 3, 2, 1 → origins −2…−1, −1…−1, −1…0 (nnU-Net's lbs/ubs).
        let shape = GridShape(d: 5, h: 6, w: 7)
        let c = try CaseVolume(id: "small", channels: 1, shape: shape, image: (1...shape.count).map(Float.init),
                               label: [UInt8](repeating: 2, count: shape.count), spacing: Spacing(isotropic: 1))
        let sampler = try PatchSampler(patchSize: GridShape(cube: 8))
        let r = sampler.originRange(for: shape)
        XCTAssertEqual(r.lower, GridPoint(d: -2, h: -1, w: -1))
        XCTAssertEqual(r.upper, GridPoint(d: -1, h: -1, w: 0))
        var rng = SplitMix64(seed: 3)
        var seen = Set<GridPoint>()
        for _ in 0..<200 {
            let o = sampler.randomOrigin(for: shape, using: &rng)
            seen.insert(o)
            let p = PatchExtractor.extract(c, origin: o, size: sampler.patchSize)
            // The whole case is inside the patch: all its voxels (label 2) appear, the rest is 0.
            XCTAssertEqual(p.label!.filter { $0 == 2 }.count, shape.count)
            XCTAssertEqual(p.image.filter { $0 == 0 }.count, 512 - shape.count)
        }
        XCTAssertEqual(seen.count, 4)   // 2 × 1 × 2 possible origins, all drawn
    }

    func testForcedForegroundCentresAVoxelOfAClassDrawnUniformly() throws {
        let c = try makeCase()
        let sampler = try PatchSampler(patchSize: GridShape(cube: 8))
        var rng = SplitMix64(seed: 5)
        var class3 = 0
        let draws = 4000
        for _ in 0..<draws {
            let r = try XCTUnwrap(sampler.foregroundOrigin(c.foreground!, using: &rng))
            // The drawn voxel is at patch index size/2 (no clamping: blobs are ≥ 4 from the border).
            let p = PatchExtractor.extract(c, origin: r.origin, size: sampler.patchSize)
            XCTAssertEqual(p.label![sampler.patchSize.index(4, 4, 4)], r.label)
            if r.label == 3 { class3 += 1 }
        }
        // Classes 1 (216 voxels) and 3 (1 voxel) are each chosen with probability 1/2, whatever
        // their size. Binomial(4000, 1/2): σ = 31.6; bound 4σ (two-sided false alarm ≈ 6e-5).
        XCTAssertEqual(Double(class3), 2000, accuracy: 4 * 31.7)
    }

    func testBatchForegroundFractionWithinBinomialBound() throws {
        let c = try makeCase()
        let builder = try BatchBuilder(patchSize: GridShape(cube: 8), augmentation: .none, foregroundFraction: 1.0 / 3)
        XCTAssertEqual(PatchSampler.forcedForeground(batchSize: 3, fraction: 1.0 / 3), [false, false, true])
        XCTAssertEqual(PatchSampler.forcedForeground(batchSize: 1, fraction: 0.1), [true])   // at least one
        XCTAssertEqual(PatchSampler.forcedForeground(batchSize: 4, fraction: 0), [false, false, false, false])
        // Probability that a uniformly random origin (0…16 per axis) gives a patch overlapping the
        // class-1 block [4,10)×[12,18)×[6,12) or the class-3 voxel (16, 8, 15): per axis the
        // origin o overlaps [a, b) iff a − 8 < o < b, counted by inclusion–exclusion.
        func overlaps(_ a: Int, _ b: Int) -> Set<Int> { Set((0...16).filter { $0 > a - 8 && $0 < b }) }
        let blockSets = [overlaps(4, 10), overlaps(12, 18), overlaps(6, 12)]
        let voxelSets = [overlaps(16, 17), overlaps(8, 9), overlaps(15, 16)]
        let both = (0..<3).map { blockSets[$0].intersection(voxelSets[$0]).count }
        let n = Double(17 * 17 * 17)
        let q = (Double(blockSets.map(\.count).reduce(1, *)) + Double(voxelSets.map(\.count).reduce(1, *))
                 - Double(both.reduce(1, *))) / n
        var rng = SplitMix64(seed: 9)
        var randomWithFG = 0, forcedWithFG = 0
        let batches = 1500
        for _ in 0..<batches {
            let b = try builder.makeBatch(cases: [c], caseIndices: [0, 0, 0], using: &rng)
            for s in 0..<3 {
                let hasFG = b.labels[(s * 512)..<((s + 1) * 512)].contains { $0 != 0 }
                if b.forcedForeground[s] { forcedWithFG += hasFG ? 1 : 0 } else { randomWithFG += hasFG ? 1 : 0 }
            }
        }
        XCTAssertEqual(forcedWithFG, batches)   // every forced patch contains foreground
        // Random patches: Binomial(3000, q); bound 4σ.
        let m = Double(2 * batches), sigma = (m * q * (1 - q)).squareRoot()
        XCTAssertEqual(Double(randomWithFG), m * q, accuracy: 4 * sigma)
    }

    func testCellOriginJittersPatchCentreWithinCell() throws {
        let c = try makeCase()
        XCTAssertEqual(c.foregroundBoundingBox, GridBox(lower: GridPoint(d: 4, h: 8, w: 6), upper: GridPoint(d: 17, h: 18, w: 16)))
        let sampler = try PatchSampler(patchSize: GridShape(cube: 8))
        // Cells from the Sampling module tile the foreground box with patch-sized boxes.
        let cells = try PatchCells(cases: [c.patchCellCase], patchSize: sampler.patchSize.voxel3)
        XCTAssertEqual(cells.count, 2 * 2 * 2)
        var rng = SplitMix64(seed: 1)
        var offsets = Set<Int>()
        for k in 0..<cells.count {
            let cellOrigin = GridPoint(cells.cell(k)!.origin)
            XCTAssertTrue(c.foregroundBoundingBox!.contains(cellOrigin))
            XCTAssertEqual(try sampler.origin(cellOrigin: cellOrigin, shape: c.shape, jitter: 0, using: &rng), cellOrigin)
            for _ in 0..<100 {
                let o = try sampler.origin(cellOrigin: cellOrigin, shape: c.shape, using: &rng)
                // Jitter 1: offset in [−4, 4] per axis (centre inside the cell) unless clamped to 0…16.
                for a in 0..<3 {
                    let d = o[a] - cellOrigin[a]
                    XCTAssertTrue(abs(d) <= 4 || o[a] == 0 || o[a] == 16, "\(o) from \(cellOrigin)")
                    offsets.insert(d)
                }
            }
        }
        XCTAssertEqual(offsets, Set(-4...4))
        XCTAssertThrowsError(try sampler.origin(cellOrigin: GridPoint(d: 30, h: 0, w: 0), shape: c.shape, using: &rng))
        XCTAssertThrowsError(try sampler.origin(cellOrigin: .zero, shape: c.shape, jitter: 2, using: &rng))
    }

    func testCaseWithoutForegroundFallsBackToRandom() throws {
        let shape = GridShape(cube: 10)
        let c = try CaseVolume(id: "empty", channels: 1, shape: shape, image: [Float](repeating: 1, count: shape.count),
                               label: [UInt8](repeating: 0, count: shape.count), spacing: Spacing(isotropic: 1))
        XCTAssertNil(c.foregroundBoundingBox)
        let sampler = try PatchSampler(patchSize: GridShape(cube: 4))
        var rng = SplitMix64(seed: 2)
        XCTAssertNil(sampler.foregroundOrigin(c.foreground!, using: &rng))
        let o = sampler.origin(for: c, forceForeground: true, using: &rng)
        XCTAssertTrue((0..<3).allSatisfy { o[$0] >= 0 && o[$0] <= 6 })
    }
}
