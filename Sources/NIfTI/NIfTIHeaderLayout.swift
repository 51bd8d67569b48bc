/// Byte layouts of the NIfTI-1 (348 bytes) and NIfTI-2 (540 bytes) headers, in file order,
/// from nifti1.h and nifti2.h. Only the fields dro-seg uses are listed; the rest are skipped.
enum NIfTI1Offset {
    static let sizeofHdr = 0       // int32, must be 348
    static let dimInfo = 39        // char
    static let dim = 40            // int16[8]
    static let intentCode = 68     // int16
    static let datatype = 70       // int16
    static let bitpix = 72         // int16
    static let pixdim = 76         // float32[8]
    static let voxOffset = 108     // float32
    static let sclSlope = 112      // float32
    static let sclInter = 116      // float32
    static let xyztUnits = 123     // char
    static let descrip = 148       // char[80]
    static let qformCode = 252     // int16
    static let sformCode = 254     // int16
    static let quatern = 256       // float32 b, c, d
    static let qoffset = 268       // float32 x, y, z
    static let srow = 280          // float32[4] x, y, z
    static let magic = 344         // char[4]: "n+1\0" single file, "ni1\0" pair
    static let headerSize = 348
    /// Header + 4-byte extension flag: the vox_offset of a file without extensions.
    static let singleFileVoxOffset = 352
}

enum NIfTI2Offset {
    static let sizeofHdr = 0       // int32, must be 540
    static let magic = 4           // char[8]: "n+2\0\r\n\u{1A}\n" single, "ni2\0..." pair
    static let datatype = 12       // int16
    static let bitpix = 14         // int16
    static let dim = 16            // int64[8]
    static let pixdim = 104        // float64[8]
    static let voxOffset = 168     // int64
    static let sclSlope = 176      // float64
    static let sclInter = 184      // float64
    static let descrip = 240       // char[80]
    static let qformCode = 344     // int32
    static let sformCode = 348     // int32
    static let quatern = 352       // float64 b, c, d
    static let qoffset = 376       // float64 x, y, z
    static let srow = 400          // float64[4] x, y, z
    static let xyztUnits = 500     // int32
    static let intentCode = 504    // int32
    static let headerSize = 540
}

/// Reads fixed-width fields from header bytes in the file's byte order.
struct HeaderBytes {
    let bytes: [UInt8]
    let swap: Bool

    private func load<T: FixedWidthInteger>(_ offset: Int, as: T.Type) -> T {
        var v: T = 0
        for k in 0..<MemoryLayout<T>.size {
            v |= T(truncatingIfNeeded: bytes[offset + k]) << (8 * k)
        }
        // Bytes were assembled little-endian; a big-endian file needs them reversed.
        return swap ? v.byteSwapped : v
    }

    func int16(_ o: Int) -> Int { Int(load(o, as: Int16.self)) }
    func int32(_ o: Int) -> Int { Int(load(o, as: Int32.self)) }
    func int64(_ o: Int) -> Int { Int(load(o, as: Int64.self)) }
    func uint8(_ o: Int) -> Int { Int(bytes[o]) }
    func float32(_ o: Int) -> Double { Double(Float(bitPattern: load(o, as: UInt32.self))) }
    func float64(_ o: Int) -> Double { Double(bitPattern: load(o, as: UInt64.self)) }

    func string(_ o: Int, length: Int) -> String {
        let slice = bytes[o..<(o + length)].prefix { $0 != 0 }
        return String(decoding: slice, as: UTF8.self)
    }
}

/// Puts little-endian fields into a zeroed header buffer (348 or 540 bytes).
struct HeaderWriter {
    var bytes: [UInt8]

    init(size: Int) { bytes = [UInt8](repeating: 0, count: size) }

    mutating func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        let le = value.littleEndian
        withUnsafeBytes(of: le) { raw in
            for k in 0..<raw.count { bytes[offset + k] = raw[k] }
        }
    }
    mutating func int16(_ v: Int, at o: Int) { put(Int16(truncatingIfNeeded: v), at: o) }
    mutating func int32(_ v: Int, at o: Int) { put(Int32(truncatingIfNeeded: v), at: o) }
    mutating func int64(_ v: Int, at o: Int) { put(Int64(v), at: o) }
    mutating func float32(_ v: Double, at o: Int) { put(Float(v).bitPattern, at: o) }
    mutating func float64(_ v: Double, at o: Int) { put(v.bitPattern, at: o) }
    mutating func string(_ s: String, at o: Int, length: Int) {
        for (k, b) in s.utf8.prefix(length - 1).enumerated() { bytes[o + k] = b }
    }
}
