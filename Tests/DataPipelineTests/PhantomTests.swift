// Phantom generator: anatomy plausibility, rare group, determinism, nnU-Net dataset on disk.
import Common
import Tensor
import XCTest
import Foundation
import NIfTI
@testable import DataPipeline
import TestSupport

final class PhantomTests: XCTestCase {
    func labelCounts(_ c: CaseVolume) -> [Int] {
        var n = [Int](repeating: 0, count: 256)
        for v in c.label! { n[Int(v)] += 1 }
        return Array(n[0..<6]) + [n[6...].reduce(0, +)]
    }

    func testLabelsPresentWithPlausibleVolumes() throws {
        let cases = try PhantomGenerator.makeCases(count: 6, rareFraction: 0.5, seed: 21, shape: GridShape(cube: 48),
                                                   spacing: Spacing(isotropic: 1.6))
        var ventricleShare = [String: [Double]]()
        for c in cases {
            let n = labelCounts(c)
            XCTAssertEqual(n[6], 0, "labels above 5")
            let brain = Double(n[1...5].reduce(0, +))
            let share = (1...5).map { Double(n[$0]) / brain }
            // Broad ranges (fractions of the labelled intracranial volume) for a fetal/neonatal
            // brain: external CSF 15–50 % (a wide extra-axial space: the CSF shell from radius 1
            // to 1.14 alone is 1 − 1/1.14³ ≈ 33 %, sulci add to it, the warp and folds vary it),
            // grey matter 15–50 %, white matter 20–65 % (the wide CSF shell leaves the brain
            // ≈ 1/1.14³ ≈ 67 % of the volume, the ribbon takes a third of that), ventricles
            // 0.3–15 %, deep grey 1–8 %.
            // They catch a missing or runaway structure, not fine anatomy.
            XCTAssertTrue((0.15...0.50).contains(share[0]), "external CSF \(share[0]) in \(c.id)")
            XCTAssertTrue((0.15...0.50).contains(share[1]), "grey matter \(share[1]) in \(c.id)")
            XCTAssertTrue((0.20...0.65).contains(share[2]), "white matter \(share[2]) in \(c.id)")
            XCTAssertTrue((0.003...0.15).contains(share[3]), "ventricles \(share[3]) in \(c.id)")
            XCTAssertTrue((0.01...0.08).contains(share[4]), "deep grey \(share[4]) in \(c.id)")
            // The head fits in the field of view: the outer faces of the grid are background.
            let s = c.shape
            for a in 0..<s.h { for b in 0..<s.w {
                XCTAssertEqual(c.image[s.index(0, a, b)], 0); XCTAssertEqual(c.image[s.index(s.d - 1, a, b)], 0)
            } }
            ventricleShare[c.group!, default: []].append(share[3])
            // Intensities: finite, non-negative, T2-like ordering of tissue means in the common
            // protocol (CSF brighter than grey matter brighter than white matter).
            XCTAssertTrue(c.image.allSatisfy { $0.isFinite && $0 >= 0 })
            var sum = [Double](repeating: 0, count: 6)
            for i in 0..<s.count { sum[Int(c.label![i])] += Double(c.image[i]) }
            let mean = (0..<6).map { sum[$0] / Double(max(n[$0], 1)) }
            // T2: CSF (external and ventricular) brightest in both protocols.
            XCTAssertGreaterThan(mean[1], max(mean[2], mean[3], mean[5]), "external CSF in \(c.id)")
            XCTAssertGreaterThan(mean[4], max(mean[2], mean[3], mean[5]), "ventricles in \(c.id)")
            if c.group == PhantomGenerator.commonGroup {
                XCTAssertGreaterThan(mean[4], mean[2]); XCTAssertGreaterThan(mean[2], mean[3])
            } else {
                XCTAssertGreaterThan(mean[3], mean[2])   // rare protocol: white brighter than grey
            }
        }
        // Rare group: enlarged ventricles (≥ 2× the common mean share).
        let common = ventricleShare["common"]!, rare = ventricleShare["rare"]!
        XCTAssertEqual(common.count, 3); XCTAssertEqual(rare.count, 3)
        XCTAssertGreaterThan(rare.reduce(0, +) / 3, 2 * common.reduce(0, +) / 3)
    }

    /// Share of the voxels of `label` whose six face neighbours all carry it too (the voxels a
    /// one-voxel erosion keeps): 0 for a structure at most 2 voxels thick everywhere.
    static func coreShare(_ c: CaseVolume, label: UInt8) -> Double {
        let s = c.shape, l = c.label!
        var total = 0, core = 0
        for z in 0..<s.d { for y in 0..<s.h { for x in 0..<s.w where l[s.index(z, y, x)] == label {
            total += 1
            guard z > 0, y > 0, x > 0, z < s.d - 1, y < s.h - 1, x < s.w - 1 else { continue }
            if l[s.index(z - 1, y, x)] == label, l[s.index(z + 1, y, x)] == label, l[s.index(z, y - 1, x)] == label,
               l[s.index(z, y + 1, x)] == label, l[s.index(z, y, x - 1)] == label, l[s.index(z, y, x + 1)] == label {
                core += 1
            }
        } } }
        return total > 0 ? Double(core) / Double(total) : 0
    }

