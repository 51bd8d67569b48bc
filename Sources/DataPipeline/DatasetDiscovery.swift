import Config
import Foundation

extension DatasetLayout {
    /// Finds every case of the dataset the config describes. Throws `DatasetError` listing every
    /// problem (missing files, bad dataset.json, config disagreements) when there is any.
    public static func discover(_ data: DataConfig) throws -> DatasetLayout {
        let (layout, problems) = discoverAll(data)
        guard let layout, problems.isEmpty else { throw DatasetError(problems) }
        return layout
    }

    /// Discovery that keeps going: the layout found so far (cases with missing files included)
    /// and every problem. The layout is nil only when nothing could be listed at all.
    public static func discoverAll(_ data: DataConfig) -> (DatasetLayout?, [DatasetProblem]) {
        var problems: [DatasetProblem] = []
        var layout: DatasetLayout?
        var kind = data.layout
        if kind == .auto && !data.cases.isEmpty { kind = .list }
        if kind == .list {
            layout = discoverList(data, problems: &problems)
        } else {
            guard let root = data.dataset else {
                return (nil, [.configKey(key: "data.dataset", message: "no dataset folder given")])
            }
            guard DatasetFiles.directoryExists(root) else {
                let hint = data.demo != nil ? "create the demo dataset with dro-train --config <this config> --make-demo-data \(root)"
                    : "check data.dataset in the config"
                return (nil, [.missingFolder(path: root, hint: hint)])
            }
            let (json, jsonProblems) = DatasetJSON.read(folder: root)
            problems += jsonProblems
            guard let json else { return (nil, problems) }
            if kind == .auto {
                guard let guessed = json.guessedKind else {
                    return (nil, problems + [.unknownLayout(path: json.path,
                        reason: "dataset.json has neither \"channel_names\" (nnU-Net v2) nor \"modality\"/\"training\" (MSD)")])
                }
                kind = guessed
            }
            layout = kind == .msd ? discoverMSD(root: root, json: json, problems: &problems)
                : discoverNNUNet(root: root, json: json, problems: &problems)
        }
        guard var found = layout else { return (nil, problems) }
        found.reconcile(with: data, problems: &problems)
        if let csv = data.groups {
            GroupsCSV.apply(path: csv, to: &found.cases, tests: &found.testCases, problems: &problems)
        }
        for id in data.valCases ?? [] where !found.cases.contains(where: { $0.id == id }) {
            problems.append(.unknownValidationCase(caseID: id))
        }
        if found.cases.isEmpty { problems.append(.empty(path: found.root ?? "data.cases")) }
        return (found, problems)
    }

    /// The config's channel and label names take precedence; their counts must agree.
    private mutating func reconcile(with data: DataConfig, problems: inout [DatasetProblem]) {
        if let names = data.channels, kind != .list {
            if names.count != channels.count {
                problems.append(.configMismatch(key: "data.channels", config: "\(names.count) channels \(names)",
                                                dataset: "\(channels.count) \(channels)"))
            } else if names != channels {
                notes.append("channel names from the config \(names) replace the dataset's \(channels)")
                channels = names
            }
        }
        if let labels = data.labels, kind != .list {
            if labels.count != self.labels.count {
                problems.append(.configMismatch(key: "data.labels", config: "\(labels.count) labels",
                                                dataset: "\(self.labels.count) (\(self.labels.map { $0.name }.joined(separator: ", ")))"))
            } else if labels.map({ $0.name }) != self.labels.sorted(by: { $0.value < $1.value }).map({ $0.name }) {
                notes.append("label names from the config replace the dataset's (\(self.labels.map { $0.name }.joined(separator: ", ")))")
                self.labels = labels.sorted { $0.value < $1.value }
            }
        }
    }
}

/// File-system questions of dataset discovery.
enum DatasetFiles {
    static func directoryExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    static func fileExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    /// Visible file names of a folder, sorted; empty when the folder does not exist. A folder
    /// that exists but cannot be listed is a problem, not an empty folder.
    static func list(_ folder: String, problems: inout [DatasetProblem]) -> [String] {
        guard directoryExists(folder) else { return [] }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            problems.append(.unlistableFolder(path: folder, reason: FileErrorText.reason(error)))
            return []
        }
        return names.filter { !$0.hasPrefix(".") && fileExists(folder + "/" + $0) }.sorted()
    }
}

/// The short reason of a Foundation file error ("permission denied"), without its wrapping.
package enum FileErrorText {
    package static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code))).lowercased()
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }
}
