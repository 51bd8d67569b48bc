#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// An append-only CSV file written one line per `write(2)`, so a run killed at any moment keeps
/// every completed line (no user-space buffer to lose).
///
/// Opening for a resumed run keeps the header and the rows whose first column (an iteration or
/// epoch number) is at most `keepThrough`, dropping rows written after the checkpoint the run
/// resumes from — the resumed run writes them again, so the log has no duplicates.
public final class CSVLog {
    public let path: String
    public let header: [String]
    private let descriptor: Int32

    /// Creates (or, with `keepThrough == nil`, overwrites) the log and writes the header.
    public init(path: String, header: [String], keepThrough: Int?) throws {
        self.path = path
        self.header = header
        let headerLine = CSVLog.line(header)
        var kept = headerLine
        if let limit = keepThrough, FileManager.default.fileExists(atPath: path) {
            kept = try CSVLog.rowsKept(path: path, headerLine: headerLine, through: limit)
        }
        // Rewrite through a temporary file so a crash while truncating loses nothing.
        let temporary = path + ".tmp"
        do {
            try Data(kept.utf8).write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw RunError.io(path: temporary, operation: "write", reason: error.localizedDescription)
        }
        guard rename(temporary, path) == 0 else {
            throw RunError.io(path: path, operation: "replace", reason: String(cString: strerror(errno)))
        }
        descriptor = open(path, O_WRONLY | O_APPEND)
        guard descriptor >= 0 else {
            throw RunError.io(path: path, operation: "open for appending", reason: String(cString: strerror(errno)))
        }
    }

    deinit { close(descriptor) }

    /// Appends one row (fields are quoted as RFC 4180 requires).
    public func append(_ fields: [String]) throws {
        let bytes = Array(CSVLog.line(fields).utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes {
                Glibc.write(descriptor, $0.baseAddress! + written, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw RunError.io(path: path, operation: "append", reason: String(cString: strerror(errno)))
            }
            written += result
        }
    }

    /// One CSV line with a trailing newline. Fields containing a comma or quote are quoted;
    /// line breaks inside a field become spaces so one row is always one line.
    static func line(_ fields: [String]) -> String {
        fields.map { field -> String in
            let flat = field.replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
            guard flat.contains(",") || flat.contains("\"") else { return flat }
            return "\"" + flat.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }.joined(separator: ",") + "\n"
    }

    /// The existing file's header plus its rows keyed ≤ `through`; a different header means
    /// the folder belongs to another kind of run, which is refused rather than mixed.
    /// What to append to each kept row: "" for the same header; for a log written by an older
    /// build, whose columns are the leading columns of today's (columns are only ever added at
    /// the end), one empty cell per added column; nil for a log of another kind.
    static func upgradePadding(found: String, expected: String) -> String? {
        if found == expected { return "" }
        let (old, new) = (found.split(separator: ",", omittingEmptySubsequences: false),
                          expected.split(separator: ",", omittingEmptySubsequences: false))
        guard !found.isEmpty, old.count < new.count, Array(new.prefix(old.count)) == old else { return nil }
        return String(repeating: ",", count: new.count - old.count)
    }

    static func rowsKept(path: String, headerLine: String, through limit: Int) throws -> String {
        guard let data = FileManager.default.contents(atPath: path),
              let text = String(data: data, encoding: .utf8)
        else { throw RunError.io(path: path, operation: "read", reason: "unreadable or not UTF-8") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        let expected = String(headerLine.dropLast())
        let found = lines.first.map(String.init) ?? ""
        guard let padding = upgradePadding(found: found, expected: expected) else {
            throw RunError.logHeaderMismatch(path: path, found: found, expected: expected)
        }
        var kept = headerLine
        for line in lines.dropFirst() {
            // A line cut short by a kill has no complete key or fields; it is dropped.
            guard let key = Int(line.prefix(while: { $0 != "," })), key <= limit,
                  line.split(separator: ",", omittingEmptySubsequences: false).count >= 2
            else { continue }
            kept += line + padding + "\n"
        }
        return kept
    }
}
