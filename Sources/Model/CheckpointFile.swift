#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and crash-safe writing of checkpoint files.
///
/// A write goes to a temporary file in the destination's folder, is fsynced, renamed over the
/// destination (rename is atomic within one file system) and the folder is fsynced so the rename
/// itself survives a power cut. A process killed at any moment leaves either the old file or the
/// new one at `path`, never a mixture; at worst a stale temporary file remains, which the next
/// write replaces.
extension Checkpoint {
    /// Bytes per write(2) call; large sections are written in pieces so partial writes are
    /// handled and progress is steady.
    static let writeChunkBytes = 1 << 22

    /// Reads and verifies the checkpoint at `path`.
    public static func read(path: String) throws -> Checkpoint {
        try decode(try readAllBytes(path: path), path: path)
    }

    /// The temporary file a write to `path` uses (same folder, hidden, per process).
    static func temporaryPath(for path: String) -> String {
        let (folder, name) = splitPath(path)
        return folder + "/." + name + ".tmp-\(getpid())"
    }

    /// Writes atomically to `path` (see the type's comment).
    public func write(to path: String) throws {
        try Checkpoint.writeAtomically(encoded(), to: path, crashAfterBytes: nil)
    }

    /// The atomic write. `crashAfterBytes` is for tests: stop after that many bytes, as if the
    /// process were killed, leaving the partial temporary file and not renaming.
    static func writeAtomically(_ bytes: [UInt8], to path: String, crashAfterBytes: Int?) throws {
        let temporary = temporaryPath(for: path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else {
            throw CheckpointError.io(path: path, operation: "create (as \(temporary))", reason: systemError())
        }
        var closed = false, renamed = false
        defer {
            if !closed { close(descriptor) }
            // A failed write (full disk, I/O error) leaves no partial file behind; a simulated
            // crash (`crashAfterBytes`) keeps it, as a killed process would.
            if !renamed && crashAfterBytes == nil { unlink(temporary) }
        }
        let limit = min(bytes.count, crashAfterBytes ?? bytes.count)
        try bytes.withUnsafeBytes { buffer in
            var written = 0
            while written < limit {
                let chunk = min(writeChunkBytes, limit - written)
                let result = Glibc.write(descriptor, buffer.baseAddress! + written, chunk)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.io(path: path, operation: "write", reason: systemError())
                }
                written += result
            }
        }
        if crashAfterBytes != nil { return }
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.io(path: path, operation: "fsync", reason: systemError())
        }
        closed = true
        guard close(descriptor) == 0 else {
            throw CheckpointError.io(path: path, operation: "close", reason: systemError())
        }
        guard rename(temporary, path) == 0 else {
            let reason = systemError()
            unlink(temporary)
            throw CheckpointError.io(path: path, operation: "rename \(temporary) to it", reason: reason)
        }
        renamed = true
        try syncFolder(of: path)
    }

    /// fsync on the folder makes the rename durable (POSIX leaves it to the folder's metadata).
    static func syncFolder(of path: String) throws {
        let folder = splitPath(path).folder
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else {
            throw CheckpointError.io(path: folder, operation: "open folder", reason: systemError())
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.io(path: folder, operation: "fsync folder", reason: systemError())
        }
    }

    static func readAllBytes(path: String) throws -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.io(path: path, operation: "open", reason: systemError())
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw CheckpointError.io(path: path, operation: "stat", reason: systemError())
        }
        let size = Int(status.st_size)
        var bytes = [UInt8](repeating: 0, count: size)
        var total = 0
        try bytes.withUnsafeMutableBytes { buffer in
            while total < size {
                let result = Glibc.read(descriptor, buffer.baseAddress! + total, size - total)
                if result < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError.io(path: path, operation: "read", reason: systemError())
                }
                if result == 0 { break }
                total += result
            }
        }
        return Array(bytes[0..<total])
    }

    static func splitPath(_ path: String) -> (folder: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let folder = String(path[..<slash])
        return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
    }

    static func systemError() -> String { String(cString: strerror(errno)) }
}
