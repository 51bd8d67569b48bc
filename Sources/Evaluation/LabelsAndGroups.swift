import Foundation

/// A label value with a display name.
public struct LabelInfo: Sendable, Equatable {
    public var value: Int32
    public var name: String
    public init(value: Int32, name: String) { self.value = value; self.name = name }
}

public enum LabelSource {
    /// Parses `--labels 1,2,3` (positive integers, duplicates removed, ascending).
    public static func parseList(_ text: String) throws -> [LabelInfo] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        var values: [Int32] = []
        for p in parts {
            guard let v = Int32(p), v > 0 else { throw EvaluationError.badLabelList(value: text) }
            values.append(v)
        }
        if values.isEmpty { throw EvaluationError.badLabelList(value: text) }
        return Set(values).sorted().map { LabelInfo(value: $0, name: "label \($0)") }
    }

    /// Foreground labels of a `dataset.json`: nnU-Net v2 ("labels": {"name": value}) or MSD
    /// ("labels": {"value": "name"}); background (0) skipped.
    public static func fromDatasetJSON(path: String) throws -> [LabelInfo] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError.missingPath(option: "--dataset-json", path: path)
        }
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            throw EvaluationError.datasetJSON(path: path, key: "(root)", found: "not valid JSON",
                                              allowed: "a JSON object")
        }
        guard let root = object as? [String: Any], let labels = root["labels"] as? [String: Any] else {
            throw EvaluationError.datasetJSON(path: path, key: "labels", found: "missing or not an object",
                                              allowed: "{\"name\": value} or {\"value\": \"name\"}")
        }
        var out: [LabelInfo] = []
        for (key, value) in labels {
            if let v = value as? Int, let v32 = Int32(exactly: v) {         // nnU-Net v2
                if v32 > 0 { out.append(LabelInfo(value: v32, name: key)) }
            } else if let v32 = Int32(key), let name = value as? String {  // MSD
                if v32 > 0 { out.append(LabelInfo(value: v32, name: name)) }
            } else {
                throw EvaluationError.datasetJSON(
                    path: path, key: "labels.\(key)", found: "\(value)",
                    allowed: "an integer label value (nnU-Net v2) or a name under an integer key (MSD); region lists are not supported")
            }
        }
        if out.isEmpty {
            throw EvaluationError.datasetJSON(path: path, key: "labels", found: "no foreground label",
                                              allowed: "at least one label > 0")
        }
        return out.sorted { $0.value < $1.value }
    }

    /// Every non-zero value present in the ground-truth volumes.
    static func found(inGroundTruth values: Set<Int32>) -> [LabelInfo] {
        values.filter { $0 > 0 }.sorted().map { LabelInfo(value: $0, name: "label \($0)") }
    }
}

public enum GroupTable {
    /// Reads `case,group` lines; a first line `case,group` (any case) is a header; blank lines
    /// skipped. Returns case id → group.
    public static func read(path: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8) else {
            throw EvaluationError.missingPath(option: "--groups", path: path)
        }
        var out: [String: String] = [:]
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 2, !fields[0].isEmpty, !fields[1].isEmpty else {
                throw EvaluationError.groupsCSV(path: path, line: n + 1, found: line)
            }
            if n == 0 && fields[0].lowercased() == "case" && fields[1].lowercased() == "group" { continue }
            out[fields[0]] = fields[1]
        }
        return out
    }
}
