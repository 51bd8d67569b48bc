import Common

/// One checkpoint file: a versioned container of named, checksummed sections.
///
/// Layout (all integers little-endian):
/// ```
/// offset  size  field
/// 0       8     magic "DROSEGCK"
/// 8       4     format version (UInt32, currently 1)
/// 12      4     section count n (UInt32)
/// 16      …     n table entries: name length (UInt16), name (UTF-8),
///               payload length (UInt64), payload CRC32 (UInt32)
/// …       4     CRC32 of every byte above (magic through the last table entry)
/// …       …     the n payloads, contiguous, in table order; the file ends with the last one
/// ```
/// Readers check the magic, the version, the header CRC, that the file is exactly as long as the
/// table says, and each payload's CRC — so a foreign, newer, truncated or bit-flipped file is
/// refused with a message instead of resuming from garbage.
public struct Checkpoint: Equatable {
    /// File signature: identifies dro-seg checkpoints.
    public static let magic: [UInt8] = Array("DROSEGCK".utf8)
    /// The format version this build writes and the newest it reads.
    public static let formatVersion: UInt32 = 1
    /// Longest allowed section name in bytes (names are short identifiers like "optimizer").
    static let maxNameBytes = 255
    /// Fixed header bytes before the table: magic, version, section count.
    static let fixedHeaderBytes = 16

    /// Sections in the order they were added (and are written).
    public private(set) var sections: [(name: String, bytes: [UInt8])] = []

    public init() {}

    public static func == (lhs: Checkpoint, rhs: Checkpoint) -> Bool {
        lhs.sections.map(\.name) == rhs.sections.map(\.name)
            && lhs.sections.map(\.bytes) == rhs.sections.map(\.bytes)
    }

    /// Adds a section or replaces one with the same name (keeping its position).
    public mutating func set(_ name: String, _ bytes: [UInt8]) {
        if let index = sections.firstIndex(where: { $0.name == name }) {
            sections[index].bytes = bytes
        } else {
            sections.append((name, bytes))
        }
    }

    /// Adds a UTF-8 text section.
    public mutating func set(_ name: String, text: String) { set(name, Array(text.utf8)) }

    public func section(_ name: String) -> [UInt8]? {
        sections.first(where: { $0.name == name })?.bytes
    }

    /// The section's bytes, or `missingSection` naming `path`.
    public func require(_ name: String, path: String) throws -> [UInt8] {
        guard let bytes = section(name) else { throw CheckpointError.missingSection(path: path, name: name) }
        return bytes
    }

    /// A text section decoded as UTF-8.
    public func requireText(_ name: String, path: String) throws -> String {
        let bytes = try require(name, path: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CheckpointError.badSection(path: path, name: name, reason: "not valid UTF-8 text")
        }
        return text
    }

    /// The whole file as bytes.
    public func encoded() -> [UInt8] {
        var header = ByteWriter()
        for byte in Checkpoint.magic { header.append(byte) }
        header.append(Checkpoint.formatVersion)
        header.append(UInt32(sections.count))
        for (name, bytes) in sections {
            // Names come from code, not users; longer names are cut at the byte limit.
            let nameBytes = Array(name.utf8.prefix(Checkpoint.maxNameBytes))
            header.append(UInt16(nameBytes.count))
            for byte in nameBytes { header.append(byte) }
            header.append(UInt64(bytes.count))
            header.append(CRC32.checksum(bytes))
        }
        var file = header.bytes
        var trailer = ByteWriter()
        trailer.append(CRC32.checksum(file))
        file.append(contentsOf: trailer.bytes)
        file.reserveCapacity(file.count + sections.reduce(0) { $0 + $1.bytes.count })
        for (_, bytes) in sections { file.append(contentsOf: bytes) }
        return file
    }

