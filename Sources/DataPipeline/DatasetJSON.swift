import Config
import Foundation

/// What dataset.json says, in either dialect: nnU-Net v2 raw ("channel_names", "labels" name →
/// value, "numTraining", "file_ending") or the Medical Segmentation Decathlon ("modality",
/// "labels" value → name, "training": [{"image", "label"}], "test": [...]).
package struct DatasetJSON {
    package static let fileName = "dataset.json"
    /// nnU-Net v2's default file ending.
    static let defaultFileEnding = ".nii.gz"

    package let path: String
    let object: [String: DatasetJSONValue]

    /// Reads the file; a missing or malformed file is a problem, not a crash.
    package static func read(folder: String) -> (DatasetJSON?, [DatasetProblem]) {
        let path = folder + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else {
            return (nil, [.datasetJSON(path: path, field: "(file)", found: "no file",
                                       expected: "a dataset.json (nnU-Net v2 or MSD), or data.layout: list with data.cases")])
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let object = try JSONDecoder().decode(DatasetJSONValue.self, from: data).object else {
                return (nil, [.datasetJSON(path: path, field: "(top level)", found: "not an object", expected: "a JSON object")])
            }
            return (DatasetJSON(path: path, object: object), [])
        } catch {
            return (nil, [.datasetJSON(path: path, field: "(file)", found: "invalid JSON", expected: "valid JSON")])
        }
    }

    /// nnU-Net v2 has "channel_names"; MSD has "modality" and "training" as a list of pairs.
    package var guessedKind: DatasetLayoutKind? {
        if object["channel_names"] != nil { return .nnunet }
        if object["training"]?.array != nil || object["modality"] != nil { return .msd }
        return nil
    }

    func problem(_ field: String, _ found: DatasetJSONValue?, _ expected: String) -> DatasetProblem {
        .datasetJSON(path: path, field: field, found: found?.description ?? "nothing", expected: expected)
    }

    /// {"0": "T2", "1": "ADC"} → names ordered by the integer key (both dialects use this form).
    package func channelNames(field: String) -> ([String], [DatasetProblem]) {
        guard let dict = object[field]?.object, !dict.isEmpty else {
            return ([], [problem(field, object[field], "an object {\"0\": \"name\", ...}")])
        }
        let keys = dict.keys.compactMap { Int($0) }.sorted()
        guard keys.count == dict.count, keys == Array(0..<keys.count) else {
            return ([], [problem(field, object[field], "keys \"0\", \"1\", ... without gaps")])
        }
        return (keys.map { dict[String($0)]?.string ?? "channel\($0)" }, [])
    }

    /// nnU-Net v2: {"background": 0, "tumour": 1}; MSD: {"0": "background", "1": "tumour"}.
    func labels(msd: Bool) -> ([LabelDefinition], [DatasetProblem]) {
        guard let dict = object["labels"]?.object, !dict.isEmpty else {
            return ([], [problem("labels", object["labels"], "an object of labels")])
        }
        var labels: [LabelDefinition] = []
        for (k, v) in dict {
            if msd {
                guard let value = Int(k), let name = v.string else {
                    return ([], [problem("labels", object["labels"], "{\"0\": \"background\", \"1\": \"name\", ...} (MSD)")])
                }
                labels.append(LabelDefinition(name: name, value: value))
            } else {
                guard let value = v.int else {
                    let expected = v.array != nil ? "one integer per label (region-based labels are not supported)"
                        : "an integer label value"
                    return ([], [problem("labels.\(k)", v, expected)])
                }
                labels.append(LabelDefinition(name: k, value: value))
            }
        }
        labels.sort { $0.value < $1.value }
        guard labels.map({ $0.value }) == Array(0..<labels.count) else {
            return ([], [problem("labels", object["labels"], "consecutive values 0, 1, 2, ... with background 0")])
        }
        return (labels, [])
    }

    var numTraining: Int? { object["numTraining"]?.int }
}
