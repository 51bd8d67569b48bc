import Yams

/// One key of a config section, declared once: its name, the type and allowed values shown in
/// docs/config.md, its meaning, how it is read from YAML into the section's struct `S` and how
/// it is written back. Its default is not repeated here: it is the value the struct's own
/// initialiser gives (`S()`), which reading starts from and the docs table shows.
struct Key<S> {
    let name: String
    /// Docs "type" column ("number", "3 integers", "choice", ...).
    let type: String
    /// Docs "allowed" column ("[0, 1)", "> 0", "`sgd`, `adamw`", ...).
    let allowed: String
    /// Docs "meaning" column.
    let meaning: String
    /// Reads the key (logging problems) into the struct; an absent key keeps the default.
    let read: (SectionReader, inout S) -> Void
    /// The key's YAML value in the resolved config; nil leaves the key out.
    let write: (S) -> Node?
    /// Docs "default" column for a given (default) value.
    let show: (S) -> String
    /// A nested section's rows for the docs table (`name.key`), empty for a plain key.
    var rows: (S) -> [DocsRow] = { _ in [] }
}

/// The keys of one section, in file order: reading, the resolved YAML and the docs table all
/// walk this one list.
struct Schema<S> {
    let keys: [Key<S>]
    /// Values that follow from others (applied after reading, before the rules).
    var derive: [(inout S) -> Void] = []
    /// Cross-key rules of the section, checked after every key is read.
    var rules: [(SectionReader, S) -> Void] = []

    init(_ keys: [Key<S>], derive: [(inout S) -> Void] = [], rules: [(SectionReader, S) -> Void] = []) {
        self.keys = keys
        self.derive = derive
        self.rules = rules
    }

    /// `defaults` with every key of the section read over it; unknown keys are reported.
    func read(_ r: SectionReader, defaults: S) -> S {
        var value = readKeys(r, defaults: defaults)
        for d in derive { d(&value) }
        for rule in rules { rule(r, value) }
        r.finish()
        return value
    }

    /// The keys alone, without derivations, rules or the unknown-key check (for groups).
    func readKeys(_ r: SectionReader, defaults: S) -> S {
        var value = defaults
        for key in keys { key.read(r, &value) }
        return value
    }

    func yaml(_ value: S) -> Node {
        YAMLOut.map(keys.compactMap { key in key.write(value).map { (key.name, $0) } })
    }

    /// One docs row per key (nested sections flattened to `section.key`).
    func rows(_ defaults: S) -> [DocsRow] {
        keys.flatMap { key -> [DocsRow] in
            let nested = key.rows(defaults)
            let own = DocsRow(key: key.name, type: key.type, defaultText: key.show(defaults),
                              allowed: key.allowed, meaning: key.meaning)
            if nested.isEmpty { return [own] }
            let prefixed = nested.map { row -> DocsRow in
                var r = row
                r.key = "\(key.name).\(row.key)"
                return r
            }
            return key.meaning.isEmpty ? prefixed : [own] + prefixed
        }
    }
}

/// One row of a docs/config.md key table.
struct DocsRow: Equatable {
    var key: String
    var type: String
    var defaultText: String
    var allowed: String
    var meaning: String

    static func table(_ rows: [DocsRow]) -> String {
        var lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
        for row in rows {
            lines.append("| `\(row.key)` | \(row.type) | \(row.defaultText) | \(row.allowed) | \(row.meaning) |")
        }
        return lines.joined(separator: "\n")
    }
}

/// How values appear in the docs' default column.
enum DocsText {
    /// "1e-5" rather than Swift's "1e-05".
    static func number(_ v: Double) -> String {
        formatNumber(v).replacingOccurrences(of: "e-0", with: "e-").replacingOccurrences(of: "e+", with: "e")
    }
    static func list<T>(_ values: [T], _ text: (T) -> String) -> String {
        "`[\(values.map(text).joined(separator: ", "))]`"
    }
    static func code(_ s: String) -> String { "`\(s)`" }
    static func choices<E: RawRepresentable & CaseIterable>(_ type: E.Type) -> String where E.RawValue == String {
        E.allCases.map { code($0.rawValue) }.joined(separator: ", ")
    }
}

/// A value read from a YAML interval `[low, high]`: Swift ranges and the libraries' own range
/// types, so that a key decodes straight into the option struct that uses it.
protocol IntervalValue {
    init(interval: ClosedRange<Double>)
    var interval: ClosedRange<Double> { get }
}

extension ClosedRange: IntervalValue where Bound == Double {
    init(interval: ClosedRange<Double>) { self = interval }
    var interval: ClosedRange<Double> { self }
}

// MARK: - Key kinds

extension Key {
    /// A number; `null` is an error.
    static func number(_ name: String, _ path: WritableKeyPath<S, Double>, _ range: NumberRange,
                       allowed: String? = nil, _ meaning: String) -> Key {
        Key(name: name, type: "number", allowed: allowed ?? range.boundText ?? "", meaning: meaning,
            read: { r, s in if let v = r.requiredField(name)?.double(range) { s[keyPath: path] = v } },
            write: { YAMLOut.number($0[keyPath: path]) },
            show: { DocsText.number($0[keyPath: path]) })
    }

    /// A number or null ("not set"); an absent key keeps the default.
    static func optionalNumber(_ name: String, _ path: WritableKeyPath<S, Double?>, _ range: NumberRange,
                               allowed: String? = nil, _ meaning: String) -> Key {
        Key(name: name, type: "number", allowed: allowed ?? ((range.boundText ?? "a number") + ", or null"),
            meaning: meaning,
            read: { r, s in
                guard let node = r.raw(name) else { return }
                s[keyPath: path] = isNull(node) ? nil : r.field(name)?.double(range)
            },
            write: { YAMLOut.optional($0[keyPath: path], YAMLOut.number) },
            show: { $0[keyPath: path].map(DocsText.number) ?? "null" })
    }