    /// Parses and verifies a file's bytes; `path` is only used in error messages.
    public static func decode(_ file: [UInt8], path: String) throws -> Checkpoint {
        guard file.count >= magic.count else {
            if !file.isEmpty && !magic.starts(with: file) {
                throw CheckpointError.foreign(path: path, found: file)
            }
            throw CheckpointError.truncated(path: path, part: "the header", expectedBytes: fixedHeaderBytes,
                                            availableBytes: file.count)
        }
        guard Array(file[0..<magic.count]) == magic else {
            throw CheckpointError.foreign(path: path, found: Array(file[0..<magic.count]))
        }
        func headerTruncated(_ needed: Int) -> CheckpointError {
            .truncated(path: path, part: "the header", expectedBytes: needed, availableBytes: file.count)
        }
        var reader = ByteReader(file, path: path, section: "header")
        _ = try reader.take(magic.count, "magic")
        guard let version = try? reader.uint32() else { throw headerTruncated(fixedHeaderBytes) }
        guard version >= 1, version <= formatVersion else {
            throw CheckpointError.unsupportedVersion(path: path, found: version, supported: formatVersion)
        }
        guard let count = try? reader.uint32() else { throw headerTruncated(fixedHeaderBytes) }
        var table: [(name: String, length: Int, crc: UInt32)] = []
        for index in 0..<Int(count) {
            guard let nameLength = try? reader.uint16(),
                  let nameBytes = try? reader.take(Int(nameLength), "name"),
                  let length = try? reader.uint64(),
                  let crc = try? reader.uint32()
            else { throw headerTruncated(reader.offset + 14) }
            guard let name = String(validating: Array(nameBytes), as: UTF8.self), !name.isEmpty else {
                throw CheckpointError.badTable(path: path, reason: "entry \(index) has an empty or non-UTF-8 name")
            }
            // Names are short words; a damaged one (control characters, a run of other bytes) is
            // refused here so that no later message quotes it across lines.
            guard nameBytes.count <= Checkpoint.maxNameBytes,
                  !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                throw CheckpointError.badTable(path: path, reason: "entry \(index) has a damaged name (\(nameBytes.count) bytes, "
                                               + "at most \(Checkpoint.maxNameBytes) printable characters)")
            }
            guard !table.contains(where: { $0.name == name }) else {
                throw CheckpointError.badTable(path: path, reason: "section \"\(name)\" appears twice")
            }
            guard let size = Int(exactly: length) else {
                throw CheckpointError.badTable(path: path, reason: "section \"\(name)\" length \(length) is too large")
            }
            table.append((name, size, crc))
        }
        let headerEnd = reader.offset
        guard let storedHeaderCRC = try? reader.uint32() else { throw headerTruncated(headerEnd + 4) }
        let headerCRC = CRC32.checksum(Array(file[0..<headerEnd]))
        guard headerCRC == storedHeaderCRC else {
            throw CheckpointError.crcMismatch(path: path, part: "header", stored: storedHeaderCRC, computed: headerCRC)
        }
        var checkpoint = Checkpoint()
        var offset = reader.offset
        for (name, length, storedCRC) in table {
            // A damaged length can be up to Int.max: the bytes needed are added with an overflow
            // check (saturating) so the error is reported, not trapped on.
            guard length <= file.count - offset else {
                let (needed, overflow) = offset.addingReportingOverflow(length)
                throw CheckpointError.truncated(path: path, part: "section \"\(name)\"",
                                                expectedBytes: overflow ? Int.max : needed, availableBytes: file.count)
            }
            let payload = Array(file[offset..<offset + length])
            let crc = CRC32.checksum(payload)
            guard crc == storedCRC else {
                throw CheckpointError.crcMismatch(path: path, part: "section \"\(name)\"", stored: storedCRC, computed: crc)
            }
            checkpoint.sections.append((name, payload))
            offset += length
        }
        guard offset == file.count else {
            throw CheckpointError.trailingBytes(path: path, expectedBytes: offset, actualBytes: file.count)
        }
        return checkpoint
    }
}
