import Config
import DataPipeline
import Foundation
import NIfTI
import TestSupport
import XCTest
@testable import Planning

/// The fingerprint of a dataset whose every number is known by construction.
final class FingerprintTests: XCTestCase {
    /// Two cases of 10×8×6 voxels at 1×2×3 mm; the image is non-zero in the box x 2…5, y 1…6,
    /// z 0…2 (4×6×3 = 72 of 480 voxels), labels 1 on 5 voxels and 2 on 3 voxels inside it. The
    /// foreground holds the constant 5 in case a and 7 in case b.
    func makeDataset(_ folder: DatasetTestFolder) throws -> DatasetLayout {
        try folder.write("dataset.json", """
        {"channel_names": {"0": "T2"}, "labels": {"background": 0, "one": 1, "two": 2}, "numTraining": 2, "file_ending": ".nii.gz"}
        """)
        try FileManager.default.createDirectory(atPath: folder.path + "/imagesTr", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.path + "/labelsTr", withIntermediateDirectories: true)
        for (id, value) in [("a", Float(5)), ("b", Float(7))] {
            var image = [Float](repeating: 0, count: 480)
            var label = [Int32](repeating: 0, count: 480)
            func index(_ x: Int, _ y: Int, _ z: Int) -> Int { x + 10 * (y + 8 * z) }
            for z in 0...2 { for y in 1...6 { for x in 2...5 { image[index(x, y, z)] = 1 } } }
            for x in 2...5 { label[index(x, 1, 0)] = 1 }
            label[index(2, 2, 0)] = 1
            for x in 3...5 { label[index(x, 3, 1)] = 2 }
            for i in 0..<480 where label[i] > 0 { image[i] = value }
            let nifti = NIfTIImage(shape: [10, 8, 6], spacing: [1, 2, 3], values: image)
            try nifti.write(to: folder.path + "/imagesTr/\(id)_0000.nii.gz")
            try NIfTIImage.like(nifti, shape: [10, 8, 6], labels: label).write(to: folder.path + "/labelsTr/\(id).nii.gz")
        }
        var data = DataConfig()
        data.dataset = folder.path
        return try DatasetLayout.discover(data)
    }

    func testFingerprintOfAKnownDataset() throws {
        let folder = try DatasetTestFolder()
        let fp = try DatasetFingerprint.extract(try makeDataset(folder))
        XCTAssertEqual(fp.cases.map(\.id), ["a", "b"])
        for c in fp.cases {
            XCTAssertEqual(c.spacing, [1, 2, 3])
            XCTAssertEqual(c.shapeBeforeCrop, [10, 8, 6])
            XCTAssertEqual(c.shapeAfterCrop, [4, 6, 3])
            XCTAssertEqual(c.fractionKept, 72.0 / 480.0, accuracy: 1e-12)
            XCTAssertEqual(c.orientation, "RAS")
            // 5 and 3 voxels of 1·2·3 = 6 mm³.
            XCTAssertEqual(c.labelVolumesMM3, [30, 18])
        }
        XCTAssertEqual(fp.medianRelativeSizeAfterCropping, 0.15, accuracy: 1e-12)
        // Equal samples of 5 (case a) and 7 (case b): mean 6, population std 1, median halfway
        // (numpy's linear interpolation), the 0.5 and 99.5 percentiles at the two values.
        let s = try XCTUnwrap(fp.foregroundIntensities.first)
        XCTAssertEqual(s.name, "T2")
        XCTAssertEqual(s.sampled, DatasetFingerprint.foregroundSampleTotal)
        XCTAssertEqual(s.mean, 6, accuracy: 1e-9)
        XCTAssertEqual(s.std, 1, accuracy: 1e-9)
        XCTAssertEqual(s.median, 6, accuracy: 1e-9)
        XCTAssertEqual(s.percentile00_5, 5)
        XCTAssertEqual(s.percentile99_5, 7)
        XCTAssertEqual(s.min, 5)
        XCTAssertEqual(s.max, 7)
        // The JSON round-trips.
        let back = try JSONDecoder().decode(DatasetFingerprint.self, from: try fp.json())
        XCTAssertEqual(back, fp)
    }

    func testEmptyDatasetIsAnError() throws {
        let layout = DatasetLayout(kind: .nnunet, root: "/nowhere", channels: ["T2"],
                                   labels: [LabelDefinition(name: "background", value: 0), LabelDefinition(name: "a", value: 1)],
                                   cases: [])
        XCTAssertThrowsError(try DatasetFingerprint.extract(layout)) { error in
            XCTAssertEqual("\(error)", "/nowhere: the dataset has no training cases")
        }
    }
}

/// nnU-Net-style folds: every case validated exactly once over the folds, per group.
final class FoldSplitTests: XCTestCase {
    func cases() -> [CaseFiles] {
        (0..<23).map { CaseFiles(id: String(format: "c%02d", $0), channelPaths: [], labelPath: nil, group: $0 < 6 ? "rare" : "common") }
    }

    func testFoldsPartitionEveryGroup() {
        var data = DataConfig()
        data.folds = 5
        var seen: [String: Int] = [:]
        for k in 0..<5 {
            data.fold = k
            let split = DatasetSplit(cases: cases(), data: data)
            XCTAssertEqual(split.training.count + split.validation.count, 23)
            XCTAssertTrue(Set(split.training.map(\.id)).isDisjoint(with: split.validation.map(\.id)))
            // Per group: 17 common → folds of 4 or 3 (17 = 4+4+3+3+3); 6 rare → 2, 1, 1, 1, 1.
            let common = split.validation.filter { $0.group == "common" }.count
            let rare = split.validation.filter { $0.group == "rare" }.count
            XCTAssertEqual(common, k < 2 ? 4 : 3)
            XCTAssertEqual(rare, k < 1 ? 2 : 1)
            for c in split.validation { seen[c.id, default: 0] += 1 }
        }
        XCTAssertEqual(seen.count, 23)
        XCTAssertTrue(seen.values.allSatisfy { $0 == 1 })
    }

    func testFoldsDependOnTheSeed() {
        var data = DataConfig()
        data.fold = 0
        let a = DatasetSplit(cases: cases(), data: data).validation.map(\.id)
        data.splitSeed = 1
        let b = DatasetSplit(cases: cases(), data: data).validation.map(\.id)
        XCTAssertNotEqual(a, b)
    }

    func testFoldConfigKeys() throws {
        let folder = try DatasetTestFolder()
        let ok = try decodeDataConfig("data:\n  dataset: \(folder.path)\n  fold: 3\n  folds: 5\n", base: folder.path)
        XCTAssertEqual(ok.fold, 3)
        XCTAssertEqual(ok.folds, 5)
        XCTAssertThrowsError(try decodeDataConfig("data:\n  dataset: \(folder.path)\n  fold: 5\n", base: folder.path)) {
            XCTAssertTrue("\($0)".contains("data.fold"), "\($0)")
        }
        XCTAssertThrowsError(try decodeDataConfig("data:\n  dataset: \(folder.path)\n  fold: 1\n  val_fraction: 0.2\n", base: folder.path)) {
            XCTAssertTrue("\($0)".contains("either fold"), "\($0)")
        }
    }
}
