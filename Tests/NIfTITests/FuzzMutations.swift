import Common
import Foundation
@testable import NIfTI
import TestSupport

/// A well-formed file the fuzzer mutates: its bytes as stored and, for a .nii.gz, the inflated
/// bytes (obtained by decompressing the stored file with the module's reader).
struct FuzzBase {
    var name: String
    var stored: [UInt8]
    var inflated: [UInt8]
    var headerSize: Int
    var gzip: Bool { name.hasSuffix(".gz") }

    /// Five bases: NIfTI-1 little-endian float32 with scaling (.nii and .nii.gz), NIfTI-2
    /// big-endian int16 (.nii), NIfTI-1 with two extensions (.nii) and NIfTI-2 big-endian with
    /// extensions (.nii.gz) — both byte orders, both formats, the extension parser, gzip.
    static func all(directory: String) throws -> [FuzzBase] {
        var rng = SplitMix64(seed: 1)
        let values = (0..<(6 * 5 * 4)).map { _ in Float(Int(rng.next() % 200)) - 100 }
        var n1 = HandBuiltFile()
        n1.dim = [3, 6, 5, 4, 1, 1, 1, 1]
        n1.sformCode = 1
        n1.qformCode = 1
        n1.quatern = [0, 0.6, 0]
        n1.slope = 2
        n1.inter = 1
        let plain = n1.headerBytes() + n1.encode(values)
        var n2 = n1
        n2.nifti2 = true
        n2.bigEndian = true
        n2.datatype = 4
        n2.bitpix = 16
        let big2 = n2.headerBytes() + n2.encode(values.map { Int16($0) })
        var x1 = n1
        x1.extender = [1, 0, 0, 0]
        x1.extensionBytes = x1.extensionRecord(code: 6, content: Array("dro-seg fuzz comment".utf8))
            + x1.extensionRecord(code: 40, content: (0..<37).map { UInt8($0 * 7 & 0xFF) })
        let ext1 = x1.headerBytes() + x1.encode(values)
        var x2 = n2
        x2.extender = [1, 0, 0, 0]
        x2.extensionBytes = x2.extensionRecord(code: 4, content: Array("<?xml version='1.0' ?><AFNI/>".utf8))
        let ext2 = x2.headerBytes() + x2.encode(values.map { Int16($0) })
        return [try base("p.nii", plain, 348, directory), try base("g.nii.gz", plain, 348, directory),
                try base("b.nii", big2, 540, directory), try base("x.nii", ext1, 348, directory),
                try base("bx.nii.gz", ext2, 540, directory)]
    }

    private static func base(_ name: String, _ bytes: [UInt8], _ headerSize: Int, _ directory: String) throws -> FuzzBase {
        guard name.hasSuffix(".gz") else { return FuzzBase(name: name, stored: bytes, inflated: bytes, headerSize: headerSize) }
        let stored = try gzipMember(bytes, in: directory)
        let inflated = try inflate(stored, in: directory)
        precondition(inflated == bytes, "gzip round trip of the fuzz base \(name)")
        return FuzzBase(name: name, stored: stored, inflated: inflated, headerSize: headerSize)
    }
}

/// Decompresses gzip bytes with the module's streaming reader.
func inflate(_ gz: [UInt8], in directory: String) throws -> [UInt8] {
    let tmp = directory + "/inflate-\(UUID().uuidString).gz"
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    try writeBytes(gz, to: tmp)
    let source = try GzipSource(path: tmp)
    var out: [UInt8] = []
    while true {
        let chunk = try source.readBytes(1 << 16)
        out += chunk
        if chunk.count < 1 << 16 { return out }
    }
}

/// One way of damaging a file. On a .nii.gz, the `inflated…` kinds decompress, mutate the NIfTI
/// bytes and recompress — so the header checks see the damage — while the `stream…` kinds damage
/// the compressed bytes themselves (gzip header, deflate stream, CRC, length).
indirect enum FuzzMutation: CustomStringConvertible {
    case flipHeaderBytes, flipAnyBytes, setHeaderWord, setExtensionWord, truncate
    case inflated(FuzzMutation)
    case streamFlipGzipHeader, streamFlipAnyBytes, streamTruncate

    static let plainKinds: [FuzzMutation] = [.flipHeaderBytes, .flipAnyBytes, .setHeaderWord, .setExtensionWord, .truncate]
    static let gzipKinds: [FuzzMutation] = plainKinds.map { .inflated($0) } + [.streamFlipGzipHeader, .streamFlipAnyBytes, .streamTruncate]

    var isRecompressedHeader: Bool { if case .inflated = self { return true } else { return false } }

    var description: String {
        switch self {
        case .inflated(let inner): return "inflate, \(inner), deflate"
        case .flipHeaderBytes: return "flip header bytes"
        case .flipAnyBytes: return "flip any bytes"
        case .setHeaderWord: return "set header word"
        case .setExtensionWord: return "set extension word"
        case .truncate: return "truncate"
        case .streamFlipGzipHeader: return "flip gzip header bytes"
        case .streamFlipAnyBytes: return "flip compressed bytes"
        case .streamTruncate: return "truncate compressed stream"
        }
    }

    func apply(to base: FuzzBase, mutator m: inout FuzzMutator, directory: String) throws -> [UInt8] {
        switch self {
        case .inflated(let inner):
            let mutated = inner.mutate(base.inflated, headerSize: base.headerSize, mutator: &m)
            return try gzipMember(mutated, in: directory, level: 1 + m.random(9))
        case .streamFlipGzipHeader: return FuzzMutation.flipHeaderBytes.mutate(base.stored, headerSize: 64, mutator: &m)
        case .streamFlipAnyBytes: return FuzzMutation.flipAnyBytes.mutate(base.stored, headerSize: 0, mutator: &m)
        case .streamTruncate: return FuzzMutation.truncate.mutate(base.stored, headerSize: 0, mutator: &m)
        default: return mutate(base.stored, headerSize: base.headerSize, mutator: &m)
        }
    }

    /// Applies a byte-level mutation (the shared operators of `FuzzMutator`) to uncompressed
    /// (or, for the stream kinds, compressed) bytes.
    func mutate(_ bytes: [UInt8], headerSize: Int, mutator m: inout FuzzMutator) -> [UInt8] {
        var b = bytes
        switch self {
        case .flipHeaderBytes:
            m.flipBits(&b, in: 0..<(headerSize + 4))
        case .flipAnyBytes:
            m.setBytes(&b)
        case .setHeaderWord:
            // Aligned offsets hit dims, datatype, vox_offset, codes with values that overflow naive arithmetic.
            m.setWord(&b, at: m.random(min(headerSize, b.count) / 2) * 2, width: m.pick([2, 4]))
        case .setExtensionWord:
            // The extender, and esize/ecode of the first extensions (either byte order's end).
            let at = headerSize + 4 * m.random(12)
            if at < b.count { m.setWord(&b, at: at, width: m.pick([2, 4])) }
        case .truncate:
            m.truncate(&b)
        default:
            break
        }
        return b
    }
}
