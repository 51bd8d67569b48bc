/// Errors of dro-eval. Each description is one line naming the file, case or option, the value
/// found and what is allowed.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    case missingPath(option: String, path: String)
    case mixedInputs(pred: String, gt: String)
    case noCases(folder: String)
    case unreadable(path: String, reason: String)
    case notAVolume(path: String, shape: [Int])
    case invalidSpacing(path: String, spacing: [Double])
    case nonIntegerLabel(path: String, value: Double)
    case labelTooLarge(path: String, value: Int, allowed: Int)
    case geometryMismatch(caseID: String, field: String, gt: String, pred: String)
    case badLabelList(value: String)
    case datasetJSON(path: String, key: String, found: String, allowed: String)
    case groupsCSV(path: String, line: Int, found: String)
    case caseWithoutGroup(caseID: String, path: String)
    case imageNotFound(caseID: String, location: String)
    case imageShape(caseID: String, path: String, image: [Int], gt: [Int])
    case writeFailed(path: String, reason: String)
    case badOption(option: String, value: String, allowed: String)

    public var description: String {
        switch self {
        case let .missingPath(option, path):
            return "\(option): '\(path)' does not exist"
        case let .mixedInputs(pred, gt):
            return "--pred '\(pred)' and --gt '\(gt)' must both be folders or both be files"
        case let .noCases(folder):
            return "\(folder): no .nii or .nii.gz files found"
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .invalidSpacing(path, spacing):
            return "\(path): voxel size \(spacing) mm from its affine (allowed: finite values > 0)"
        case let .notAVolume(path, shape):
            return "\(path): shape \(shape) is not a 3D label volume (allowed: [nx, ny, nz] or [nx, ny, nz, 1])"
        case let .nonIntegerLabel(path, value):
            return "\(path): voxel value \(value) is not a non-negative integer label"
        case let .labelTooLarge(path, value, allowed):
            return "\(path): label value \(value) is larger than \(allowed) (allowed: labels 0...\(allowed))"
        case let .geometryMismatch(caseID, field, gt, pred):
            return "case \(caseID): prediction \(field) \(pred) differs from ground truth \(field) \(gt) (allowed: equal shape, affine within 1e-4 mm)"
        case let .badLabelList(value):
            return "--labels '\(value)': expected comma-separated positive integers, e.g. 1,2,3"
        case let .datasetJSON(path, key, found, allowed):
            return "\(path): key '\(key)' is \(found) (allowed: \(allowed))"
        case let .groupsCSV(path, line, found):
            return "\(path) line \(line): '\(found)' is not 'case,group'"
        case let .caseWithoutGroup(caseID, path):
            return "case \(caseID) has no group in \(path) (every evaluated case needs one)"
        case let .imageNotFound(caseID, location):
            return "case \(caseID): no intensity image in \(location) (tried CASE_0000.nii.gz, CASE.nii.gz, .nii)"
        case let .imageShape(caseID, path, image, gt):
            return "case \(caseID): intensity image \(path) has shape \(image), ground truth \(gt) (allowed: the same shape)"
        case let .writeFailed(path, reason):
            return "\(path): cannot write: \(reason)"
        case let .badOption(option, value, allowed):
            return "\(option) \(value): allowed \(allowed)"
        }
    }
}
