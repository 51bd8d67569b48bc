import Foundation
import Yams

/// Collects every problem of one decode pass, and knows where each key came from (a line of
/// the config file, or a `--set` override) and which folder its relative paths resolve against.
final class ProblemLog {
    private(set) var problems: [ConfigError] = []
    /// The config file as named to the user.
    let sourceName: String
    /// Relative paths in the file resolve against this folder (the config file's folder).
    let baseDirectory: String
    /// Relative paths given with `--set` resolve against this folder (the working directory).
    let overrideBaseDirectory: String
    /// Key path → override text, for every key a `--set` replaced.
    let overrides: [String: String]

    init(sourceName: String, baseDirectory: String, overrideBaseDirectory: String,
         overrides: [String: String]) {
        self.sourceName = sourceName
        self.baseDirectory = baseDirectory
        self.overrideBaseDirectory = overrideBaseDirectory
        self.overrides = overrides
    }

    func add(_ problem: ConfigError) { problems.append(problem) }

    /// The override that set `key` or one of its parents, if any.
    func overrideText(for key: String) -> String? {
        for (path, text) in overrides where key == path || key.hasPrefix(path + ".") || key.hasPrefix(path + "[") {
            return text
        }
        return nil
    }

    func location(key: String, node: Node?) -> ConfigLocation {
        if let text = overrideText(for: key) { return .override(text) }
        // A section an override created has no line in the file: name the override inside it.
        if let node, node.mark == nil,
           let text = overrides.first(where: { $0.key.hasPrefix(key + ".") })?.value {
            return .override(text)
        }
        return .file(sourceName, line: node?.mark?.line)
    }

    /// A path value resolved to an absolute, standardised path: `~` expands to the home folder,
    /// a relative path joins the config file's folder (or the working directory for `--set`).
    func resolvePath(_ raw: String, key: String) -> String {
        var path = raw
        if path == "~" || path.hasPrefix("~/") {
            path = NSHomeDirectory() + path.dropFirst()
        }
        let base = overrideText(for: key) != nil ? overrideBaseDirectory : baseDirectory
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path)
            : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: base, isDirectory: true))
        return url.standardizedFileURL.path
    }
}

/// How a node is shown in an error: a scalar by its text, containers by their kind.
func describeNode(_ node: Node) -> String {
    switch node {
    case .scalar(let s):
        if s.style == .plain || s.style == .any {
            if isNullScalar(s) { return "null" }
            return s.string
        }
        return "'\(s.string)' (quoted text)"
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}

/// YAML's null spellings, for plain (unquoted) scalars only.
func isNullScalar(_ s: Node.Scalar) -> Bool {
    guard s.style == .plain || s.style == .any else { return false }
    return ["", "~", "null", "Null", "NULL"].contains(s.string)
}

func isNull(_ node: Node?) -> Bool {
    guard let node else { return true }
    if case .scalar(let s) = node { return isNullScalar(s) }
    return false
}
