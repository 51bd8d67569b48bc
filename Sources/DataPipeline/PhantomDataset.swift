// Writes phantoms as an nnU-Net v2 raw dataset:
//   dataset.json   {"channel_names": {"0": "T2"}, "labels": {"background": 0, ...},
//                   "numTraining": N, "file_ending": ".nii.gz", ...}
//   imagesTr/CASE_0000.nii.gz   labelsTr/CASE.nii.gz
//   imagesTs/CASE_0000.nii.gz   labelsTs/CASE.nii.gz      (when testCases > 0)
//   groups.csv     case,group — every training and test case, group "common" or "rare"

import Common
import Tensor
import Foundation
import NIfTI

/// What `writeDataset` wrote.
public struct PhantomDatasetSummary: Sendable {
    public var trainingIDs: [String]
    public var testIDs: [String]
    /// Case id → group.
    public var groups: [String: String]
}

extension PhantomGenerator {
    public static let fileEnding = ".nii.gz"
    public static let channelName = "T2"

    /// Generates and writes the dataset under `root` (created if needed). Training cases have
    /// `rareFraction` rare cases, test cases `testRareFraction` (the robustness experiment tests
    /// on more rare cases than it trains on). Deterministic from `seed`.
    @discardableResult
    public static func writeDataset(to root: URL, cases: Int, rareFraction: Double, seed: UInt64,
                                    testCases: Int = 0, testRareFraction: Double = 0.5,
                                    shape: GridShape = defaultShape,
                                    spacing: Spacing = defaultSpacing) throws -> PhantomDatasetSummary {
        try validate(count: cases, fraction: rareFraction, key: "rare_fraction")
        try validate(count: testCases, fraction: testRareFraction, key: "test_rare_fraction")
        guard !shape.isEmpty else {
            throw DataError.invalidOption(key: "phantom.shape", value: "\(shape)", allowed: "all extents ≥ 1")
        }
        var summary = PhantomDatasetSummary(trainingIDs: [], testIDs: [], groups: [:])
        var csv = "case,group\n"
        for (split, count, fraction, images, labels) in [(0, cases, rareFraction, "imagesTr", "labelsTr"),
                                                          (1, testCases, testRareFraction, "imagesTs", "labelsTs")]
        where count > 0 {
            try makeDirectory(root.appendingPathComponent(images))
            try makeDirectory(root.appendingPathComponent(labels))
            // One case at a time: memory stays at one volume whatever the dataset size.
            var groupRNG = SplitMix64(seed: groupSeed(seed, split: UInt64(split)))
            let rare = rareAssignment(count: count, fraction: fraction, using: &groupRNG)
            let ids = caseIDs(prefix: split == 0 ? "phantom_" : "phantom_ts_", count: count)
            for i in 0..<count {
                var rng = SplitMix64(seed: caseSeed(seed, split: UInt64(split), index: i))
                let c = try makeCase(id: ids[i], rare: rare[i], shape: shape, spacing: spacing, using: &rng)
                try write(c, imagesDir: root.appendingPathComponent(images), labelsDir: root.appendingPathComponent(labels))
                csv += "\(c.id),\(c.group ?? commonGroup)\n"
                summary.groups[c.id] = c.group ?? commonGroup
                if split == 0 { summary.trainingIDs.append(c.id) } else { summary.testIDs.append(c.id) }
            }
        }
        try makeDirectory(root)
        try writeText(datasetJSON(numTraining: cases, seed: seed, rareFraction: rareFraction),
                      to: root.appendingPathComponent("dataset.json"))
        try writeText(csv, to: root.appendingPathComponent("groups.csv"))
        return summary
    }

    /// dataset.json text; labels in value order.
    static func datasetJSON(numTraining: Int, seed: UInt64, rareFraction: Double) -> String {
        let labels = labelNames.enumerated().map { "    \"\($0.element)\": \($0.offset)" }.joined(separator: ",\n")
        return """
        {
          "name": "DroSegPhantom",
          "description": "dro-seg synthetic brain phantom, seed \(seed), training rare fraction \(rareFraction)",
          "channel_names": {
            "0": "\(channelName)"
          },
          "labels": {
        \(labels)
          },
          "numTraining": \(numTraining),
          "file_ending": "\(fileEnding)"
        }

        """
    }

    /// Writes CASE_0000.nii.gz (float32) and CASE.nii.gz (uint8) with the case's diagonal affine.
    static func write(_ c: CaseVolume, imagesDir: URL, labelsDir: URL) throws {
        let image = NIfTIImage(shape: c.shape.niftiShape, spacing: c.spacing.xyz, values: c.image)
        try image.write(to: imagesDir.appendingPathComponent("\(c.id)_0000\(fileEnding)").path)
        if let l = c.label {
            let label = NIfTIImage.like(image, shape: c.shape.niftiShape, labels: l.map { Int32($0) })
            try label.write(to: labelsDir.appendingPathComponent("\(c.id)\(fileEnding)").path)
        }
    }

    static func makeDirectory(_ url: URL) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw DataError.io(path: url.path, reason: "cannot create directory (\(error.localizedDescription))")
        }
    }

    static func writeText(_ text: String, to url: URL) throws {
        do {
            try text.write(to: url, atomically: true, encoding: .utf8)
        } catch {
            throw DataError.io(path: url.path, reason: "cannot write (\(error.localizedDescription))")
        }
    }
}
