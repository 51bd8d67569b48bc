/// Where a configuration value came from: a line of the config file, or a `--set` override.
public enum ConfigLocation: Equatable, Sendable, CustomStringConvertible {
    /// A line (1-based) of a file; `line` is nil when the file as a whole is meant.
    case file(String, line: Int?)
    /// A command-line override, kept verbatim (`training.lr=0.001`).
    case override(String)

    public var description: String {
        switch self {
        case .file(let path, let line?): return "\(path):\(line)"
        case .file(let path, nil): return path
        case .override(let text): return "--set \(text)"
        }
    }

    /// The line number, when the location is a line of the config file.
    public var line: Int? {
        if case .file(_, let line) = self { return line }
        return nil
    }
}

/// Every way a configuration can be rejected. Each description is one line naming the location
/// (file:line or the override), the key path, the value found and what is allowed.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    /// The config file could not be read.
    case unreadable(path: String, reason: String)
    /// The text is not valid YAML.
    case yamlSyntax(path: String, message: String)
    /// The resolved configuration could not be written as YAML (a Yams failure).
    case unserializable(reason: String)
    /// A key that no section defines; `suggestion` is the nearest known key (edit distance).
    case unknownKey(key: String, at: ConfigLocation, suggestion: String?, allowed: [String])
    /// A value of the wrong YAML type (a list where a number was expected, ...).
    case wrongType(key: String, at: ConfigLocation, found: String, expected: String)
    /// A value of the right type outside its allowed range.
    case outOfRange(key: String, at: ConfigLocation, found: String, allowed: String)
    /// A word that is not one of the allowed choices; `suggestion` is the nearest choice.
    case invalidChoice(key: String, at: ConfigLocation, found: String, allowed: [String], suggestion: String?)
    /// A key that must be given (no sensible default exists).
    case missingKey(key: String, at: ConfigLocation, meaning: String)
    /// Values that are valid alone but contradict each other.
    case inconsistent(key: String, at: ConfigLocation, message: String)
    /// A `--set` argument that is not `key.path=value` or cannot be applied.
    case badOverride(override: String, reason: String)
    /// Several problems found in one pass, in file order.
    case multiple([ConfigError])

    /// The individual problems (a `.multiple` flattened; any other case alone).
    public var problems: [ConfigError] {
        if case .multiple(let list) = self { return list.flatMap { $0.problems } }
        return [self]
    }

    /// One line per problem: a line break or other control character that came from the file (a
    /// quoted value spanning lines, a YAML parser message) is shown escaped.
    public var description: String {
        if case .multiple(let list) = self { return list.map { $0.description }.joined(separator: "\n") }
        return Self.oneLine(text)
    }

    static func oneLine(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .lineSeparator
                || scalar.properties.generalCategory == .paragraphSeparator:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private var text: String {
        switch self {
        case .unreadable(let path, let reason):
            return "\(path): cannot read config file: \(reason)"
        case .yamlSyntax(let path, let message):
            return "\(path): not valid YAML: \(message)"
        case .unserializable(let reason):
            return "the resolved configuration cannot be written as YAML: \(reason)"
        case .unknownKey(let key, let at, let suggestion, let allowed):
            let hint = suggestion.map { "; did you mean '\($0)'?" }
                ?? (allowed.isEmpty ? "" : "; allowed keys here: \(allowed.joined(separator: ", "))")
            return "\(at): unknown key '\(key)'\(hint)"
        case .wrongType(let key, let at, let found, let expected):
            return "\(at): \(key): found \(found), expected \(expected)"
        case .outOfRange(let key, let at, let found, let allowed):
            return "\(at): \(key): value \(found) is out of range; allowed: \(allowed)"
        case .invalidChoice(let key, let at, let found, let allowed, let suggestion):
            let hint = suggestion.map { "; did you mean '\($0)'?" } ?? ""
            return "\(at): \(key): found '\(found)', allowed: one of \(allowed.joined(separator: ", "))\(hint)"
        case .missingKey(let key, let at, let meaning):
            return "\(at): missing key '\(key)' (\(meaning))"
        case .inconsistent(let key, let at, let message):
            return "\(at): \(key): \(message)"
        case .badOverride(let override, let reason):
            return "--set \(override): \(reason)"
        case .multiple(let list):
            return list.map { $0.description }.joined(separator: "\n")
        }
    }
}
