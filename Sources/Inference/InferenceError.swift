/// Why `dro-infer` could not segment a case or could not start. Each description is one line
/// naming the file or case, the value found and what is allowed.
import Common

public enum InferenceError: Error, CustomStringConvertible, Equatable {
    /// A command-line problem (exit 64): option, value found, what is allowed.
    case usage(option: String, found: String, allowed: String)
    /// An input path that does not exist.
    case missingInput(path: String)
    /// An input folder without any NIfTI volume.
    case emptyInput(path: String)
    /// An input folder that exists but cannot be listed.
    case unlistableInput(path: String, reason: String)
    /// A file named like a NIfTI volume by neither ending.
    case notNIfTI(path: String)
    /// Two checkpoints of an ensemble disagree (channels, labels or preprocessing).
    case ensembleMismatch(path: String, reference: String, what: String, found: String, expected: String)
    /// The input's channels do not match the model's (count or names).
    case channels(source: String, found: String, expected: String)
    /// A case's files do not form the channels 0..<C of nnU-Net naming (CASE_0000, CASE_0001, …).
    case channelFiles(caseID: String, found: [Int], expected: Int, names: [String])
    /// Two inputs would write the same output (same case id).
    case duplicateCase(caseID: String, paths: [String])
    /// The output exists and `--overwrite` was not given.
    case outputExists(caseID: String, path: String)
    /// Writing an output failed (the system's or the NIfTI writer's reason attached).
    case write(caseID: String, path: String, reason: String)

    public var description: String {
        switch self {
        case let .usage(option, found, allowed):
            return "\(option): \(found); allowed: \(allowed)"
        case let .unlistableInput(path, reason):
            return "--input \(path): cannot list the folder: \(reason)"
        case let .missingInput(path):
            return "--input \(path): no such file or folder"
        case let .emptyInput(path):
            return "--input \(path): no .nii or .nii.gz volume in this folder"
        case let .notNIfTI(path):
            return "--input \(path): not a NIfTI volume (expected a name ending in .nii.gz or .nii)"
        case let .ensembleMismatch(path, reference, what, found, expected):
            return "--ensemble \(path): \(what) \(found) differ from \(reference)'s \(expected); "
                + "an ensemble needs the same channels, labels and preprocessing"
        case let .channels(source, found, expected):
            return "\(source): \(found), but the model expects \(expected)"
        case let .channelFiles(id, found, expected, names):
            let have = found.map { "_" + InputDiscovery.channelSuffix($0) }.joined(separator: ", ")
            let want = (0..<expected).map { "_" + InputDiscovery.channelSuffix($0) + " (\(names[$0]))" }
            return "case \(id): channel files \(have.isEmpty ? "none" : have); the model expects "
                + "\(want.joined(separator: ", "))"
        case let .duplicateCase(id, paths):
            return "case \(id): given more than once (\(paths.joined(separator: ", "))); each case needs its own output"
        case let .outputExists(id, path):
            return "case \(id): output \(path) exists; not overwritten (pass --overwrite to replace it)"
        case let .write(id, path, reason):
            return "case \(id): cannot write \(path): \(reason)"
        }
    }

    /// Exit status when this error stops the whole run: 64 for usage errors, else 1.
    public var exitCode: Int32 {
        if case .usage = self { return ExitStatus.usage }
        return ExitStatus.failure
    }
}
