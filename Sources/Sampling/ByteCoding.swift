// Little-endian byte writer and reader for sampler checkpoints. Doubles are stored as their
// IEEE-754 bit patterns, so a round trip is bit-exact.

struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func reserve(_ count: Int) { bytes.reserveCapacity(count) }

    mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Double) { append(value.bitPattern) }

    mutating func append(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func append(magic: String) { bytes.append(contentsOf: Array(magic.utf8)) }

    mutating func append(doubles: [Double]) {
        for v in doubles { append(v.bitPattern) }
    }

    mutating func append(counts: [UInt32]) {
        for v in counts { append(v) }
    }
}

struct ByteReader {
    private let bytes: [UInt8]
    private var offset = 0
    /// What is being read, for error messages ("hardness sampler state").
    let what: String

    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else {
            throw SamplerError.corruptState(
                "\(what) is truncated: needs \(n) more bytes at offset \(offset), has \(bytes.count - offset)")
        }
        defer { offset += n }
        return bytes[offset ..< offset + n]
    }

    mutating func uint64() throws -> UInt64 {
        var v: UInt64 = 0
        for (k, b) in try take(8).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return v
    }

    mutating func uint32() throws -> UInt32 {
        var v: UInt32 = 0
        for (k, b) in try take(4).enumerated() { v |= UInt32(b) << (8 * UInt32(k)) }
        return v
    }

    mutating func double() throws -> Double { Double(bitPattern: try uint64()) }

    mutating func bool() throws -> Bool {
        let b = try take(1).first ?? 0
        guard b <= 1 else { throw SamplerError.corruptState("\(what): flag byte is \(b), allowed 0 or 1") }
        return b == 1
    }

    mutating func expect(magic: String) throws {
        let want = Array(magic.utf8)
        let got = Array(try take(want.count))
        guard got == want else {
            throw SamplerError.corruptState("\(what): header is not '\(magic)' (wrong file or sampler kind)")
        }
    }

    /// A count that must fit the remaining bytes at `bytesEach` per element.
    mutating func count(bytesEach: Int) throws -> Int {
        let n = try uint64()
        guard n <= UInt64((bytes.count - offset) / max(bytesEach, 1)) else {
            throw SamplerError.corruptState("\(what): sample count \(n) does not fit the \(bytes.count) bytes given")
        }
        return Int(n)
    }

    mutating func doubles(_ n: Int) throws -> [Double] {
        var out = [Double](); out.reserveCapacity(n)
        for _ in 0 ..< n { out.append(try double()) }
        return out
    }

    mutating func counts(_ n: Int) throws -> [UInt32] {
        var out = [UInt32](); out.reserveCapacity(n)
        for _ in 0 ..< n { out.append(try uint32()) }
        return out
    }

    func expectEnd() throws {
        guard offset == bytes.count else {
            throw SamplerError.corruptState("\(what) has \(bytes.count - offset) unexpected trailing bytes")
        }
    }
}
