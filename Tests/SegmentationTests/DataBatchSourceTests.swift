// The trainer's BatchSource over in-memory cases, with case and patch-cell sampling units.
import Sampling
import Tensor
import XCTest
@testable import Segmentation

final class DataBatchSourceTests: XCTestCase {
    func makeCases() throws -> [CaseVolume] {
        try PhantomGenerator.makeCases(count: 3, rareFraction: 1.0 / 3, seed: 2, shape: GridShape(cube: 24),
                                       spacing: Spacing(isotropic: 3))
            .map { try Preprocessor.preprocess($0, options: PreprocessingOptions()) }
    }

    func testWholeCaseUnitIsReproducibleAcrossAGeneratorCheckpoint() throws {
        let cases = try makeCases()
        let source = try PatchBatchSource<SeededGenerator>(
            cases: cases, builder: try BatchBuilder(patchSize: GridShape(cube: 16)))
        XCTAssertEqual(source.caseNames, ["phantom_000", "phantom_001", "phantom_002"])
        XCTAssertEqual(source.caseGroups.filter { $0 == "rare" }.count, 1)
        var g = SeededGenerator(seed: 77)
        _ = try source.batch(cases: [0, 1], generator: &g)
        // Save the generator, draw, restore, draw again: the same batch (bit-exact resume).
        let saved = g.checkpointBytes
        let a = try source.batch(cases: [2, 0], generator: &g)
        var restored = try XCTUnwrap(SeededGenerator(checkpointBytes: saved))
        let b = try source.batch(cases: [2, 0], generator: &restored)
        XCTAssertEqual(a.images, b.images)
        XCTAssertEqual(a.labels, b.labels)
        XCTAssertEqual(a.caseIndices, [2, 0])
        XCTAssertEqual(a.forcedForeground, [false, true])   // max(1, round(2 · 0.33)) = 1, the last
        XCTAssertEqual(a.images.count, 2 * 16 * 16 * 16)
        XCTAssertThrowsError(try source.batch(cases: [3], generator: &g))
    }

    func testPatchCellUnitCutsTheCell() throws {
        let cases = try makeCases()
        let size = GridShape(cube: 8)
        let builder = try BatchBuilder(patchSize: size, augmentation: .none)
        let source = try PatchBatchSource<SeededGenerator>(cases: cases, builder: builder,
                                                            unit: .patchCell(patchSize: size, jitter: 0))
        let cells = try PatchCells(cases: cases.map(\.patchCellCase), patchSize: size.voxel3)
        XCTAssertEqual(source.caseNames.count, cells.count)
        XCTAssertTrue(source.caseNames.allSatisfy { !$0.contains(",") && !$0.contains(" ") })
        var g = SeededGenerator(seed: 1)
        let picks = [0, cells.count / 2, cells.count - 1]
        let batch = try source.batch(cases: picks, generator: &g)
        for (b, k) in picks.enumerated() {
            let (ci, o) = cells.cell(k)!
            // Jitter 0, no augmentation: the patch is exactly the cell.
            let expected = PatchExtractor.extract(cases[ci], origin: GridPoint(o), size: size)
            XCTAssertEqual(Array(batch.images[(b * 512)..<((b + 1) * 512)]), expected.image)
            XCTAssertEqual(Array(batch.labels[(b * 512)..<((b + 1) * 512)]), expected.label!)
            XCTAssertEqual(batch.caseIndices[b], ci)
        }
        XCTAssertThrowsError(try PatchBatchSource<SeededGenerator>(cases: cases, builder: builder,
                                                                   unit: .patchCell(patchSize: GridShape(cube: 4), jitter: 0))) { e in
            XCTAssertEqual("\(e)", "sampler.patch_size = 4×4×4 is invalid; allowed: the training patch size 8×8×8")
        }
    }
}
