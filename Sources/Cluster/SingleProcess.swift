#if canImport(Glibc)
import Glibc
#endif

/// The communicator of a process not started by an MPI launcher: one rank, every collective the
/// identity. It never touches MPI (no MPI_Init), so every command behaves exactly as it did
/// before distributed training existed, and code written for R ranks runs unchanged with R = 1.
public final class SingleProcess: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var description: String { "single process" }

    public func barrier() {}

    /// The sum over one rank is the buffer itself.
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {}

    public func allgather(_ values: [Double]) -> [[Double]] { [values] }
    public func allgather(bytes: [UInt8]) -> [[UInt8]] { [bytes] }
    public func broadcast(bytes: [UInt8]) -> [UInt8] { bytes }

    /// Exits the process with `code` after flushing output.
    public func abort(code: Int32) -> Never {
        fflush(stdout)
        fflush(stderr)
        exit(code)
    }

    /// Writes "rank 0: <reason>" on stderr and exits 1, as a rank of an MPI run would: the same
    /// message whether or not the run was distributed.
    public func fail(_ reason: String) -> Never {
        writeStandardError("rank 0: \(reason)\n")
        abort(code: 1)
    }

    public func finish() {}
}

/// One unbuffered write of a whole message, so lines from several ranks forwarded by mpirun do
/// not interleave mid-line.
func writeStandardError(_ text: String) {
    fflush(stdout)
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { break }
        offset += written
    }
}