    static func int(_ name: String, _ path: WritableKeyPath<S, Int>, _ range: NumberRange, _ meaning: String) -> Key {
        Key(name: name, type: "integer", allowed: range.boundText ?? "", meaning: meaning,
            read: { r, s in if let v = r.requiredField(name)?.int(range) { s[keyPath: path] = v } },
            write: { YAMLOut.int($0[keyPath: path]) },
            show: { String($0[keyPath: path]) })
    }

    static func optionalInt(_ name: String, _ path: WritableKeyPath<S, Int?>, _ range: NumberRange,
                            _ meaning: String) -> Key {
        Key(name: name, type: "integer", allowed: range.boundText ?? "", meaning: meaning,
            read: { r, s in
                guard let node = r.raw(name) else { return }
                s[keyPath: path] = isNull(node) ? nil : r.field(name)?.int(range)
            },
            write: { YAMLOut.optional($0[keyPath: path], YAMLOut.int) },
            show: { $0[keyPath: path].map(String.init) ?? "null" })
    }

    static func bool(_ name: String, _ path: WritableKeyPath<S, Bool>, allowed: String = "", _ meaning: String) -> Key {
        Key(name: name, type: "boolean", allowed: allowed, meaning: meaning,
            read: { r, s in if let v = r.requiredField(name)?.bool() { s[keyPath: path] = v } },
            write: { YAMLOut.bool($0[keyPath: path]) },
            show: { $0[keyPath: path] ? "true" : "false" })
    }

    static func choice<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<S, E>,
                                                           _ meaning: String) -> Key where E.RawValue == String {
        Key(name: name, type: "choice", allowed: DocsText.choices(E.self), meaning: meaning,
            read: { r, s in if let v = r.requiredField(name)?.choice(E.self) { s[keyPath: path] = v } },
            write: { YAMLOut.string($0[keyPath: path].rawValue) },
            show: { DocsText.code($0[keyPath: path].rawValue) })
    }

    /// `[low, high]` with low ≤ high, both in `range`.
    static func interval<R: IntervalValue>(_ name: String, _ path: WritableKeyPath<S, R>, _ range: NumberRange,
                                           allowed: String? = nil, _ meaning: String) -> Key {
        Key(name: name, type: "interval", allowed: allowed ?? range.boundText ?? "", meaning: meaning,
            read: { r, s in if let v = r.requiredField(name)?.interval(range) { s[keyPath: path] = R(interval: v) } },
            write: { YAMLOut.interval($0[keyPath: path].interval) },
            show: { s in
                let v = s[keyPath: path].interval
                return DocsText.list([v.lowerBound, v.upperBound], DocsText.number)
            })
    }

    /// A list of integers (`count` of them when given, else at least `minCount`).
    static func ints(_ name: String, _ path: WritableKeyPath<S, [Int]>, count: Int? = nil, minCount: Int = 0,
                     _ range: NumberRange, type: String, allowed: String, _ meaning: String) -> Key {
        Key(name: name, type: type, allowed: allowed, meaning: meaning,
            read: { r, s in
                if let v = r.requiredField(name)?.ints(count: count, minCount: minCount, range) { s[keyPath: path] = v }
            },
            write: { YAMLOut.ints($0[keyPath: path]) },
            show: { DocsText.list($0[keyPath: path], String.init) })
    }

    /// A nested section decoded with its own schema into `path`.
    static func section<T>(_ name: String, _ path: WritableKeyPath<S, T>, _ schema: Schema<T>,
                           meaning: String = "") -> Key {
        Key(name: name, type: "section", allowed: "", meaning: meaning,
            read: { r, s in s[keyPath: path] = schema.read(r.section(name), defaults: s[keyPath: path]) },
            write: { schema.yaml($0[keyPath: path]) },
            show: { _ in "" },
            rows: { schema.rows($0[keyPath: path]) })
    }

    /// A section that is either absent (nil) or read over `T`'s defaults (`data.demo`).
    static func optionalSection<T>(_ name: String, _ path: WritableKeyPath<S, T?>, _ schema: Schema<T>,
                                   defaults: T, meaning: String) -> Key {
        Key(name: name, type: "section", allowed: "", meaning: meaning,
            read: { r, s in
                guard r.isPresent(name) else { _ = r.raw(name); return }
                s[keyPath: path] = schema.read(r.section(name), defaults: defaults)
            },
            write: { s in YAMLOut.optional(s[keyPath: path], schema.yaml) },
            show: { _ in "null" },
            rows: { _ in schema.rows(defaults) })
    }

    /// A YAML sub-section whose keys fill fields of the same struct (`flip: {enabled, axes}`).
    static func group(_ name: String, _ keys: [Key<S>]) -> Key {
        let schema = Schema(keys)
        return Key(name: name, type: "section", allowed: "", meaning: "",
                   read: { r, s in
                       let section = r.section(name)
                       s = schema.readKeys(section, defaults: s)
                       section.finish()
                   },
                   write: { schema.yaml($0) },
                   show: { _ in "" },
                   rows: { schema.rows($0) })
    }

    /// A key whose reading and writing are its own (lists of records, paths, mappings).
    static func custom(_ name: String, type: String, allowed: String, _ meaning: String,
                       show: @escaping (S) -> String,
                       read: @escaping (SectionReader, inout S) -> Void,
                       write: @escaping (S) -> Node?) -> Key {
        Key(name: name, type: type, allowed: allowed, meaning: meaning, read: read, write: write, show: show)
    }
}
