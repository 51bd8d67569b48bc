import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing: always a single-file NIfTI-1, little-endian, vox_offset 352, no extensions;
/// `.nii` plain or `.nii.gz` gzip (streamed through deflate). The file is written under a
/// temporary name and renamed, so a failed write never leaves a half file at `path`.
extension NIfTIImage {
    /// nibabel's default gzip level for .nii.gz (`Opener.default_compresslevel`).
    public static let defaultGzipLevel = 1

    public func write(to path: String, gzipLevel: Int = NIfTIImage.defaultGzipLevel) throws {
        let lower = path.lowercased()
        let gzip = lower.hasSuffix(".nii.gz")
        guard gzip || lower.hasSuffix(".nii") else {
            throw NIfTIError(path: path, field: "file name", found: "\"\(path)\"", allowed: "a name ending in .nii or .nii.gz")
        }
        guard (0...9).contains(gzipLevel) else {
            throw NIfTIError(path: path, field: "gzip level", found: "\(gzipLevel)", allowed: "0...9")
        }
        let headerBytes = try encodedHeader(path: path)
        let temporary = path + ".tmp\(getpid())"
        do {
            defer { if access(temporary, F_OK) == 0 { unlink(temporary) } }
            let file = try CFile(path: temporary, mode: "wb")
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
            guard fflush(file.handle) == 0 else { throw writeError(temporary) }
            guard rename(temporary, path) == 0 else { throw writeError(path) }
        } catch var error as NIfTIError {
            error.path = path   // name the file the caller asked for, not the temporary one
            throw error
        }
    }

    /// The 352 header bytes (348 + the 4-byte extension flag, all zero) of a NIfTI-1 file.
    func encodedHeader(path: String) throws -> [UInt8] {
        let h = header
        let int16Range = Int(Int16.min)...Int(Int16.max)
        for i in 0...h.dim[0] where !int16Range.contains(h.dim[i]) {
            throw NIfTIError(path: path, field: "dim[\(i)]", found: "\(h.dim[i])", allowed: "≤ 32767 in a NIfTI-1 file")
        }
        for (name, code) in [("qform_code", h.qformCode), ("sform_code", h.sformCode), ("intent_code", h.intentCode)]
        where !int16Range.contains(code) {
            throw NIfTIError(path: path, field: name, found: "\(code)", allowed: "an int16 code")
        }
        var w = HeaderWriter()
        w.int32(NIfTI1Offset.headerSize, at: NIfTI1Offset.sizeofHdr)
        for i in 0..<8 {
            w.int16(h.dim[i], at: NIfTI1Offset.dim + 2 * i)
            w.float32(h.pixdim[i], at: NIfTI1Offset.pixdim + 4 * i)
        }
        w.int16(h.intentCode, at: NIfTI1Offset.intentCode)
        w.int16(h.datatype.rawValue, at: NIfTI1Offset.datatype)
        w.int16(h.datatype.byteSize * 8, at: NIfTI1Offset.bitpix)
        w.float32(Double(NIfTI1Offset.singleFileVoxOffset), at: NIfTI1Offset.voxOffset)
        w.float32(h.sclSlope, at: NIfTI1Offset.sclSlope)
        w.float32(h.sclInter, at: NIfTI1Offset.sclInter)
        w.bytes[NIfTI1Offset.xyztUnits] = UInt8(truncatingIfNeeded: h.xyztUnits)
        w.string(h.descrip, at: NIfTI1Offset.descrip, length: 80)
        w.int16(h.qformCode, at: NIfTI1Offset.qformCode)
        w.int16(h.sformCode, at: NIfTI1Offset.sformCode)
        for (k, v) in [h.quaternB, h.quaternC, h.quaternD, h.qoffsetX, h.qoffsetY, h.qoffsetZ].enumerated() {
            w.float32(v, at: NIfTI1Offset.quatern + 4 * k)
        }
        for (r, row) in [h.srowX, h.srowY, h.srowZ].enumerated() {
            for k in 0..<4 { w.float32(row[k], at: NIfTI1Offset.srow + 16 * r + 4 * k) }
        }
        w.string("n+1", at: NIfTI1Offset.magic, length: 4)
        return w.bytes
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
