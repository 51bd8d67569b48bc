import Foundation

/// One problem found in a dataset. Each description is one line naming the case and the file,
/// the value found and what is expected, so a dry run can list every problem at once.
public enum DatasetProblem: Equatable, Sendable, CustomStringConvertible {
    /// The dataset folder does not exist.
    case missingFolder(path: String, hint: String)
    /// A folder that exists but cannot be listed (permissions, I/O error).
    case unlistableFolder(path: String, reason: String)
    /// dataset.json is missing, unreadable or has a bad field.
    case datasetJSON(path: String, field: String, found: String, expected: String)
    /// Layout `auto` could not tell nnU-Net v2 from MSD.
    case unknownLayout(path: String, reason: String)
    /// A case lacks the image file of a channel.
    case missingImage(caseID: String, channel: String, path: String)
    /// A case lacks its label file.
    case missingLabel(caseID: String, path: String)
    /// A file that does not belong to any case / channel.
    case strayFile(path: String, reason: String)
    /// The number of training cases differs from dataset.json's numTraining.
    case caseCount(path: String, declared: Int, found: Int)
    /// The config's channels or labels disagree with the dataset's.
    case configMismatch(key: String, config: String, dataset: String)
    /// A file that exists but cannot be read as NIfTI.
    case unreadable(caseID: String, path: String, reason: String)
    /// A volume's dimensions are not what the case needs (3-D, or 4-D with one entry per channel).
    case dimensions(caseID: String, path: String, found: [Int], expected: String)
    /// A file's shape differs from the case's first image.
    case shapeMismatch(caseID: String, path: String, shape: [Int], reference: String, referenceShape: [Int])
    /// A file's affine differs from the case's first image by more than the tolerance.
    case affineMismatch(caseID: String, path: String, maxDifference: Double, reference: String, tolerance: Double)
    /// Label values that are not declared labels (or not integers).
    case labelValues(caseID: String, path: String, found: [String], allowed: String)
    /// Image intensities that are NaN or infinite.
    case nonFinite(caseID: String, path: String, count: Int)
    /// A row of the groups CSV that cannot be used.
    case groups(path: String, line: Int, message: String)
    /// A validation case id (data.val_cases) that is not in the dataset.
    case unknownValidationCase(caseID: String)
    /// A config key the dataset needs is missing or does not fit the files.
    case configKey(key: String, message: String)
    /// No training case at all.
    case empty(path: String)

    public var description: String {
        switch self {
        case .unlistableFolder(let path, let reason):
            return "\(path): cannot list the folder: \(reason)"
        case .missingFolder(let path, let hint):
            return "\(path): dataset folder does not exist; \(hint)"
        case .datasetJSON(let path, let field, let found, let expected):
            return "\(path): \(field): found \(found), expected \(expected)"
        case .unknownLayout(let path, let reason):
            return "\(path): cannot tell the dataset layout: \(reason); set data.layout to nnunet, msd or list"
        case .missingImage(let id, let channel, let path):
            return "case \(id): missing image of channel \(channel): \(path)"
        case .missingLabel(let id, let path):
            return "case \(id): missing label file: \(path)"
        case .strayFile(let path, let reason):
            return "\(path): \(reason)"
        case .caseCount(let path, let declared, let found):
            return "\(path): numTraining is \(declared) but \(found) training cases were found"
        case .configMismatch(let key, let config, let dataset):
            return "\(key): the config says \(config) but the dataset has \(dataset)"
        case .unreadable(let id, let path, let reason):
            return "case \(id): \(path): cannot read: \(reason)"
        case .dimensions(let id, let path, let found, let expected):
            return "case \(id): \(path): shape \(Self.shapeText(found)), expected \(expected)"
        case .shapeMismatch(let id, let path, let shape, let reference, let referenceShape):
            return "case \(id): \(path): shape \(Self.shapeText(shape)) differs from \(reference) \(Self.shapeText(referenceShape))"
        case .affineMismatch(let id, let path, let difference, let reference, let tolerance):
            return "case \(id): \(path): affine differs from \(reference) by up to \(String(format: "%.3g", difference)) mm (tolerance \(formatMM(tolerance)) mm)"
        case .labelValues(let id, let path, let found, let allowed):
            return "case \(id): \(path): label values \(found.joined(separator: ", ")) are not declared labels; allowed: \(allowed)"
        case .nonFinite(let id, let path, let count):
            return "case \(id): \(path): \(count) voxels are NaN or infinite"
        case .groups(let path, let line, let message):
            return "\(path):\(line): \(message)"
        case .unknownValidationCase(let id):
            return "data.val_cases: case '\(id)' is not in the dataset"
        case .configKey(let key, let message):
            return "\(key): \(message)"
        case .empty(let path):
            return "\(path): no training cases found"
        }
    }
}

/// 0.0001 → "0.0001" (not "1e-04").
private func formatMM(_ v: Double) -> String {
    var text = String(format: "%.6f", v)
    while text.hasSuffix("0") { text.removeLast() }
    if text.hasSuffix(".") { text.removeLast() }
    return text
}

extension DatasetProblem {
    /// "96×112×96".
    package static func shapeText(_ shape: [Int]) -> String { shape.map(String.init).joined(separator: "×") }
}

/// Thrown when a dataset has problems; `problems` lists every one found in the pass.
public struct DatasetError: Error, CustomStringConvertible {
    public var problems: [DatasetProblem]
    public init(_ problems: [DatasetProblem]) { self.problems = problems }
    public var description: String { problems.map { $0.description }.joined(separator: "\n") }
}
