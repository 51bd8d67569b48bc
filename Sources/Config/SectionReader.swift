import Yams

/// Reads the keys of one YAML mapping (a config section). Every key asked for is remembered;
/// `finish()` then reports the keys nobody asked for, with a "did you mean" from the known ones.
/// Missing or null keys yield the given default; bad values are logged and yield the default,
/// so one pass reports every problem.
final class SectionReader {
    /// Key path of this section ("" for the document root).
    let path: String
    let node: Node?
    let log: ProblemLog
    private var entries: [(key: String, keyNode: Node, value: Node)] = []
    private var known: [String] = []

    init(path: String, node: Node?, log: ProblemLog) {
        self.path = path
        self.node = node
        self.log = log
        guard let node, !isNull(node) else { return }
        guard case .mapping(let mapping) = node else {
            Field(key: path.isEmpty ? "(document)" : path, node: node, log: log)
                .wrongType("a mapping of keys")
            return
        }
        var seen: [String: Int] = [:]
        for (k, v) in mapping {
            guard case .scalar(let s) = k else {
                log.add(.wrongType(key: path.isEmpty ? "(document)" : path,
                                   at: log.location(key: path, node: k), found: describeNode(k),
                                   expected: "a plain key name"))
                continue
            }
            if let first = seen[s.string] {
                log.add(.inconsistent(key: keyPath(s.string), at: log.location(key: keyPath(s.string), node: k),
                                      message: "key given twice (first on line \(first))"))
                continue
            }
            seen[s.string] = k.mark?.line ?? 0
            entries.append((s.string, k, v))
        }
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The value node of `key` (null included), marking the key as known.
    func raw(_ key: String) -> Node? {
        known.append(key)
        return entries.first(where: { $0.key == key })?.value
    }

    /// The field for `key`, or nil when absent or null.
    func field(_ key: String) -> Field? {
        guard let v = raw(key), !isNull(v) else { return nil }
        return Field(key: keyPath(key), node: v, log: log)
    }

    /// The field for `key` when present, null included: for keys that do not accept null, so
    /// that `lr: ` is reported instead of silently meaning the default.
    func requiredField(_ key: String) -> Field? {
        guard let v = raw(key) else { return nil }
        return Field(key: keyPath(key), node: v, log: log)
    }

    /// Location of `key` (its line), or of the section when the key is absent.
    func location(_ key: String) -> ConfigLocation {
        if let e = entries.first(where: { $0.key == key }) { return log.location(key: keyPath(key), node: e.keyNode) }
        return log.location(key: path, node: node)
    }

    /// Location of a key below this section (`["loss", "batch_dice"]`): its line, else the
    /// line of the deepest section present, else the override that set it.
    func location(of keys: [String]) -> ConfigLocation {
        var node = self.node, found = node
        for key in keys {
            guard case .mapping(let mapping)? = node,
                  let entry = mapping.first(where: { $0.key.scalar?.string == key }) else { break }
            found = entry.key
            node = entry.value
        }
        return log.location(key: keys.reduce(path) { $0.isEmpty ? $1 : "\($0).\($1)" }, node: found)
    }

    func isPresent(_ key: String) -> Bool { !isNull(entries.first(where: { $0.key == key })?.value) }

    func section(_ key: String) -> SectionReader { SectionReader(path: keyPath(key), node: raw(key), log: log) }

    func double(_ key: String, _ fallback: Double, _ range: NumberRange) -> Double {
        requiredField(key)?.double(range) ?? fallback
    }
    func optionalDouble(_ key: String, _ range: NumberRange) -> Double? { field(key)?.double(range) }
    func int(_ key: String, _ fallback: Int, _ range: NumberRange) -> Int { requiredField(key)?.int(range) ?? fallback }
    func optionalInt(_ key: String, _ range: NumberRange) -> Int? { field(key)?.int(range) }
    func bool(_ key: String, _ fallback: Bool) -> Bool { requiredField(key)?.bool() ?? fallback }
    func string(_ key: String, _ fallback: String) -> String { requiredField(key)?.string() ?? fallback }
    func optionalString(_ key: String) -> String? { field(key)?.string() }
    func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ fallback: E) -> E where E.RawValue == String {
        requiredField(key)?.choice(E.self) ?? fallback
    }
    func interval(_ key: String, _ fallback: ClosedRange<Double>, _ range: NumberRange) -> ClosedRange<Double> {
        requiredField(key)?.interval(range) ?? fallback
    }
    /// An absolute path (see `ProblemLog.resolvePath`), or nil when absent.
    func optionalPath(_ key: String) -> String? {
        guard let f = field(key), let raw = f.string() else { return nil }
        return log.resolvePath(raw, key: f.key)
    }

    /// Reports keys present in the file that no reader asked for.
    func finish() {
        for e in entries where !known.contains(e.key) {
            let full = keyPath(e.key)
            let suggestion = EditDistance.suggestion(for: e.key, among: known).map { keyPath($0) }
            log.add(.unknownKey(key: full, at: log.location(key: full, node: e.keyNode),
                                suggestion: suggestion, allowed: known))
        }
    }
}