    /// At the demo's grid (64³ × 1.2 mm) every structure is ≥ 3 voxels thick over a good part of
    /// it, so a U-Net can resolve it: the external CSF shell is 0.14 of a ≈ 19-voxel brain radius
    /// (≈ 2.7 voxels, wider in sulci), the ribbon 0.16 (≈ 3 voxels), the nuclei ≥ 7 voxels across.
    /// A 10 % eroded core is the bar: a 1–2-voxel shell keeps ≈ 0–5 %, a 3-voxel ribbon ≈ 20 %.
    /// `data.demo.spacing`: the grid keeps the 76.8 mm field of view; every tissue still appears
    /// with 4.8 mm slices on z, over most slices (the brain is not squeezed into a few).
    func testThickSlicePhantomKeepsTheFieldOfView() throws {
        XCTAssertEqual(PhantomGenerator.shape(forSpacing: PhantomGenerator.defaultSpacing), GridShape(cube: 64))
        let spacing = Spacing(x: 1.2, y: 1.2, z: 4.8)
        let shape = PhantomGenerator.shape(forSpacing: spacing)
        XCTAssertEqual(shape, GridShape(d: 16, h: 64, w: 64))
        XCTAssertEqual(PhantomGenerator.shape(forSpacing: Spacing(x: 0.8, y: 0.8, z: 20)), GridShape(d: 8, h: 96, w: 96))
        for c in try PhantomGenerator.makeCases(count: 2, rareFraction: 0.5, seed: 4, shape: shape, spacing: spacing) {
            XCTAssertEqual(c.spacing, spacing)
            XCTAssertTrue(labelCounts(c)[1..<6].allSatisfy { $0 > 0 }, "\(labelCounts(c))")
            let plane = shape.h * shape.w
            let slices = (0..<shape.d).filter { z in (0..<plane).contains { c.label![z * plane + $0] > 0 } }.count
            XCTAssertGreaterThanOrEqual(slices, 10)
        }
    }

    func testStructuresAreThickEnoughAtTheDemoGrid() throws {
        for c in try PhantomGenerator.makeCases(count: 2, rareFraction: 0.5, seed: 3) {
            for label in [UInt8(1), 2, 3, 4, 5] {
                XCTAssertGreaterThan(PhantomTests.coreShare(c, label: label), 0.10, "label \(label) in \(c.id) (\(c.group ?? ""))")
            }
        }
    }

    func testRareFractionIsExactAndDeterministic() throws {
        var rng = SplitMix64(seed: 3)
        for (n, f, k) in [(20, 0.1, 2), (10, 0.25, 3), (7, 0, 0), (5, 1, 5)] {
            XCTAssertEqual(PhantomGenerator.rareAssignment(count: n, fraction: f, using: &rng).filter { $0 }.count, k)
        }
        let shape = GridShape(cube: 20), spacing = Spacing(isotropic: 4)
        let a = try PhantomGenerator.makeCases(count: 10, rareFraction: 0.1, seed: 5, shape: shape, spacing: spacing)
        let b = try PhantomGenerator.makeCases(count: 10, rareFraction: 0.1, seed: 5, shape: shape, spacing: spacing)
        let c = try PhantomGenerator.makeCases(count: 10, rareFraction: 0.1, seed: 6, shape: shape, spacing: spacing)
        XCTAssertEqual(a.filter { $0.group == "rare" }.count, 1)
        XCTAssertEqual(a.map(\.id), b.map(\.id))
        XCTAssertEqual(a.map(\.group), b.map(\.group))
        for i in 0..<10 { XCTAssertEqual(a[i].image, b[i].image); XCTAssertEqual(a[i].label, b[i].label) }
        XCTAssertNotEqual(a[0].image, c[0].image)
        // Case i does not depend on how many cases are made (own stream per case).
        let few = try PhantomGenerator.makeCases(count: 3, rareFraction: 0, seed: 5, shape: shape, spacing: spacing)
        let more = try PhantomGenerator.makeCases(count: 6, rareFraction: 0, seed: 5, shape: shape, spacing: spacing)
        XCTAssertEqual(few[2].image, more[2].image)
        XCTAssertThrowsError(try PhantomGenerator.makeCases(count: 3, rareFraction: 1.5, seed: 1)) { e in
            XCTAssertEqual("\(e)", "phantom.rare_fraction = 1.5 is invalid; allowed: a fraction in [0, 1]")
        }
    }

