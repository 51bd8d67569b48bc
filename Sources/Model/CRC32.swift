/// CRC-32 as used by zlib, gzip and PNG (ISO-HDLC): reflected polynomial 0xEDB88320,
/// initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF. Check value: CRC32("123456789") = 0xCBF43926.
/// Table-driven, one byte per step; fast enough for checkpoints (hundreds of MB/s).
public struct CRC32: Sendable {
    /// The reversed IEEE 802.3 polynomial (x³² + x²⁶ + … + 1, bit-reflected).
    static let polynomial: UInt32 = 0xEDB8_8320

    /// table[b] = CRC register after shifting byte b through eight polynomial steps.
    static let table: [UInt32] = (0..<256).map { byte -> UInt32 in
        var crc = UInt32(byte)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ polynomial : crc >> 1
        }
        return crc
    }

    private var register: UInt32 = 0xFFFF_FFFF

    public init() {}

    /// Feeds bytes into the running checksum.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        var crc = register
        CRC32.table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        register = crc
    }

    /// Feeds a raw buffer (the fast path for large sections).
    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        var crc = register
        CRC32.table.withUnsafeBufferPointer { table in
            for byte in buffer {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        register = crc
    }

    /// The checksum of everything fed so far.
    public var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// One-shot checksum of a byte array.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc = CRC32()
        bytes.withUnsafeBytes { crc.update($0) }
        return crc.value
    }
}
