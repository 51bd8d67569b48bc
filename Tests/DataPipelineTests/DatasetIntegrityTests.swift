import XCTest
import Config
import NIfTI
@testable import DataPipeline
import TestSupport

/// The dry run's integrity check on small generated NIfTI datasets: every kind of problem at
/// once, and exact statistics on a clean dataset.
final class DatasetIntegrityTests: XCTestCase {
    static let shape = [5, 4, 3]

    /// Label value at (x, y, z): cycles through 0, 1, 2 so every class is present.
    static func labelValue(_ x: Int, _ y: Int, _ z: Int) -> Int { (x + 2 * y + z) % 3 }

    static var labelValues: [Float] {
        var v: [Float] = []
        for z in 0..<3 { for y in 0..<4 { for x in 0..<5 { v.append(Float(labelValue(x, y, z))) } } }
        return v
    }

    static func ramp(_ offset: Float) -> [Float] { (0..<60).map { Float($0) + offset } }

    func write(_ t: DatasetTestFolder, _ relative: String, shape: [Int] = shape, spacing: [Double] = [1, 1, 1],
               values: [Float]? = nil) throws {
        let count = shape.reduce(1, *)
        let image = NIfTIImage(shape: shape, spacing: spacing, values: values ?? Self.ramp(0).prefix(count).map { $0 } + [Float](repeating: 0, count: max(0, count - 60)))
        try FileManager.default.createDirectory(atPath: t.path + "/" + (relative as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try image.write(to: t.path + "/" + relative)
    }

    func writeJSON(_ t: DatasetTestFolder, cases: Int) throws {
        try t.write("ds/dataset.json", """
        {"channel_names": {"0": "T2", "1": "T1"}, "labels": {"background": 0, "a": 1, "b": 2},
         "numTraining": \(cases), "file_ending": ".nii.gz"}
        """)
    }

    func testEveryProblemReportedInOnePass() throws {
        let t = try DatasetTestFolder()
        try writeJSON(t, cases: 8)
        let L = Self.labelValues
        // a: clean; channel 1's spacing differs by 1e-5 mm, inside the 1e-4 mm tolerance.
        try write(t, "ds/imagesTr/a_0000.nii.gz")
        try write(t, "ds/imagesTr/a_0001.nii.gz", spacing: [1.00001, 1, 1])
        try write(t, "ds/labelsTr/a.nii.gz", values: L)
        // b: label has 2 slices instead of 3.
        try write(t, "ds/imagesTr/b_0000.nii.gz")
        try write(t, "ds/imagesTr/b_0001.nii.gz")
        try write(t, "ds/labelsTr/b.nii.gz", shape: [5, 4, 2], values: Array(L.prefix(40)))
        // c: channel 1 spacing 1.01 mm in x: affine off by 0.01 mm.
        try write(t, "ds/imagesTr/c_0000.nii.gz")
        try write(t, "ds/imagesTr/c_0001.nii.gz", spacing: [1.01, 1, 1])
        try write(t, "ds/labelsTr/c.nii.gz", values: L)
        // d: label values 7 and 1.5 are not declared labels.
        try write(t, "ds/imagesTr/d_0000.nii.gz")
        try write(t, "ds/imagesTr/d_0001.nii.gz")
        var badLabel = L; badLabel[3] = 7; badLabel[10] = 1.5; badLabel[11] = 7
        try write(t, "ds/labelsTr/d.nii.gz", values: badLabel)
        // e: two NaN intensities.
        var nan = Self.ramp(0); nan[0] = .nan; nan[59] = .infinity
        try write(t, "ds/imagesTr/e_0000.nii.gz", values: nan)
        try write(t, "ds/imagesTr/e_0001.nii.gz")
        try write(t, "ds/labelsTr/e.nii.gz", values: L)
        // f: channel 1 is 4-D.
        try write(t, "ds/imagesTr/f_0000.nii.gz")
        try write(t, "ds/imagesTr/f_0001.nii.gz", shape: [5, 4, 3, 2], values: Self.ramp(0) + Self.ramp(60))
        try write(t, "ds/labelsTr/f.nii.gz", values: L)
        // g: channel 0 is not NIfTI.
        try t.write("ds/imagesTr/g_0000.nii.gz", "not a NIfTI file")
        try write(t, "ds/imagesTr/g_0001.nii.gz")
        try write(t, "ds/labelsTr/g.nii.gz", values: L)
        // h: no label file.
        try write(t, "ds/imagesTr/h_0000.nii.gz")
        try write(t, "ds/imagesTr/h_0001.nii.gz")

        let data = try decodeDataConfig("data: {dataset: ds}", base: t.path)
        let (layout, discovery) = DatasetLayout.discoverAll(data)
        let report = DatasetCheck.run(try XCTUnwrap(layout), discoveryProblems: discovery)
        let d = t.path + "/ds"
        let lines = report.problems.map(\.description)
        XCTAssertEqual(lines.count, 7, lines.joined(separator: "\n"))
        XCTAssertEqual(lines[0], "case h: missing label file: \(d)/labelsTr/h.nii.gz")
        XCTAssertEqual(lines[1], "case b: \(d)/labelsTr/b.nii.gz: shape 5×4×2 differs from b_0000.nii.gz 5×4×3")
        // float32 pixdim: 1.01 is stored as 1.00999999..., printed to 3 significant digits.
        XCTAssertEqual(lines[2], "case c: \(d)/imagesTr/c_0001.nii.gz: affine differs from c_0000.nii.gz by up to 0.01 mm (tolerance 0.0001 mm)")
        XCTAssertEqual(lines[3], "case d: \(d)/labelsTr/d.nii.gz: label values 1.5, 7 are not declared labels; allowed: integers 0…2 (the declared labels)")
        XCTAssertEqual(lines[4], "case e: \(d)/imagesTr/e_0000.nii.gz: 2 voxels are NaN or infinite")
        XCTAssertEqual(lines[5], "case f: \(d)/imagesTr/f_0001.nii.gz: shape 5×4×3×2, expected a 3-D volume")
        XCTAssertTrue(lines[6].hasPrefix("case g: \(d)/imagesTr/g_0000.nii.gz: cannot read: "), lines[6])
        // Statistics exist for every case that read completely (a, c, d's images, e, h ...).
        XCTAssertEqual(report.cases.map { $0.id }, ["a", "b", "c", "d", "e", "h"])
    }

    func testCleanDatasetStatistics() throws {
        let t = try DatasetTestFolder()
        try writeJSON(t, cases: 2)
        for id in ["p", "q"] {
            try write(t, "ds/imagesTr/\(id)_0000.nii.gz", spacing: [2, 2, 2], values: Self.ramp(-10))
            try write(t, "ds/imagesTr/\(id)_0001.nii.gz", spacing: [2, 2, 2], values: Self.ramp(100))
            try write(t, "ds/labelsTr/\(id).nii.gz", spacing: [2, 2, 2], values: Self.labelValues)
        }
        let layout = try DatasetLayout.discover(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        let report = DatasetCheck.run(layout)
        XCTAssertEqual(report.problems, [])
        // Independent count of each class over the 5×4×3 grid.
        var expected = [0, 0, 0]
        for z in 0..<3 { for y in 0..<4 { for x in 0..<5 { expected[Self.labelValue(x, y, z)] += 1 } } }
        let p = try XCTUnwrap(report.cases.first)
        XCTAssertEqual(p.labelVoxels, expected)
        XCTAssertEqual(p.shape, [5, 4, 3])
        XCTAssertEqual(p.spacing, [2, 2, 2])
        XCTAssertEqual(p.intensityRange, [-10...49, 100...159])
        let text = DatasetSummary.text(report, split: nil)
        // 8 mm³ voxels: class 1 volume = count × 8 / 1000 mL.
        let ml1 = String(format: "%.4g", Double(expected[1]) * 8 / 1000)
        XCTAssertTrue(text.contains("1 a           min \(ml1)  median \(ml1)  max \(ml1)  present in 2/2"), text)
        XCTAssertTrue(text.contains("shape (x×y×z):  min 5×4×3  median 5×4×3  max 5×4×3"), text)
        XCTAssertTrue(text.contains("spacing (mm):   min 2×2×2"), text)
        XCTAssertTrue(text.contains("intensity T1: 100 … 159"), text)
    }

    func testMultiChannelFileLoadsChannelMajor() throws {
        let t = try DatasetTestFolder()
        try write(t, "x.nii.gz", shape: [5, 4, 3, 2], values: Self.ramp(0) + Self.ramp(1000))
        try write(t, "xl.nii.gz", values: Self.labelValues)
        try write(t, "y.nii.gz")
        let files = CaseFiles(id: "x", channelPaths: [t.path + "/x.nii.gz"], multiChannelFile: true,
                              labelPath: t.path + "/xl.nii.gz")
        let loaded = try CaseLoader.load(files, channels: 2, classes: 3)
        XCTAssertEqual(loaded.shape, [5, 4, 3])
        XCTAssertEqual(loaded.image, Self.ramp(0) + Self.ramp(1000))
        XCTAssertEqual(loaded.label, Self.labelValues.map { Int32($0) })
        // A 3-D file where two channels are expected.
        let flat = CaseFiles(id: "y", channelPaths: [t.path + "/y.nii.gz"], multiChannelFile: true, labelPath: nil)
        XCTAssertThrowsError(try CaseLoader.load(flat, channels: 2, classes: 3)) { e in
            XCTAssertEqual("\(e)", "case y: \(t.path)/y.nii.gz: shape 5×4×3, expected a 4-D volume with 2 channels (nx×ny×nz×2)")
        }
    }

    func testSplitIsSeededStratifiedAndExplicit() throws {
        let cases = (0..<10).map { CaseFiles(id: "c\($0)", channelPaths: [], labelPath: nil, group: $0 < 5 ? "rare" : "common") }
        var data = DataConfig()
        data.valFraction = 0.2
        let s1 = DatasetSplit(cases: cases, data: data)
        XCTAssertEqual(s1.validation.count, 2)
        XCTAssertEqual(Set(s1.validation.map { $0.group }), ["rare", "common"], "one per group")
        XCTAssertEqual(DatasetSplit(cases: cases, data: data), s1, "same seed, same split")
        data.splitSeed = 1
        let others = (1...5).map { seed -> [String] in
            data.splitSeed = seed; return DatasetSplit(cases: cases, data: data).validation.map { $0.id }
        }
        XCTAssertTrue(others.contains { $0 != s1.validation.map { $0.id } }, "the seed changes the split")
        data.valCases = ["c3"]
        XCTAssertEqual(DatasetSplit(cases: cases, data: data).validation.map { $0.id }, ["c3"])
    }
}
