import DataPipeline
import Foundation

/// One case to segment: its files, or the reason they do not form a case (reported when its
/// turn comes, so the other cases still run).
public struct PlannedCase: Equatable, Sendable {
    public var id: String
    public var files: CaseFiles?
    public var problem: InferenceError?
}

/// Turns `--input` arguments (files and folders, any mix) into cases.
///
/// Every NIfTI file of a folder is an input (other files, e.g. dataset.json, are ignored). A
/// file named `CASE_XXXX.nii.gz` with a 4-digit XXXX < the model's channel count is channel XXXX
/// of case CASE (nnU-Net's imagesTs naming); a case's channel files must be exactly
/// `_0000 … _C−1`. Any other file is a whole case on its own: a 3-D volume for a one-channel
/// model, or a 4-D volume holding every channel (MSD). Output files are named `CASE.nii.gz`.
public enum InputDiscovery {
    /// nnU-Net's channel suffix: 4 digits.
    static let channelDigits = 4
    /// File endings the NIfTI reader understands.
    static let endings = [".nii.gz", ".nii"]

    static func channelSuffix(_ c: Int) -> String { String(format: "%04d", c) }

    /// The volume's name without its NIfTI ending; nil when it has neither ending.
    package static func stem(_ name: String) -> String? {
        for ending in endings where name.lowercased().hasSuffix(ending) && name.count > ending.count {
            return String(name.dropLast(ending.count))
        }
        return nil
    }

    /// (case id, channel) when `stem` is nnU-Net channel naming for a model with `channels` inputs.
    static func channelName(_ stem: String, channels: Int) -> (id: String, channel: Int)? {
        guard let underscore = stem.lastIndex(of: "_") else { return nil }
        let digits = stem[stem.index(after: underscore)...]
        let id = String(stem[..<underscore])
        guard digits.count == channelDigits, digits.allSatisfy(\.isASCII), let c = Int(digits), c < channels,
              !id.isEmpty else { return nil }
        return (id, c)
    }

    /// Cases of the inputs sorted by id. Throws for inputs that do not exist or hold no volume,
    /// a dataset.json whose channels differ from the model's (unless `checkNames` is false)
    /// and a case given twice.
    public static func cases(inputs: [String], channels: [String], checkNames: Bool = true) throws -> [PlannedCase] {
        var files: [String] = []
        for input in inputs {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isFolder) else {
                throw InferenceError.missingInput(path: input)
            }
            if isFolder.boolValue {
                let volumes = try visibleFiles(input).filter { stem($0) != nil }.map { folderJoin(input, $0) }
                guard !volumes.isEmpty else { throw InferenceError.emptyInput(path: input) }
                try checkDatasetChannels(folder: input, channels: channels, checkNames: checkNames)
                files += volumes
            } else {
                guard stem(lastComponent(input)) != nil else { throw InferenceError.notNIfTI(path: input) }
                files.append(input)
            }
        }
        var grouped: [String: [(channel: Int, path: String)]] = [:]
        var whole: [String: [String]] = [:]
        for path in files {
            let s = stem(lastComponent(path)) ?? path
            if let (id, channel) = channelName(s, channels: channels.count) {
                grouped[id, default: []].append((channel, path))
            } else {
                whole[s, default: []].append(path)
            }
        }
        var cases: [PlannedCase] = []
        for (id, paths) in whole {
            let all = paths + (grouped[id]?.map(\.path) ?? [])
            guard all.count == 1 else { throw InferenceError.duplicateCase(caseID: id, paths: all) }
            cases.append(PlannedCase(id: id, files: CaseFiles(id: id, channelPaths: paths, multiChannelFile: channels.count > 1,
                                                              labelPath: nil)))
        }
        for (id, entries) in grouped where whole[id] == nil {
            let byChannel = Dictionary(grouping: entries, by: \.channel)
            if let twice = byChannel.values.first(where: { $0.count > 1 }) {
                throw InferenceError.duplicateCase(caseID: id, paths: twice.map(\.path))
            }
            let found = byChannel.keys.sorted()
            guard found == Array(0..<channels.count) else {
                cases.append(PlannedCase(id: id, files: nil, problem: .channelFiles(caseID: id, found: found,
                                                                                    expected: channels.count, names: channels)))
                continue
            }
            cases.append(PlannedCase(id: id, files: CaseFiles(id: id, channelPaths: found.map { byChannel[$0]![0].path },
                                                              labelPath: nil)))
        }
        return cases.sorted { $0.id < $1.id }
    }

    /// A dataset.json in the folder or its parent (nnU-Net's imagesTs/..) must declare the
    /// model's channels: the same count, and the same names unless `checkNames` is false.
    static func checkDatasetChannels(folder: String, channels: [String], checkNames: Bool) throws {
        let parent = URL(fileURLWithPath: folder).deletingLastPathComponent().path
        guard let root = [folder, parent].first(where: {
            FileManager.default.fileExists(atPath: $0 + "/" + DatasetJSON.fileName)
        }) else { return }
        let (json, _) = DatasetJSON.read(folder: root)
        guard let json, let kind = json.guessedKind else { return }
        let (names, _) = json.channelNames(field: kind == .msd ? "modality" : "channel_names")
        guard !names.isEmpty else { return }
        if names.count != channels.count || (checkNames && names != channels) {
            throw InferenceError.channels(source: json.path, found: "channels \(names)",
                                          expected: "\(channels)" + (names.count == channels.count
                                              ? " (pass --ignore-channel-names if only the names differ)" : ""))
        }
    }

    /// Visible regular files of a folder, sorted. A folder that cannot be listed is an error
    /// (not "no volumes").
    static func visibleFiles(_ folder: String) throws -> [String] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw InferenceError.unlistableInput(path: folder, reason: FileErrorText.reason(error))
        }
        return names.filter { name in
            var isFolder: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: folderJoin(folder, name), isDirectory: &isFolder)
                && !isFolder.boolValue
        }.sorted()
    }

    package static func lastComponent(_ path: String) -> String { URL(fileURLWithPath: path).lastPathComponent }

    package static func folderJoin(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
