import CZlib
import Foundation

/// A minimal PNG encoder (RFC 2083 / W3C PNG 2nd ed.): 8-bit grey, RGB or RGBA, no interlace,
/// filter type 0 on every row, one IDAT chunk compressed with zlib.
///
/// ```swift
/// var image = PNGImage(width: 64, height: 32, channels: 3)
/// image.pixels[0...2] = [255, 0, 0]          // top-left pixel red
/// try image.write(to: "out.png")
/// ```
public struct PNGImage: Sendable {
    public let width: Int
    public let height: Int
    /// 1 = grey, 3 = RGB, 4 = RGBA.
    public let channels: Int
    /// Row-major, top row first, `channels` bytes per pixel.
    public var pixels: [UInt8]

    /// A black (transparent for RGBA) image.
    public init(width: Int, height: Int, channels: Int = 3) {
        precondition(width > 0 && height > 0 && [1, 3, 4].contains(channels),
                     "PNGImage: programming error, bad size or channel count")
        self.width = width
        self.height = height
        self.channels = channels
        pixels = [UInt8](repeating: 0, count: width * height * channels)
    }

    /// PNG signature (PNG spec §5.2).
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
    /// zlib level for IDAT: 6 is zlib's default size/speed balance.
    static let compressionLevel: Int32 = 6

    /// The PNG file bytes.
    public func encoded() -> [UInt8] {
        var out = PNGImage.signature
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        let colourType: UInt8 = channels == 1 ? 0 : (channels == 3 ? 2 : 6)
        header += [8, colourType, 0, 0, 0]  // bit depth, colour type, deflate, filter 0, no interlace
        PNGImage.appendChunk("IHDR", header, to: &out)
        PNGImage.appendChunk("IDAT", PNGImage.deflate(filteredRows()), to: &out)
        PNGImage.appendChunk("IEND", [], to: &out)
        return out
    }

    /// Writes the PNG file; throws `PNGWriteError` naming the path.
    public func write(to path: String) throws {
        do { try Data(encoded()).write(to: URL(fileURLWithPath: path)) } catch {
            throw PNGWriteError(path: path, reason: "\(error.localizedDescription)")
        }
    }

    /// Scanlines each prefixed by filter byte 0 (None).
    private func filteredRows() -> [UInt8] {
        let rowBytes = width * channels
        var raw = [UInt8](repeating: 0, count: height * (rowBytes + 1))
        for y in 0..<height {
            let dst = y * (rowBytes + 1) + 1
            raw[dst..<(dst + rowBytes)] = pixels[(y * rowBytes)..<((y + 1) * rowBytes)]
        }
        return raw
    }

    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var capacity = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(capacity))
        let status = out.withUnsafeMutableBufferPointer { o in
            data.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &capacity, i.baseAddress, uLong(data.count), compressionLevel)
            }
        }
        // compress2 only fails on memory exhaustion or a too-small buffer; compressBound rules
        // out the latter.
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        return Array(out[0..<Int(capacity)])
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to out: inout [UInt8]) {
        out.appendBigEndian(UInt32(data.count))
        let typeAndData = Array(type.utf8) + data
        out += typeAndData
        let crc = typeAndData.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        out.appendBigEndian(UInt32(crc))
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xFF))
        append(UInt8((v >> 8) & 0xFF)); append(UInt8(v & 0xFF))
    }
}

/// A PNG file that could not be written: "PATH: cannot write: REASON" (as dro-eval words it).
public struct PNGWriteError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): cannot write: \(reason)" }
}
