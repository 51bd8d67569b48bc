#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash- and power-safe file replacement, as for checkpoints: the bytes go to a temporary file
/// in the destination's folder (same file system, so the rename is atomic), which is flushed,
/// fsynced and closed — each result checked, since a full disk or a network file system may
/// report a failed write only at fsync or close — then renamed over the destination, and the
/// folder is fsynced so that the rename itself survives a power cut. Whatever happens, `path`
/// holds the old file or the complete new one, never a prefix; on an error the temporary file
/// is removed and the error names `path`.
enum DurableFile {
    /// The temporary name a write to `path` uses: `path` + ".tmp" + the process id, so that two
    /// processes writing the same output never share one and a leftover is easy to recognise.
    static func temporaryPath(for path: String) -> String { path + ".tmp\(getpid())" }

    /// Creates the temporary file, lets `body` write it through the `CFile`, and commits it to
    /// `path` as described on the type. Errors thrown by `body` are re-labelled with `path`.
    static func write(to path: String, _ body: (CFile) throws -> Void) throws {
        let temporary = temporaryPath(for: path)
        var committed = false
        defer { if !committed { unlink(temporary) } }
        do {
            let file = try CFile(path: temporary, mode: "wb")
            try body(file)
            guard fflush(file.handle) == 0 else { throw failure(path, "fflush") }
            guard fsync(fileno(file.handle)) == 0 else { throw failure(path, "fsync") }
            try file.close()
            guard rename(temporary, path) == 0 else { throw failure(path, "rename from \(temporary)") }
            committed = true
        } catch var error as NIfTIError {
            error.path = path   // name the file the caller asked for, not the temporary one
            throw error
        }
        try syncFolder(of: path)
    }

    /// fsync of the containing folder: makes the rename durable (POSIX leaves directory entries
    /// to the folder's own metadata).
    static func syncFolder(of path: String) throws {
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) }.map { $0.isEmpty ? "/" : $0 } ?? "."
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw failure(path, "open of its folder \(folder)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure(path, "fsync of its folder \(folder)") }
    }

    /// "path: file is not written (fsync failed: No space left on device)", with errno's text.
    static func failure(_ path: String, _ operation: String) -> NIfTIError {
        NIfTIError(path: path, field: "file", found: "not written (\(operation) failed: \(String(cString: strerror(errno))))",
                   allowed: "a writable location with free space")
    }
}
