import Foundation

/// A JSON value decoded with Codable, so booleans, integers and reals stay distinct on every
/// platform (JSONSerialization's NSNumber blurs them on Linux).
enum DatasetJSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([DatasetJSONValue])
    case object([String: DatasetJSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([DatasetJSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: DatasetJSONValue].self)) }
    }

    var string: String? { if case .string(let s) = self { return s }; return nil }
    var object: [String: DatasetJSONValue]? { if case .object(let o) = self { return o }; return nil }
    var array: [DatasetJSONValue]? { if case .array(let a) = self { return a }; return nil }
    /// Integers, and reals with no fraction (some writers emit 3.0).
    var int: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: return nil
        }
    }
    subscript(key: String) -> DatasetJSONValue? { object?[key] }

    /// Compact JSON-like text for messages, cut at 120 characters.
    var description: String {
        let text: String
        switch self {
        case .null: text = "null"
        case .bool(let b): text = b ? "true" : "false"
        case .int(let i): text = String(i)
        case .double(let d): text = "\(d)"
        case .string(let s): text = "\"\(s)\""
        case .array(let a): text = "[" + a.map { $0.description }.joined(separator: ", ") + "]"
        case .object(let o):
            text = "{" + o.keys.sorted().map { "\"\($0)\": \(o[$0]?.description ?? "")" }.joined(separator: ", ") + "}"
        }
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }
}
