import Foundation
@testable import NIfTI

/// Builds NIfTI-1/NIfTI-2 files byte by byte, in either byte order, from the field offsets of
/// nifti1.h / nifti2.h written out here again (independently of the reader's tables).
struct HandBuiltFile {
    var nifti2 = false
    var bigEndian = false
    var pair = false
    var magic: String?
    var dim: [Int] = [3, 2, 2, 2, 1, 1, 1, 1]
    var datatype = 16
    var bitpix = 32
    var pixdim: [Double] = [1, 1, 1, 1, 1, 1, 1, 1]
    var voxOffset: Int?
    var slope = 1.0
    var inter = 0.0
    var qformCode = 0
    var sformCode = 0
    var quatern: [Double] = [0, 0, 0]
    var qoffset: [Double] = [0, 0, 0]
    var srow: [[Double]] = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]
    var xyztUnits = 2
    /// Extra bytes (e.g. an extension) between the 4-byte extension flag and vox_offset.
    var extensionBytes: [UInt8] = []
    /// The 4-byte extension flag ("extender"): byte 0 non-zero announces extensions.
    var extender: [UInt8] = [0, 0, 0, 0]

    var headerSize: Int { nifti2 ? 540 : 348 }
    var effectiveVoxOffset: Int { voxOffset ?? (pair ? 0 : headerSize + 4 + extensionBytes.count) }

    private func put<T: FixedWidthInteger>(_ v: T, _ o: Int, _ b: inout [UInt8]) {
        let e = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: e) { for k in 0..<$0.count { b[o + k] = $0[k] } }
    }
    private func f32(_ v: Double, _ o: Int, _ b: inout [UInt8]) { put(Float(v).bitPattern, o, &b) }
    private func f64(_ v: Double, _ o: Int, _ b: inout [UInt8]) { put(v.bitPattern, o, &b) }

    /// Header bytes (348 or 540), plus for a single file (or a .hdr with extensions) the
    /// extension flag and extension bytes.
    func headerBytes() -> [UInt8] {
        var b = [UInt8](repeating: 0, count: headerSize)
        if nifti2 {
            put(Int32(540), 0, &b)
            let m = magic ?? (pair ? "ni2" : "n+2")
            for (k, c) in (Array(m.utf8) + [0, 0x0D, 0x0A, 0x1A, 0x0A]).prefix(8).enumerated() { b[4 + k] = c }
            put(Int16(datatype), 12, &b); put(Int16(bitpix), 14, &b)
            for i in 0..<8 { put(Int64(dim[i]), 16 + 8 * i, &b); f64(pixdim[i], 104 + 8 * i, &b) }
            put(Int64(effectiveVoxOffset), 168, &b)
            f64(slope, 176, &b); f64(inter, 184, &b)
            put(Int32(qformCode), 344, &b); put(Int32(sformCode), 348, &b)
            for k in 0..<3 { f64(quatern[k], 352 + 8 * k, &b); f64(qoffset[k], 376 + 8 * k, &b) }
            for r in 0..<3 { for k in 0..<4 { f64(srow[r][k], 400 + 32 * r + 8 * k, &b) } }
            put(Int32(xyztUnits), 500, &b)
        } else {
            put(Int32(348), 0, &b)
            for i in 0..<8 { put(Int16(truncatingIfNeeded: dim[i]), 40 + 2 * i, &b); f32(pixdim[i], 76 + 4 * i, &b) }
            put(Int16(datatype), 70, &b); put(Int16(bitpix), 72, &b)
            f32(Double(effectiveVoxOffset), 108, &b)
            f32(slope, 112, &b); f32(inter, 116, &b)
            b[123] = UInt8(xyztUnits)
            put(Int16(qformCode), 252, &b); put(Int16(sformCode), 254, &b)
            for k in 0..<3 { f32(quatern[k], 256 + 4 * k, &b); f32(qoffset[k], 268 + 4 * k, &b) }
            for r in 0..<3 { for k in 0..<4 { f32(srow[r][k], 280 + 16 * r + 4 * k, &b) } }
            let m = magic ?? (pair ? "ni1" : "n+1")
            for (k, c) in Array(m.utf8).prefix(4).enumerated() { b[344 + k] = c }
        }
        // A .hdr gets the flag only when it carries extensions (they run to its end).
        if !pair || extender[0] != 0 { b += extender + extensionBytes }
        return b
    }

    /// Element bytes in this file's byte order.
    func encode<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v -> [UInt8] in
            withUnsafeBytes(of: bigEndian ? v.bigEndian : v.littleEndian) { Array($0) }
        }
    }
    func encode(_ values: [Float]) -> [UInt8] { encode(values.map(\.bitPattern)) }

    /// One extension in this file's byte order: esize (8 + content, padded to 16), ecode, content.
    func extensionRecord(code: Int, content: [UInt8]) -> [UInt8] {
        let size = (8 + content.count + 15) / 16 * 16
        return encode([Int32(size), Int32(code)]) + content + [UInt8](repeating: 0, count: size - 8 - content.count)
    }
    func encode(_ values: [Double]) -> [UInt8] { encode(values.map(\.bitPattern)) }

    /// Writes a single file (header, padding up to vox_offset, data) or a .hdr/.img pair.
    func write(data: [UInt8], to path: String, imagePath: String? = nil) throws {
        var head = headerBytes()
        if pair {
            try Data(head).write(to: URL(fileURLWithPath: path))
            let img = [UInt8](repeating: 0, count: effectiveVoxOffset) + data
            try Data(img).write(to: URL(fileURLWithPath: imagePath ?? (String(path.dropLast(4)) + ".img")))
        } else {
            if head.count < effectiveVoxOffset { head += [UInt8](repeating: 0, count: effectiveVoxOffset - head.count) }
            try Data(head + data).write(to: URL(fileURLWithPath: path))
        }
    }
}

/// gzip-compresses bytes with the module's streaming writer, one member per call.
func gzipMember(_ bytes: [UInt8], in directory: String, level: Int = 6) throws -> [UInt8] {
    let tmp = directory + "/member-\(UUID().uuidString).gz"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    do {
        let file = try CFile(path: tmp, mode: "wb")
        let sink = try GzipSink(file: file, level: level)
        try sink.write(bytes)
        try sink.finish()
    }
    return Array(try Data(contentsOf: URL(fileURLWithPath: tmp)))
}

func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

func readBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}