    func testWriteDatasetProducesNnUNetLayoutReadableBack() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("dro-phantom-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let shape = GridShape(d: 20, h: 22, w: 24), spacing = Spacing(x: 3, y: 3.2, z: 3.5)
        let summary = try PhantomGenerator.writeDataset(to: root, cases: 4, rareFraction: 0.25, seed: 9,
                                                        testCases: 2, testRareFraction: 0.5, shape: shape, spacing: spacing)
        XCTAssertEqual(summary.trainingIDs, ["phantom_000", "phantom_001", "phantom_002", "phantom_003"])
        XCTAssertEqual(summary.testIDs, ["phantom_ts_000", "phantom_ts_001"])

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("dataset.json"))) as! [String: Any]
        XCTAssertEqual(json["channel_names"] as? [String: String], ["0": "T2"])
        XCTAssertEqual(json["labels"] as? [String: Int], ["background": 0, "external_csf": 1, "grey_matter": 2,
                                                          "white_matter": 3, "ventricles": 4, "deep_grey": 5])
        XCTAssertEqual(json["numTraining"] as? Int, 4)
        XCTAssertEqual(json["file_ending"] as? String, ".nii.gz")

        let csv = try String(contentsOf: root.appendingPathComponent("groups.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
        XCTAssertEqual(rows[0], ["case", "group"])
        XCTAssertEqual(rows.count, 1 + 6)
        XCTAssertEqual(rows.filter { $0[0].hasPrefix("phantom_0") && $0[1] == "rare" }.count, 1)   // round(4 · 0.25)
        XCTAssertEqual(rows.filter { $0[0].hasPrefix("phantom_ts") && $0[1] == "rare" }.count, 1)  // round(2 · 0.5)

        // Files read back (NIfTI module) equal the in-memory cases made from the same seed.
        let memory = try PhantomGenerator.makeCases(count: 4, rareFraction: 0.25, seed: 9, shape: shape, spacing: spacing)
        for c in memory {
            let files = CaseFiles(id: c.id, channelPaths: [root.appendingPathComponent("imagesTr/\(c.id)_0000.nii.gz").path],
                                  labelPath: root.appendingPathComponent("labelsTr/\(c.id).nii.gz").path)
            let loaded = try CaseVolume.load(files, channels: 1, classes: 6)
            XCTAssertEqual(loaded.shape, shape)
            XCTAssertEqual(loaded.image, c.image)
            XCTAssertEqual(loaded.label, c.label)
            XCTAssertEqual(loaded.spacing.x, 3, accuracy: 1e-6); XCTAssertEqual(loaded.spacing.z, 3.5, accuracy: 1e-6)
            XCTAssertEqual(summary.groups[c.id], c.group)
            let label = try NIfTIImage.read(path: root.appendingPathComponent("labelsTr/\(c.id).nii.gz").path)
            XCTAssertEqual(label.datatype, .uint8)
        }
        for id in summary.testIDs {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("imagesTs/\(id)_0000.nii.gz").path))
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("labelsTs/\(id).nii.gz").path))
        }
    }

    func testLoaderRejectsMismatchedGridAndNonIntegerLabels() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dro-loader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let img = dir.appendingPathComponent("a_0000.nii.gz").path
        let other = dir.appendingPathComponent("a_0001.nii.gz").path
        let lab = dir.appendingPathComponent("a.nii.gz").path
        try NIfTIImage(shape: [4, 3, 2], spacing: [1, 1, 1], values: [Float](repeating: 1, count: 24)).write(to: img)
        try NIfTIImage(shape: [4, 3, 3], spacing: [1, 1, 1], values: [Float](repeating: 1, count: 36)).write(to: other)
        var values = [Float](repeating: 0, count: 24)
        values[5] = 1.5
        try NIfTIImage(shape: [4, 3, 2], spacing: [1, 1, 1], values: values).write(to: lab)
        XCTAssertThrowsError(try CaseVolume.load(CaseFiles(id: "a", channelPaths: [img, other], labelPath: nil),
                                                 channels: 2, classes: 2)) { e in
            XCTAssertTrue("\(e)".contains("a_0001.nii.gz"), "\(e)")
            XCTAssertTrue("\(e)".contains("4×3×3"), "\(e)")
        }
        XCTAssertThrowsError(try CaseVolume.load(CaseFiles(id: "a", channelPaths: [img], labelPath: lab),
                                                 channels: 1, classes: 2)) { e in
            XCTAssertTrue("\(e)".contains("1.5"), "\(e)")
        }
        let ok = try CaseVolume.load(CaseFiles(id: "a", channelPaths: [img, img], labelPath: nil), channels: 2, classes: 2)
        XCTAssertEqual(ok.channels, 2)
        XCTAssertEqual(ok.shape, GridShape(d: 2, h: 3, w: 4))
    }
}
