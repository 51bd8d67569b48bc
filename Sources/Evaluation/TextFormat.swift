import Foundation

/// Number and table formatting shared by the reports.
enum TextFormat {
    /// Non-finite values as docs/method.md §5.5 spells them in CSV and JSON.
    static func word(_ v: Double) -> String? {
        if v.isNaN { return "nan" }
        if v == .infinity { return "inf" }
        if v == -.infinity { return "-inf" }
        return nil
    }

    /// Full precision (shortest round-trip form) for machine-readable files.
    static func exact(_ v: Double) -> String { word(v) ?? "\(v)" }

    /// Fixed decimals for people.
    static func fixed(_ v: Double, _ decimals: Int = 3) -> String {
        word(v) ?? String(format: "%.\(decimals)f", v)
    }

    /// Left-aligned first column, right-aligned others, columns separated by two spaces.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = (0..<header.count).map { c in all.map { $0.count > c ? $0[c].count : 0 }.max() ?? 0 }
        func line(_ r: [String]) -> String {
            r.enumerated().map { c, s in
                let pad = String(repeating: " ", count: max(0, widths[c] - s.count))
                return c == 0 ? s + pad : pad + s
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }

    /// CSV field quoting (RFC 4180) for ids or names holding commas or quotes.
    static func csvField(_ s: String) -> String {
        if s.contains(",") || s.contains("\"") || s.contains("\n") {
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        return s
    }

    /// HTML text escaping.
    static func html(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// Percentile column titles, e.g. "P5".
    static var percentileTitles: [String] {
        MetricSummary.percentileLevels.map { "P" + String(Int($0)) }
    }
}

/// A JSON value written with a fixed key order; non-finite numbers become the strings
/// "inf"/"nan" (docs/method.md §5.5: JSON has no Infinity).
indirect enum JSONValue {
    case string(String)
    case number(Double)
    case int(Int)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([(String, JSONValue)])

    func render(indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1), end = String(repeating: "  ", count: indent)
        switch self {
        case let .string(s): return JSONValue.quote(s)
        case let .number(v): return TextFormat.word(v).map(JSONValue.quote) ?? "\(v)"
        case let .int(v): return "\(v)"
        case let .bool(v): return v ? "true" : "false"
        case .null: return "null"
        case let .array(items):
            if items.isEmpty { return "[]" }
            if items.allSatisfy({ if case .object = $0 { return false }; if case .array = $0 { return false }; return true }) {
                return "[" + items.map { $0.render() }.joined(separator: ", ") + "]"
            }
            return "[\n" + items.map { pad + $0.render(indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
        case let .object(fields):
            if fields.isEmpty { return "{}" }
            return "{\n" + fields.map { pad + JSONValue.quote($0.0) + ": " + $0.1.render(indent: indent + 1) }
                .joined(separator: ",\n") + "\n" + end + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
