/// Every failure of the NIfTI module: which file, which field, what value was found and what
/// is allowed. The description is one line, suitable for a command-line error message.
public struct NIfTIError: Error, CustomStringConvertible, Equatable {
    /// The file the problem was found in.
    public var path: String
    /// The header field, stream or operation concerned (e.g. "sizeof_hdr", "dim[3]", "gzip stream").
    public var field: String
    /// The value found, as text.
    public var found: String
    /// What would have been accepted.
    public var allowed: String

    public init(path: String, field: String, found: String, allowed: String) {
        self.path = path
        self.field = field
        self.found = found
        self.allowed = allowed
    }

    public var description: String {
        "\(path): \(field) is \(found); allowed: \(allowed)"
    }
}
