/// Little-endian binary encoding of checkpoint sections and sampler states. Every multi-byte
/// value is little-endian regardless of the host, so files move between machines; Doubles and
/// Floats are stored as their IEEE-754 bit patterns, so a round trip is bit-exact.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }

    public mutating func append(_ value: UInt8) { bytes.append(value) }

    public mutating func append(_ value: UInt16) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(_ value: Int) { append(UInt64(bitPattern: Int64(value))) }

    public mutating func append(_ value: Double) { append(value.bitPattern) }

    public mutating func append(_ value: Float) { append(value.bitPattern) }

    /// One byte, 0 or 1.
    public mutating func append(_ value: Bool) { bytes.append(value ? 1 : 0) }

    /// A fixed ASCII tag ("DROHWS01"), no length prefix.
    public mutating func append(magic: String) { bytes.append(contentsOf: Array(magic.utf8)) }

    /// Count (UInt64) followed by the raw values.
    public mutating func append(_ values: [Float]) {
        append(values.count)
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in values { append(value.bitPattern) }
        #endif
    }

    /// Count (UInt64) followed by the values.
    public mutating func append(_ values: [Double]) {
        append(values.count)
        append(contentsOf: values)
    }

    /// Count (UInt64) followed by the values.
    public mutating func append(_ values: [Int]) {
        append(values.count)
        for value in values { append(value) }
    }

    /// The values without a count (the reader knows it from an earlier field).
    public mutating func append(contentsOf values: [Double]) {
        for value in values { append(value.bitPattern) }
    }

    /// The values without a count (the reader knows it from an earlier field).
    public mutating func append(contentsOf values: [UInt32]) {
        for value in values { append(value) }
    }

    /// Length (UInt64) followed by raw bytes.
    public mutating func appendBlob(_ blob: [UInt8]) {
        append(blob.count)
        bytes.append(contentsOf: blob)
    }

    /// UTF-8 length-prefixed string.
    public mutating func append(_ string: String) { appendBlob(Array(string.utf8)) }
}

/// Reads what `ByteWriter` wrote. Every read is bounds-checked and names the field it reads;
/// a failure's sentence (e.g. "velocity count 9 exceeds the 12 bytes left") goes to `failure`,
/// which wraps it in the caller's error naming what is being read (a checkpoint section, a
/// sampler state), so the message names both.
public struct ByteReader {
    let bytes: [UInt8]
    public private(set) var offset = 0
    /// Makes the caller's error from a failure's sentence.
    let failure: (String) -> Error

    public init(_ bytes: [UInt8], failure: @escaping (String) -> Error) {
        self.bytes = bytes
        self.failure = failure
    }

    public var isAtEnd: Bool { offset == bytes.count }
    public var remaining: Int { bytes.count - offset }

    /// The caller's error for `reason`.
    public func fail(_ reason: String) -> Error { failure(reason) }

    /// The next `count` raw bytes.
    public mutating func take(_ count: Int, _ what: String) throws -> ArraySlice<UInt8> {
        guard count >= 0, count <= bytes.count - offset else {
            throw fail("\(what) is truncated: needs \(count) bytes at offset \(offset), only \(bytes.count - offset) left")
        }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func fixed<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws -> T {
        let slice = try take(MemoryLayout<T>.size, what)
        var value: T = 0
        for (shift, byte) in slice.enumerated() { value |= T(byte) << (8 * shift) }
        return value
    }

    public mutating func uint8(_ what: String = "byte") throws -> UInt8 { try fixed(UInt8.self, what) }
    public mutating func uint16(_ what: String = "uint16") throws -> UInt16 { try fixed(UInt16.self, what) }
    public mutating func uint32(_ what: String = "uint32") throws -> UInt32 { try fixed(UInt32.self, what) }
    public mutating func uint64(_ what: String = "uint64") throws -> UInt64 { try fixed(UInt64.self, what) }

    public mutating func int(_ what: String = "integer") throws -> Int {
        let raw = Int64(bitPattern: try uint64(what))
        guard let value = Int(exactly: raw) else { throw fail("\(what) \(raw) does not fit") }
        return value
    }

    public mutating func double(_ what: String = "double") throws -> Double {
        Double(bitPattern: try uint64(what))
    }

    public mutating func float(_ what: String = "float") throws -> Float {
        Float(bitPattern: try uint32(what))
    }

    /// One byte that must be 0 or 1.
    public mutating func bool(_ what: String = "flag") throws -> Bool {
        let byte = try uint8(what)
        guard byte <= 1 else { throw fail("\(what) byte is \(byte), allowed 0 or 1") }
        return byte == 1
    }

    /// A fixed ASCII tag written by `append(magic:)`.
    public mutating func expect(magic: String, _ what: String = "header") throws {
        let want = Array(magic.utf8)
        guard Array(try take(want.count, what)) == want else {
            throw fail("\(what) is not '\(magic)' (wrong file or kind)")
        }
    }

    /// A count (Int64) that must fit in the remaining bytes at `elementSize` each.
    public mutating func count(_ what: String, elementSize: Int) throws -> Int {
        let count = try int("\(what) count")
        guard count >= 0, count <= (bytes.count - offset) / max(elementSize, 1) else {
            throw fail("\(what) count \(count) exceeds the \(bytes.count - offset) bytes left")
        }
        return count
    }

    public mutating func floats(_ what: String = "floats") throws -> [Float] {
        let count = try self.count(what, elementSize: 4)
        #if _endian(little)
        let raw = try take(4 * count, what)
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            raw.withUnsafeBytes { source in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
            }
            initialized = count
        }
        #else
        var values = [Float]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try float(what)) }
        return values
        #endif
    }

    /// Count-prefixed Doubles.
    public mutating func doubles(_ what: String = "doubles") throws -> [Double] {
        try doubles(count: try self.count(what, elementSize: 8), what)
    }

    /// `count` Doubles without a prefix.
    public mutating func doubles(count: Int, _ what: String = "doubles") throws -> [Double] {
        var values = [Double]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try double(what)) }
        return values
    }

    /// `count` UInt32s without a prefix.
    public mutating func uint32s(count: Int, _ what: String = "uint32s") throws -> [UInt32] {
        var values = [UInt32]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try uint32(what)) }
        return values
    }

    public mutating func ints(_ what: String = "integers") throws -> [Int] {
        let count = try self.count(what, elementSize: 8)
        var values = [Int]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try int(what)) }
        return values
    }

    public mutating func blob(_ what: String = "bytes") throws -> [UInt8] {
        let count = try self.count(what, elementSize: 1)
        return Array(try take(count, what))
    }

    public mutating func string(_ what: String = "text") throws -> String {
        let raw = try blob(what)
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw fail("\(what) is not valid UTF-8")
        }
        return text
    }

    /// A name this project wrote (a tensor name, an optimizer kind): a string of at most 255
    /// bytes without control characters. A damaged one is refused here, so that no later
    /// message quotes it across lines.
    public mutating func name(_ what: String = "name") throws -> String {
        let text = try string(what)
        guard text.utf8.count <= 255,
              !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw fail("\(what) is damaged (\(text.utf8.count) bytes, at most 255 printable characters)")
        }
        return text
    }

    /// Throws unless every byte was consumed (bytes with leftovers are not what we wrote).
    public func finish() throws {
        guard isAtEnd else { throw fail("\(bytes.count - offset) unexpected trailing bytes") }
    }
}
