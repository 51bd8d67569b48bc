import Yams

/// A `--set key.path=value` argument: the value is read as a YAML scalar or flow collection
/// (`0.001`, `true`, `[32, 32, 32]`, `{kind: uniform}`), and replaces that key in the parsed file
/// before validation, so it is checked exactly like the file.
public struct ConfigOverride: Equatable, Sendable {
    /// The argument as typed (errors quote it).
    public let text: String
    public let keyPath: [String]
    public let valueText: String

    public init(_ text: String) throws {
        guard let eq = text.firstIndex(of: "=") else {
            throw ConfigError.badOverride(override: text, reason: "expected key.path=value, e.g. training.lr=0.001")
        }
        let key = text[..<eq].trimmingCharacters(in: .whitespaces)
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !key.isEmpty, !parts.contains(where: { $0.isEmpty }) else {
            throw ConfigError.badOverride(override: text, reason: "the key path '\(key)' has an empty part; expected e.g. training.lr")
        }
        self.text = text
        self.keyPath = parts
        self.valueText = String(text[text.index(after: eq)...])
    }

    public var key: String { keyPath.joined(separator: ".") }

    /// The value as a YAML node (an empty value is null).
    func valueNode() throws -> Node {
        do {
            return try Yams.compose(yaml: valueText) ?? YAMLOut.null
        } catch {
            throw ConfigError.badOverride(override: text, reason: "the value is not valid YAML: \(error)")
        }
    }

    /// `root` with this override applied; intermediate sections are created when absent.
    func apply(to root: Node?) throws -> Node {
        try set(keyPath[...], in: root, value: try valueNode())
    }

    private func set(_ path: ArraySlice<String>, in node: Node?, value: Node) throws -> Node {
        guard let head = path.first else { return value }
        var pairs: [(Node, Node)] = []
        if let node, !isNull(node) {
            guard case .mapping(let mapping) = node else {
                let parent = keyPath[..<path.startIndex].joined(separator: ".")
                throw ConfigError.badOverride(override: text,
                    reason: "'\(parent)' is \(describeNode(node)), not a section with keys")
            }
            pairs = mapping.map { ($0.key, $0.value) }
        }
        if let i = pairs.firstIndex(where: { $0.0.scalar?.string == head }) {
            pairs[i].1 = try set(path.dropFirst(), in: pairs[i].1, value: value)
        } else {
            pairs.append((Node(head), try set(path.dropFirst(), in: nil, value: value)))
        }
        return Node(pairs)
    }
}
