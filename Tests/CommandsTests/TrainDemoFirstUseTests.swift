import ArgumentParser
import XCTest
import Config
@testable import Commands
import TestSupport

/// `dro-train --config demo.cfg` on a machine without the phantom: the first use writes the
/// dataset (training and test split) to `data.dataset`, trains, and prints the next commands.
final class TrainDemoFirstUseTests: XCTestCase {
    func testDemoConfigWritesThePhantomOnFirstUseThenTrains() throws {
        let root = NSTemporaryDirectory() + "demo-first-use-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let yaml = """
        data:
          dataset: data
          groups: data/groups.csv
          val_fraction: 0
          demo: {cases: 3, rare_fraction: 0.34, seed: 2, test_cases: 2, test_rare_fraction: 0.5}
        model:
          features: [4, 8]
        training:
          patch_size: [8, 8, 8]
          batch_size: 2
          epochs: 1
          threads: 1
        output:
          dir: run
        """
        let config = try Config.decode(yaml: yaml, sourceName: root + "/demo.cfg", baseDirectory: root)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/data"))
        let lines = TrainRunEndToEndTests.Lines()
        XCTAssertEqual(TrainingEntry.train(config, options: try! TrainOptions.parse([]), output: lines.output), 0, "\(lines.err)")

        let files = try FileManager.default.contentsOfDirectory(atPath: root + "/data/imagesTr")
        XCTAssertEqual(files.count, 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/data/labelsTs").count, 2)
        let groups = try String(contentsOfFile: root + "/data/groups.csv", encoding: .utf8)
        XCTAssertEqual(groups.split(separator: "\n").count, 1 + 3 + 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root + "/run/checkpoint_latest.ckpt"))
        XCTAssertTrue(lines.out.contains { $0.hasPrefix("first use of the demo config") }, "\(lines.out)")
        let next = lines.out.last ?? ""
        XCTAssertTrue(next.contains("dro-infer --model \(root)/run/checkpoint_latest.ckpt --input \(root)/data/imagesTs"), next)
        XCTAssertTrue(next.contains("--groups \(root)/data/groups.csv"), next)

        // A second use finds the dataset and does not rewrite it.
        let before = try FileManager.default.attributesOfItem(atPath: root + "/data/dataset.json")[.modificationDate] as? Date
        try FileManager.default.removeItem(atPath: root + "/run")
        XCTAssertEqual(TrainingEntry.train(config, options: try! TrainOptions.parse([]), output: lines.output), 0, "\(lines.err)")
        let after = try FileManager.default.attributesOfItem(atPath: root + "/data/dataset.json")[.modificationDate] as? Date
        XCTAssertEqual(before, after)
    }
}
