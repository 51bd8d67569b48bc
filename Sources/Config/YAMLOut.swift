import Yams

/// Builders for the resolved-config YAML tree. Numbers are written so that both this module
/// and YAML 1.1 readers (PyYAML) read them back as numbers: "3.0e-05", never "3e-05".
enum YAMLOut {
    static func number(_ v: Double) -> Node {
        var text = formatNumber(v)
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }), !text[..<e].contains(".") {
            text.insert(contentsOf: ".0", at: e)
        }
        return Node(text, .implicit, .plain)
    }
    static func int(_ v: Int) -> Node { Node(String(v), .implicit, .plain) }
    static func bool(_ v: Bool) -> Node { Node(v ? "true" : "false", .implicit, .plain) }
    static let null = Node("null", .implicit, .plain)

    /// Text, quoted when a YAML reader would otherwise take it for null, a boolean or a number.
    static func string(_ v: String) -> Node {
        let ambiguous = ["", "~", "null", "true", "false", "yes", "no", "on", "off"].contains(v.lowercased())
            || Double(v) != nil || Int(v) != nil
        return Node(v, .implicit, ambiguous ? .doubleQuoted : .any)
    }
    static func optional<T>(_ v: T?, _ make: (T) -> Node) -> Node { v.map(make) ?? null }

    /// A list written on one line: `[64, 64, 64]`.
    static func flow(_ items: [Node]) -> Node { Node(items, .implicit, .flow) }
    static func numbers(_ v: [Double]) -> Node { flow(v.map(number)) }
    static func ints(_ v: [Int]) -> Node { flow(v.map(int)) }
    static func strings(_ v: [String]) -> Node { flow(v.map(string)) }
    static func interval(_ r: ClosedRange<Double>) -> Node { numbers([r.lowerBound, r.upperBound]) }
    /// A block list (one item per line).
    static func block(_ items: [Node]) -> Node { Node(items, .implicit, .block) }
    static func map(_ pairs: [(String, Node)]) -> Node {
        Node(pairs.map { (Node($0.0, .implicit, .plain), $0.1) }, .implicit, .block)
    }
}
