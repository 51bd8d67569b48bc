import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing: a single file in the header's own format — NIfTI-1 or NIfTI-2 (`header.format`;
/// `like` keeps the source's), little-endian, with the header's extensions after the extender;
/// `.nii` plain or `.nii.gz` gzip (streamed through deflate). The file is written durably
/// (`DurableFile`): a temporary name in the same folder, fsync, checked close, rename, fsync of
/// the folder; a failed write never leaves a half file at `path`.
extension NIfTIImage {
    /// nibabel's default gzip level for .nii.gz (`Opener.default_compresslevel`).
    public static let defaultGzipLevel = 1

    /// The temporary file a write to `path` uses while in progress (same folder; renamed to
    /// `path` when complete). A process killed mid-write can leave it behind.
    public static func temporaryPath(for path: String) -> String { DurableFile.temporaryPath(for: path) }

    public func write(to path: String, gzipLevel: Int = NIfTIImage.defaultGzipLevel) throws {
        try header.checkWritable(to: path)
        guard (0...9).contains(gzipLevel) else {
            throw NIfTIError(path: path, field: "gzip level", found: "\(gzipLevel)", allowed: "0...9")
        }
        let headerBytes = header.encodedForWriting()
        let gzip = path.lowercased().hasSuffix(".nii.gz")
        try DurableFile.write(to: path) { file in
            let sink: ByteSink = gzip ? try GzipSink(file: file, level: gzipLevel) : RawSink(file: file)
            try sink.write(headerBytes)
            if NIfTIImage.hostIsLittleEndian {
                try sink.write(data)
            } else {
                var swapped = data
                NIfTIImage.swapBytes(&swapped, width: datatype.byteSize)
                try sink.write(swapped)
            }
            try sink.finish()
        }
    }
}

func writeError(_ path: String) -> NIfTIError {
    NIfTIError(path: path, field: "file", found: "not writable (\(String(cString: strerror(errno))))",
               allowed: "a writable location with free space")
}

protocol ByteSink {
    func write(_ bytes: [UInt8]) throws
    func finish() throws
}

struct RawSink: ByteSink {
    let file: CFile
    func write(_ bytes: [UInt8]) throws {
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file.handle) }
        guard n == bytes.count else { throw writeError(file.path) }
    }
    func finish() throws {}
}

/// Streaming gzip writer: deflate into a fixed output buffer, written out whenever it fills.
final class GzipSink: ByteSink {
    /// Output buffer (1 MiB), as on the reading side.
    static let chunkSize = 1 << 20
    /// windowBits 15 + 16: a 32 KiB window with a gzip (not zlib) wrapper (zlib manual).
    static let windowBitsGzip: Int32 = 15 + 16
    /// zlib's default memLevel (zlib manual, deflateInit2).
    static let memLevel: Int32 = 8

    private let file: CFile
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>

    init(file: CFile, level: Int) throws {
        self.file = file
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(capacity: GzipSink.chunkSize)
        let rc = deflateInit2_(stream, Int32(level), Z_DEFLATED, GzipSink.windowBitsGzip, GzipSink.memLevel,
                               Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else {
            output.deallocate()
            stream.deallocate()
            throw NIfTIError(path: file.path, field: "gzip stream", found: "zlib init error \(rc)", allowed: "zlib available")
        }
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    private func run(_ flush: Int32) throws -> Int32 {
        var rc: Int32 = Z_OK
        repeat {
            stream.pointee.next_out = output
            stream.pointee.avail_out = uInt(GzipSink.chunkSize)
            rc = deflate(stream, flush)
            guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                throw NIfTIError(path: file.path, field: "gzip stream", found: "deflate error \(rc)", allowed: "a successful compression")
            }
            let have = GzipSink.chunkSize - Int(stream.pointee.avail_out)
            guard fwrite(output, 1, have, file.handle) == have else { throw writeError(file.path) }
        } while stream.pointee.avail_out == 0 && rc != Z_STREAM_END
        return rc
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = min(raw.count - offset, Int(UInt32.max))
                stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self) + offset)
                stream.pointee.avail_in = uInt(n)
                _ = try run(Z_NO_FLUSH)
                offset += n
            }
        }
    }

    func finish() throws {
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
        while try run(Z_FINISH) != Z_STREAM_END {}
    }
}
