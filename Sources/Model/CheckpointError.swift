import Common

/// Why a checkpoint could not be read or written. Each description names the file and what is
/// wrong, in one line, so that `dro-train --resume` can print it and stop.
public enum CheckpointError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, read or written (the system's reason is attached).
    case io(path: String, operation: String, reason: String)
    /// The first 8 bytes are not "DROSEGCK": the file is something else.
    case foreign(path: String, found: [UInt8])
    /// The format version is newer than this build understands (or zero, never written).
    case unsupportedVersion(path: String, found: UInt32, supported: UInt32)
    /// The file ends before the header or a section is complete.
    case truncated(path: String, part: String, expectedBytes: Int, availableBytes: Int)
    /// Bytes after the last section: the table does not describe the file.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)
    /// The header or a section does not match its stored CRC32.
    case crcMismatch(path: String, part: String, stored: UInt32, computed: UInt32)
    /// The section table is malformed (bad name, duplicate name).
    case badTable(path: String, reason: String)
    /// A section the reader needs is absent.
    case missingSection(path: String, name: String)
    /// A section is present and intact but its content does not decode.
    case badSection(path: String, name: String, reason: String)

    public var description: String {
        switch self {
        case let .io(path, operation, reason):
            return "checkpoint \(path): cannot \(operation): \(reason)"
        case let .foreign(path, found):
            let shown = found.map { (32..<127).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            return "checkpoint \(path): not a dro-seg checkpoint (starts with \"\(shown)\", "
                + "expected \"DROSEGCK\")"
        case let .unsupportedVersion(path, found, supported):
            if found > supported {
                return "checkpoint \(path): format version \(found) was written by a newer dro-seg; "
                    + "this build reads versions 1...\(supported) — upgrade dro-seg to resume it"
            }
            return "checkpoint \(path): invalid format version \(found) (allowed 1...\(supported))"
        case let .truncated(path, part, expected, available):
            return "checkpoint \(path): truncated in \(part) (needs \(expected) bytes, "
                + "file has \(available)) — the file is incomplete; use an earlier checkpoint"
        case let .trailingBytes(path, expected, actual):
            return "checkpoint \(path): \(actual - expected) unexpected bytes after the last "
                + "section (file is \(actual) bytes, table describes \(expected))"
        case let .crcMismatch(path, part, stored, computed):
            return "checkpoint \(path): corrupt \(part): CRC32 is "
                + "\(CheckpointError.hex(computed)), header says \(CheckpointError.hex(stored))"
        case let .badTable(path, reason):
            return "checkpoint \(path): malformed section table: \(reason)"
        case let .missingSection(path, name):
            return "checkpoint \(path): section \"\(name)\" is missing"
        case let .badSection(path, name, reason):
            return "checkpoint \(path): section \"\(name)\" cannot be decoded: \(reason)"
        }
    }

    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}

extension ByteReader {
    /// A reader of checkpoint section `section` of the file at `path`: its failures are
    /// `CheckpointError.badSection` naming both.
    public init(_ bytes: [UInt8], path: String, section: String) {
        self.init(bytes) { CheckpointError.badSection(path: path, name: section, reason: $0) }
    }
}
