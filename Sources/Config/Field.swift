import Yams

/// One value at a key path, read into a Swift type. Each reader records a problem in the log
/// and returns nil when the value has the wrong type or is out of range.
struct Field {
    let key: String
    let node: Node
    let log: ProblemLog

    var location: ConfigLocation { log.location(key: key, node: node) }

    func wrongType(_ expected: String) {
        log.add(.wrongType(key: key, at: location, found: describeNode(node), expected: expected))
    }

    /// A plain scalar's text (numbers and booleans are never quoted).
    private var plainText: String? {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any, !isNullScalar(s) else { return nil }
        return s.string
    }

    func double(_ range: NumberRange) -> Double? {
        guard let text = plainText, let v = Double(text.replacingOccurrences(of: "_", with: "")),
              v.isFinite else {
            wrongType(range.describe(integer: false)); return nil
        }
        guard range.contains(v) else {
            log.add(.outOfRange(key: key, at: location, found: text, allowed: range.describe(integer: false)))
            return nil
        }
        return v
    }

    func int(_ range: NumberRange) -> Int? {
        guard let text = plainText, let v = Int(text.replacingOccurrences(of: "_", with: "")) else {
            wrongType(range.describe(integer: true)); return nil
        }
        guard range.contains(Double(v)) else {
            log.add(.outOfRange(key: key, at: location, found: text, allowed: range.describe(integer: true)))
            return nil
        }
        return v
    }

    func bool() -> Bool? {
        switch plainText?.lowercased() {
        case "true": return true
        case "false": return false
        default: wrongType("true or false"); return nil
        }
    }

    func string() -> String? {
        guard case .scalar(let s) = node, !isNullScalar(s) else { wrongType("text"); return nil }
        return s.string
    }

    func choice<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> E? where E.RawValue == String {
        guard let text = string() else { return nil }
        if let v = E(rawValue: text) { return v }
        let allowed = E.allCases.map { $0.rawValue }
        log.add(.invalidChoice(key: key, at: location, found: text, allowed: allowed,
                               suggestion: EditDistance.suggestion(for: text, among: allowed)))
        return nil
    }

    /// The elements of a list (with their key paths `key[i]`), or nil after recording a problem.
    func elements(expected: String) -> [Field]? {
        guard case .sequence(let seq) = node else { wrongType(expected); return nil }
        return seq.enumerated().map { Field(key: "\(key)[\($0.offset)]", node: $0.element, log: log) }
    }

    /// A list of numbers, optionally of a fixed length.
    func doubles(count: Int? = nil, _ range: NumberRange) -> [Double]? {
        let expected = listDescription(count: count, range: range, integer: false)
        guard let items = elements(expected: expected) else { return nil }
        guard count == nil || items.count == count else { wrongType(expected); return nil }
        let values = items.map { $0.double(range) }
        return values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }
    }

    func ints(count: Int? = nil, minCount: Int = 0, _ range: NumberRange) -> [Int]? {
        let expected = listDescription(count: count, range: range, integer: true)
        guard let items = elements(expected: expected) else { return nil }
        guard count == nil || items.count == count else { wrongType(expected); return nil }
        guard items.count >= minCount else {
            log.add(.outOfRange(key: key, at: location, found: "a list of \(items.count)",
                                allowed: "at least \(minCount) entries")); return nil
        }
        let values = items.map { $0.int(range) }
        return values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }
    }

    /// A list of texts; a single text is accepted as a one-element list when `single` is true.
    func strings(single: Bool = false) -> [String]? {
        if single, case .scalar = node { return string().map { [$0] } }
        guard let items = elements(expected: "a list of text") else { return nil }
        let values = items.map { $0.string() }
        return values.contains(where: { $0 == nil }) ? nil : values.compactMap { $0 }
    }

    /// [lo, hi] with lo ≤ hi, both in `range`.
    func interval(_ range: NumberRange) -> ClosedRange<Double>? {
        guard let v = doubles(count: 2, range) else { return nil }
        guard v[0] <= v[1] else {
            log.add(.outOfRange(key: key, at: location, found: "[\(formatNumber(v[0])), \(formatNumber(v[1]))]",
                                allowed: "[low, high] with low ≤ high")); return nil
        }
        return v[0]...v[1]
    }
}

private func listDescription(count: Int?, range: NumberRange, integer: Bool) -> String {
    let noun = integer ? "integers" : "numbers"
    let head = count.map { "a list of \($0) \(noun)" } ?? "a list of \(noun)"
    return range.boundText.map { "\(head), each \($0)" } ?? head
}
