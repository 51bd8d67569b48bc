import XCTest
import Sampling
@testable import DataPipeline
@testable import Training
import TestSupport

/// `data.cache`: preprocessed cases written to and read back from the run's cache folder, the
/// `auto` budget, and batches / validation that do not depend on where a case lives.
final class CaseCacheTests: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "dro-cache-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: folder) }

    func cases() throws -> [CaseVolume] {
        let raw = try PhantomGenerator.makeCases(count: 3, rareFraction: 0.34, seed: 11, shape: GridShape(cube: 14))
        // Cropped and normalised, so geometry (crop box) and z-score statistics must survive too.
        return try raw.map { try Preprocessor.preprocess($0, options: PreprocessingOptions()) }
    }

    func testRoundTripKeepsEveryField() throws {
        for volume in try cases() {
            let path = folder + "/\(volume.id).case"
            try CaseCacheFile.write(volume, to: path)
            let back = try CaseCacheFile.read(path: path)
            XCTAssertEqual(back.id, volume.id)
            XCTAssertEqual(back.channels, volume.channels)
            XCTAssertEqual(back.shape, volume.shape)
            XCTAssertEqual(back.image, volume.image)          // bit-exact: raw Float32 bytes
            XCTAssertEqual(back.label, volume.label)
            XCTAssertEqual(back.spacing, volume.spacing)
            XCTAssertEqual(back.affine, volume.affine)
            XCTAssertEqual(back.geometry, volume.geometry)
            XCTAssertEqual(back.intensityStats, volume.intensityStats)
            XCTAssertEqual(back.group, volume.group)
            XCTAssertEqual(back.foregroundBoundingBox, volume.foregroundBoundingBox)
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".tmp"))
        }
        let unlabelled = try CaseVolume(id: "x", channels: 2, shape: GridShape(d: 2, h: 3, w: 4),
                                        image: (0..<48).map(Float.init), label: nil, spacing: Spacing(isotropic: 1))
        try CaseCacheFile.write(unlabelled, to: folder + "/x.case")
        let back = try CaseCacheFile.read(path: folder + "/x.case")
        XCTAssertNil(back.label)
        XCTAssertEqual(back.image, unlabelled.image)
    }

    func testCorruptTruncatedAndForeignFilesAreRefusedWithThePath() throws {
        let volume = try cases()[0]
        let path = folder + "/c.case"
        try CaseCacheFile.write(volume, to: path)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let variants: [(String, Data, String)] = [
            ("truncated", bytes.prefix(bytes.count - 7), "truncated"),
            ("foreign", Data("not a case at all".utf8), "bad magic"),
            // Byte 12 is the metadata's opening brace: without it the JSON cannot parse.
            ("metadata", { var d = bytes; d[12] = UInt8(ascii: "x"); return d }(), "corrupt metadata"),
            ("empty", Data(), "bad magic"),
        ]
        for (name, data, expected) in variants {
            let bad = folder + "/\(name).case"
            try data.write(to: URL(fileURLWithPath: bad))
            XCTAssertThrowsError(try CaseCacheFile.read(path: bad), name) { error in
                XCTAssertTrue("\(error)".contains(bad) && "\(error)".contains(expected), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try CaseCacheFile.read(path: folder + "/missing.case")) { error in
            XCTAssertTrue("\(error)".contains("missing.case"), "\(error)")
        }
    }

    func testAutoPlacementKeepsCasesInMemoryUntilTheBudgetThenUsesDisk() throws {
        let volumes = try cases()
        let sizes = volumes.map(CaseCacheFile.voxelBytes)
        // Budget for exactly the first two cases: the third must go to disk.
        var builder = try CaseStoreBuilder(placement: .auto(folder: folder, budgetBytes: sizes[0] + sizes[1]))
        for volume in volumes { try builder.add(volume) }
        let store = builder.store
        XCTAssertEqual(store.memoryBytes, sizes[0] + sizes[1])
        XCTAssertEqual(store.diskBytes, sizes[2])
        XCTAssertEqual(store.diskCount, 1)
        guard case let .disk(path) = store.entries[2].place else { return XCTFail("case 2 should be on disk") }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertEqual(try store.volume(2).image, volumes[2].image)

        var all = try CaseStoreBuilder(placement: .disk(folder: folder + "/all"))
        for volume in volumes { try all.add(volume) }
        XCTAssertEqual(all.store.memoryBytes, 0)
        XCTAssertEqual(all.store.diskCount, 3)
        var none = try CaseStoreBuilder(placement: .memory)
        for volume in volumes { try none.add(volume) }
        XCTAssertEqual(none.store.diskCount, 0)
    }

    /// The batch stream depends on the generator only, not on where the cases live.
    func testBatchesAndPatchCellsAreTheSameFromMemoryAndDisk() throws {
        let volumes = try cases()
        var disk = try CaseStoreBuilder(placement: .disk(folder: folder))
        for volume in volumes { try disk.add(volume) }
        let builder = try BatchBuilder(patchSize: GridShape(cube: 8))
        let inMemory = VolumeBatchSource(cases: volumes, builder: builder, cells: nil)
        let onDisk = VolumeBatchSource(store: disk.store, builder: builder, cells: nil)
        XCTAssertEqual(onDisk.caseNames, inMemory.caseNames)
        XCTAssertEqual(onDisk.caseGroups, inMemory.caseGroups)
        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        for draw in [[2, 0], [1, 1], [0, 2]] {
            let a = try inMemory.batch(cases: draw, generator: &g1)
            let b = try onDisk.batch(cases: draw, generator: &g2)
            XCTAssertEqual(a.images, b.images)
            XCTAssertEqual(a.labels, b.labels)
            XCTAssertEqual(a.origins, b.origins)
            XCTAssertEqual(b.caseIndices, draw)
        }
        let cellsA = try PatchCells(cases: volumes.map(\.patchCellCase), patchSize: Voxel3(4, 4, 4))
        let cellsB = try PatchCells(cases: disk.store.patchCellCases, patchSize: Voxel3(4, 4, 4))
        XCTAssertEqual(cellsA.count, cellsB.count)
        for index in 0..<cellsA.count { XCTAssertTrue(cellsA.cell(index)! == cellsB.cell(index)!) }
    }

    func testBudgetIsHalfOfMemAvailable() throws {
        let path = folder + "/meminfo"
        try "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertEqual(CaseStoreBuilder.defaultBudgetBytes(meminfo: path), 2_000_000 * 1024 / 2)
        XCTAssertNil(CaseStoreBuilder.defaultBudgetBytes(meminfo: folder + "/none"))
    }
}
