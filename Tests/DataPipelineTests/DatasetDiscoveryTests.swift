import XCTest
import Config
@testable import DataPipeline
import TestSupport

/// Discovery on fake file trees (empty files: discovery looks at names, not contents).
final class DatasetDiscoveryTests: XCTestCase {
    func testNNUNetLayout() throws {
        let t = try DatasetTestFolder()
        try t.write("ds/dataset.json", datasetTestNNUNetJSON)
        for f in ["imagesTr/b_0000", "imagesTr/b_0001", "imagesTr/a_0000", "imagesTr/a_0001",
                  "labelsTr/a", "labelsTr/b", "imagesTs/z_0000", "imagesTs/z_0001"] {
            try t.write("ds/\(f).nii.gz")
        }
        let layout = try DatasetLayout.discover(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        XCTAssertEqual(layout.kind, .nnunet)
        XCTAssertEqual(layout.channels, ["T2", "ADC"])
        XCTAssertEqual(layout.labels.map { $0.name }, ["background", "a", "b"])
        XCTAssertEqual(layout.cases.map { $0.id }, ["a", "b"])
        XCTAssertEqual(layout.cases[0], CaseFiles(id: "a", channelPaths: [t.path + "/ds/imagesTr/a_0000.nii.gz",
                                                                          t.path + "/ds/imagesTr/a_0001.nii.gz"],
                                                  labelPath: t.path + "/ds/labelsTr/a.nii.gz"))
        XCTAssertEqual(layout.testCases.map { $0.id }, ["z"])
        XCTAssertNil(layout.testCases[0].labelPath)
    }

    func testNNUNetProblemsAllAtOnce() throws {
        let t = try DatasetTestFolder()
        try t.write("ds/dataset.json", datasetTestNNUNetJSON)
        try t.write("ds/imagesTr/a_0000.nii.gz")           // a: channel 1 missing
        try t.write("ds/labelsTr/a.nii.gz")
        try t.write("ds/imagesTr/b_0000.nii.gz")           // b: label missing
        try t.write("ds/imagesTr/b_0001.nii.gz")
        try t.write("ds/imagesTr/b_0002.nii.gz")           // channel 2 not declared
        try t.write("ds/imagesTr/notes.txt")               // wrong ending
        try t.write("ds/labelsTr/c.nii.gz")                // c: label only
        let (_, problems) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        let d = t.path + "/ds"
        XCTAssertEqual(problems.map(\.description).sorted(), [
            "\(d)/dataset.json: numTraining is 2 but 3 training cases were found",
            "\(d)/imagesTr/b_0002.nii.gz: channel 2 but dataset.json declares 2 channel(s)",
            "\(d)/imagesTr/notes.txt: does not end with the dataset's file_ending .nii.gz",
            "case a: missing image of channel 1 (ADC): \(d)/imagesTr/a_0001.nii.gz",
            "case b: missing label file: \(d)/labelsTr/b.nii.gz",
            "case c: missing image of channel 0 (T2): \(d)/imagesTr/c_0000.nii.gz",
            "case c: missing image of channel 1 (ADC): \(d)/imagesTr/c_0001.nii.gz",
        ])
        XCTAssertThrowsError(try DatasetLayout.discover(try decodeDataConfig("data: {dataset: ds}", base: t.path)))
    }

    func testMSDLayout() throws {
        let t = try DatasetTestFolder()
        try t.write("ds/dataset.json", datasetTestMSDJSON)
        for f in ["imagesTr/c1", "imagesTr/c2", "labelsTr/c1", "labelsTr/c2"] { try t.write("ds/\(f).nii.gz") }
        let layout = try DatasetLayout.discover(try decodeDataConfig("data: {dataset: ds, layout: msd}", base: t.path))
        XCTAssertEqual(layout.kind, .msd)
        XCTAssertEqual(layout.channels, ["FLAIR", "T1w"])
        XCTAssertEqual(layout.labels, [LabelDefinition(name: "background", value: 0), LabelDefinition(name: "edema", value: 1)])
        XCTAssertEqual(layout.cases.map { $0.id }, ["c1", "c2"])
        XCTAssertEqual(layout.cases[0], CaseFiles(id: "c1", channelPaths: [t.path + "/ds/imagesTr/c1.nii.gz"],
                                                  multiChannelFile: true, labelPath: t.path + "/ds/labelsTr/c1.nii.gz"))
        XCTAssertEqual(layout.testCases.map { $0.id }, ["t1"])
    }

    func testMSDMissingFiles() throws {
        let t = try DatasetTestFolder()
        try t.write("ds/dataset.json", datasetTestMSDJSON)
        try t.write("ds/imagesTr/c1.nii.gz")
        try t.write("ds/labelsTr/c2.nii.gz")
        let (_, problems) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        let d = t.path + "/ds"
        XCTAssertEqual(problems.map(\.description), [
            "case c2: missing image of channel all: \(d)/imagesTr/c2.nii.gz",
            "case c1: missing label file: \(d)/labelsTr/c1.nii.gz",
        ])
    }

    func testExplicitListAndGroups() throws {
        let t = try DatasetTestFolder()
        for f in ["a1", "a2", "al", "b1", "b2", "bl"] { try t.write("\(f).nii") }
        try t.write("groups.csv", "case,group\na,normal\nb,rare\nzz,rare\nbad line\n")
        let yaml = """
        data:
          channels: [T1, T2]
          labels: {background: 0, tissue: 1}
          groups: groups.csv
          val_cases: [b, q]
          cases:
            - {id: a, images: [a1.nii, a2.nii], label: al.nii}
            - {id: b, images: [b1.nii, b2.nii], label: bl.nii}
            - {id: c, images: [c1.nii], label: cl.nii}
        """
        let (layout, problems) = DatasetLayout.discoverAll(try decodeDataConfig(yaml, base: t.path))
        XCTAssertEqual(layout?.kind, .list)
        XCTAssertEqual(layout?.cases.map { $0.group }, ["normal", "rare", nil])
        XCTAssertEqual(layout?.cases[2].multiChannelFile, true, "one file for two channels: a 4-D image")
        XCTAssertEqual(problems.map(\.description), [
            "case c: missing image of channel all: \(t.path)/c1.nii",
            "case c: missing label file: \(t.path)/cl.nii",
            "\(t.path)/groups.csv:4: case zz is not in the dataset",
            "\(t.path)/groups.csv:5: found 'bad line', expected 'case,group'",
            "data.val_cases: case 'q' is not in the dataset",
        ])
    }

    func testConfigMustAgreeWithDatasetJSON() throws {
        let t = try DatasetTestFolder()
        try t.write("ds/dataset.json", datasetTestNNUNetJSON)
        for f in ["imagesTr/a_0000", "imagesTr/a_0001", "labelsTr/a"] { try t.write("ds/\(f).nii.gz") }
        let yaml = "data:\n  dataset: ds\n  channels: [T2]\n  labels: {background: 0, x: 1, y: 2, z: 3}\n"
        let (_, problems) = DatasetLayout.discoverAll(try decodeDataConfig(yaml, base: t.path))
        XCTAssertEqual(problems.map(\.description), [
            "\(t.path)/ds/dataset.json: numTraining is 2 but 1 training cases were found",
            "data.channels: the config says 1 channels [\"T2\"] but the dataset has 2 [\"T2\", \"ADC\"]",
            "data.labels: the config says 4 labels but the dataset has 3 (background, a, b)",
        ])
        // Same counts, other names: the config's names are used, with a note.
        let renamed = DatasetLayout.discoverAll(try decodeDataConfig(
            "data:\n  dataset: ds\n  channels: [t2w, adc]\n  labels: {background: 0, x: 1, y: 2}\n", base: t.path)).0
        XCTAssertEqual(renamed?.channels, ["t2w", "adc"])
        XCTAssertEqual(renamed?.labels.map { $0.name }, ["background", "x", "y"])
        XCTAssertEqual(renamed?.notes.count, 2)
    }

    func testMissingFolderAndBadJSON() throws {
        let t = try DatasetTestFolder()
        let (none, p1) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: nope, demo: {}}", base: t.path))
        XCTAssertNil(none)
        XCTAssertEqual(p1.map(\.description), ["\(t.path)/nope: dataset folder does not exist; create the demo dataset with dro-train --config <this config> --make-demo-data \(t.path)/nope"])
        try t.write("ds/dataset.json", "{\"labels\": {\"background\": 0, \"tumour\": [1, 2]}, \"channel_names\": {\"0\": \"T1\"}}")
        let (_, p2) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        XCTAssertTrue(p2.map(\.description).contains(
            "\(t.path)/ds/dataset.json: labels.tumour: found [1, 2], expected one integer per label (region-based labels are not supported)"), "\(p2)")
        try t.write("ds/dataset.json", "{\"name\": 1}")
        let (_, p3) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        XCTAssertEqual(p3.map(\.description), ["\(t.path)/ds/dataset.json: cannot tell the dataset layout: dataset.json has neither \"channel_names\" (nnU-Net v2) nor \"modality\"/\"training\" (MSD); set data.layout to nnunet, msd or list"])
        try t.write("ds/dataset.json", "{not json")
        let (_, p4) = DatasetLayout.discoverAll(try decodeDataConfig("data: {dataset: ds}", base: t.path))
        XCTAssertEqual(p4.map(\.description), ["\(t.path)/ds/dataset.json: (file): found invalid JSON, expected valid JSON"])
    }
}
