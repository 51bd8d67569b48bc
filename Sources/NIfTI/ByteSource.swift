#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sequential reader of a file's (decompressed) bytes.
protocol ByteSource: AnyObject {
    /// Fills `count` bytes at `destination`; returns how many were available (fewer only at
    /// the end of the data).
    func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int
    /// Checks what follows the bytes read (e.g. the gzip checksum of the current member).
    func finish() throws
    /// Size of the file on disk.
    var fileSize: Int { get }
}

/// Size of the throw-away buffer used to skip bytes (extensions before vox_offset, the tail of a
/// gzip member): 64 KiB, small next to any volume.
let skipBufferSize = 1 << 16

extension ByteSource {
    /// Reads exactly `count` bytes or returns the shorter prefix that exists.
    func readBytes(_ count: Int) throws -> [UInt8] {
        var got = 0
        let bytes = try [UInt8](unsafeUninitializedCapacity: count) { buf, initialized in
            if count > 0, let base = buf.baseAddress { got = try read(into: base, count: count) }
            initialized = got
        }
        return bytes
    }

    /// Discards `count` bytes; returns how many were available.
    func skip(_ count: Int) throws -> Int {
        var remaining = count
        var scratch = [UInt8](repeating: 0, count: min(count, skipBufferSize))
        while remaining > 0 {
            let want = min(remaining, scratch.count)
            let got = try scratch.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: want) }
            remaining -= got
            if got < want { break }
        }
        return count - remaining
    }
}

/// An open file, closed by `close()` (checked: a written file's last buffered bytes and a
/// network file system's errors surface there) or, unchecked, on deinit.
final class CFile {
    let handle: UnsafeMutablePointer<FILE>
    let path: String
    private var closed = false

    init(path: String, mode: String) throws {
        guard let h = fopen(path, mode) else {
            let reason = String(cString: strerror(errno))
            throw NIfTIError(path: path, field: "file", found: "not openable (\(reason))",
                             allowed: mode.hasPrefix("r") ? "an existing readable file" : "a writable location")
        }
        handle = h
        self.path = path
    }

    deinit { if !closed { fclose(handle) } }

    /// fclose with its result checked; the handle is released either way.
    func close() throws {
        guard !closed else { return }
        closed = true
        guard fclose(handle) == 0 else {
            throw NIfTIError(path: path, field: "file", found: "not written (fclose failed: \(String(cString: strerror(errno))))",
                             allowed: "a writable location with free space")
        }
    }

    var size: Int {
        var st = stat()
        return fstat(fileno(handle), &st) == 0 ? Int(st.st_size) : 0
    }
}

/// Plain (uncompressed) file: fread straight into the destination.
final class RawFileSource: ByteSource {
    let file: CFile
    let fileSize: Int

    init(path: String) throws {
        file = try CFile(path: path, mode: "rb")
        fileSize = file.size
    }

    func read(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = fread(destination + done, 1, count - done, file.handle)
            if n == 0 {
                if ferror(file.handle) != 0 {
                    throw NIfTIError(path: file.path, field: "file", found: "unreadable (\(String(cString: strerror(errno))))",
                                     allowed: "a readable regular file")
                }
                break
            }
            done += n
        }
        return done
    }

    func finish() throws {}
}

/// Opens a file, choosing gzip when it starts with the gzip magic bytes 1f 8b (RFC 1952).
func openSource(path: String) throws -> ByteSource {
    let probe = try RawFileSource(path: path)
    let magic = try probe.readBytes(2)
    if magic == [0x1f, 0x8b] { return try GzipSource(path: path) }
    rewind(probe.file.handle)
    return probe
}
