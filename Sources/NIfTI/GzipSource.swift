import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streaming gzip reader: the compressed file is read in `chunkSize` pieces and inflated
/// straight into the caller's buffer, so peak memory is the destination plus one chunk.
/// Concatenated gzip members are read one after the other (RFC 1952 §2.2).
final class GzipSource: ByteSource {
    /// Compressed bytes read per fread (1 MiB): large enough to amortise calls, small next to a volume.
    static let chunkSize = 1 << 20
    /// windowBits for inflateInit2: 15 (32 KiB window, the deflate maximum) + 32 (detect
    /// gzip or zlib header automatically), zlib manual.
    static let windowBitsAutoDetect: Int32 = 15 + 32

    private let file: CFile
    let fileSize: Int
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private var inputEOF = false
    /// True between the first byte of a member and its Z_STREAM_END.
    private var inMember = false

    init(path: String) throws {
        file = try CFile(path: path, mode: "rb")
        fileSize = file.size
        // z_stream must not move after init (zlib keeps a pointer back to it).
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: GzipSource.chunkSize)
        let rc = inflateInit2_(stream, GzipSource.windowBitsAutoDetect, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            input.deallocate()
            stream.deallocate()
            throw NIfTIError(path: path, field: "gzip stream", found: "zlib init error \(rc)", allowed: "zlib available")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deallocate()
        input.deallocate()
    }

    private func corrupt(_ what: String) -> NIfTIError {
        NIfTIError(path: file.path, field: "gzip stream", found: what, allowed: "a complete, valid gzip file")
    }

    /// Refills the input buffer when empty; returns false at the end of the file.
    private func refill() throws -> Bool {
        if stream.pointee.avail_in > 0 { return true }
        if inputEOF { return false }
        let n = fread(input, 1, GzipSource.chunkSize, file.handle)
        if n < GzipSource.chunkSize {
            if ferror(file.handle) != 0 { throw corrupt("unreadable (I/O error)") }
            inputEOF = true
        }
        stream.pointee.next_in = input
        stream.pointee.avail_in = uInt(n)
        return n > 0
    }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var produced = 0
        let out = destination.assumingMemoryBound(to: UInt8.self)
        while produced < count {
            guard try refill() else {
                if inMember { throw corrupt("truncated (ends inside a member)") }
                break
            }
            let want = min(count - produced, Int(UInt32.max))
            stream.pointee.next_out = out + produced
            stream.pointee.avail_out = uInt(want)
            inMember = true
            let rc = inflate(stream, Z_NO_FLUSH)
            produced += want - Int(stream.pointee.avail_out)
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                // End of one member; another may follow (concatenated gzip).
                inMember = false
                inflateReset(stream)
            default:
                let msg = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(rc)"
                throw corrupt("corrupt (\(msg))")
            }
        }
        return produced
    }

    /// Inflates the rest of the current member so its CRC-32 and length are verified.
    func finish() throws {
        var scratch = [UInt8](repeating: 0, count: skipBufferSize)
        while inMember {
            let n = try scratch.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: $0.count) }
            if n == 0 { break }
        }
    }
}
