import XCTest
import Sampling
@testable import DataPipeline
@testable import Training
import TestSupport

/// VolumeBatchSource: samples are cases, or patch cells of cases (`sampler.unit: patch`).
final class TrainBatchSourceTests: XCTestCase {
    func cases() throws -> [CaseVolume] {
        try PhantomGenerator.makeCases(count: 3, rareFraction: 0.34, seed: 6, shape: GridShape(cube: 12))
    }

    func testCaseSamplesUseCaseNamesAndGroups() throws {
        let volumes = try cases()
        let source = VolumeBatchSource(cases: volumes, builder: try BatchBuilder(patchSize: GridShape(cube: 8)), cells: nil)
        XCTAssertEqual(source.sampleCount, 3)
        XCTAssertEqual(source.caseNames, volumes.map(\.id))
        XCTAssertEqual(source.caseGroups, volumes.map { $0.group ?? "" })
        var generator = SeededGenerator(seed: 1)
        let batch = try source.batch(cases: [2, 0], generator: &generator)
        XCTAssertEqual(batch.caseIndices, [2, 0])
        XCTAssertEqual(batch.images.count, 2 * 8 * 8 * 8)
        // Same generator state → same batch (the data stream is reproducible from its state).
        var again = SeededGenerator(seed: 1)
        XCTAssertEqual(try source.batch(cases: [2, 0], generator: &again).images, batch.images)
    }

    /// Patch cells: sample i maps to (case, cell origin) through PatchCells, names carry the
    /// origin, and each patch is drawn from its cell's case.
    func testPatchCellSamples() throws {
        let volumes = try cases()
        let patch = GridShape(cube: 4)
        let cells = try PatchCells(cases: volumes.map(\.patchCellCase), patchSize: patch.voxel3)
        let source = VolumeBatchSource(cases: volumes, builder: try BatchBuilder(patchSize: patch), cells: cells)
        XCTAssertEqual(source.sampleCount, cells.count)
        XCTAssertGreaterThan(cells.count, volumes.count)
        let names = source.caseNames
        XCTAssertEqual(names.count, cells.count)
        for index in [0, cells.count / 2, cells.count - 1] {
            let (c, origin) = try XCTUnwrap(cells.cell(index))
            XCTAssertEqual(names[index], "\(volumes[c].id)@\(origin.x):\(origin.y):\(origin.z)")
            XCTAssertEqual(source.caseGroups[index], volumes[c].group ?? "")
        }
        var generator = SeededGenerator(seed: 2)
        let last = cells.count - 1
        let batch = try source.batch(cases: [0, last], generator: &generator)
        XCTAssertEqual(batch.caseIndices, [cells.cell(0)!.caseIndex, cells.cell(last)!.caseIndex])
        XCTAssertThrowsError(try source.batch(cases: [cells.count], generator: &generator)) { error in
            XCTAssertTrue("\(error)".contains("sample \(cells.count) is not a patch cell"), "\(error)")
        }
    }
}
