import Foundation
import XCTest
import Config

/// A fresh temporary folder per test, removed afterwards.
package final class DatasetTestFolder {
    package let path: String
    package init() throws {
        path = NSTemporaryDirectory() + "dro-dataset-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `text` at `relative` (folders created), returns the absolute path.
    @discardableResult
    package func write(_ relative: String, _ text: String = "") throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
        return full
    }
}

package func decodeDataConfig(_ yaml: String, base: String) throws -> DataConfig {
    try Config.decode(yaml: yaml, sourceName: "t.cfg", baseDirectory: base).data
}

package let datasetTestNNUNetJSON = """
{"channel_names": {"0": "T2", "1": "ADC"}, "labels": {"background": 0, "a": 1, "b": 2},
 "numTraining": 2, "file_ending": ".nii.gz"}
"""

package let datasetTestMSDJSON = """
{"name": "x", "modality": {"0": "FLAIR", "1": "T1w"}, "labels": {"0": "background", "1": "edema"},
 "numTraining": 2, "training": [{"image": "./imagesTr/c2.nii.gz", "label": "./labelsTr/c2.nii.gz"},
                                {"image": "./imagesTr/c1.nii.gz", "label": "./labelsTr/c1.nii.gz"}],
 "test": ["./imagesTs/t1.nii.gz"]}
"""
