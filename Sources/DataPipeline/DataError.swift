// Errors of the data pipeline. Each description names the case or file, the field, the value
// found and what is allowed (the error messages README.md promises for every command).

public enum DataError: Error, CustomStringConvertible, Equatable {
    /// A buffer's element count does not match its declared shape.
    case sizeMismatch(caseID: String, field: String, found: Int, expected: Int)
    /// A shape or spacing value that is not usable.
    case invalidGeometry(caseID: String, field: String, value: String, allowed: String)
    /// An option (configuration key) out of range.
    case invalidOption(key: String, value: String, allowed: String)
    /// A label value that cannot be represented (non-integer, negative or > 255).
    case invalidLabel(file: String, value: Double, allowed: String)
    /// Two files of one case whose geometry differs.
    case geometryMismatch(caseID: String, file: String, found: String, expected: String)
    /// A file could not be written or read.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .sizeMismatch(id, field, found, expected):
            return "case \(id): \(field) has \(found) values, expected \(expected) from its shape"
        case let .invalidGeometry(id, field, value, allowed):
            return "case \(id): \(field) = \(value) is invalid; allowed: \(allowed)"
        case let .invalidOption(key, value, allowed):
            return "\(key) = \(value) is invalid; allowed: \(allowed)"
        case let .invalidLabel(file, value, allowed):
            return "\(file): label value \(value) is invalid; allowed: \(allowed)"
        case let .geometryMismatch(id, file, found, expected):
            return "case \(id): \(file) has geometry \(found), expected \(expected) like the first image"
        case let .io(path, reason):
            return "\(path): \(reason)"
        }
    }
}
