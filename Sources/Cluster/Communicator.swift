/// The collective operations data-parallel training needs, and nothing more.
///
/// dro-train runs as R identical processes ("ranks") that draw the same global batch, train on
/// their own slice and sum their gradients, so every rank takes the same optimizer step. This
/// protocol is what those ranks use to talk: `MPICommunicator` when started by `mpirun`/`srun`,
/// `SingleProcess` otherwise — with size 1 every operation is the identity, so single-machine
/// code paths call the same functions and need no `if distributed` branches.
///
/// Rules every implementation follows (MPI's rules for collectives):
/// - a collective (everything except `rank`, `size`, `abort`, `fail`) must be called by every
///   rank, in the same order, with the same element count where a count is shared;
/// - calls come from one thread at a time (MPI is initialised with MPI_THREAD_FUNNELED);
/// - nothing hangs on failure: `fail` and `abort` take every rank down, and `check` (Failure.swift)
///   turns a failure on one rank into the same thrown error on every rank.
public protocol Communicator: AnyObject {
    /// This process's index, 0 ..< size. Rank 0 writes logs, plots and checkpoints.
    var rank: Int { get }
    /// Number of ranks.
    var size: Int { get }
    /// How the ranks were started, for logs: "single process", "mpirun (Open MPI), 2 ranks".
    var description: String { get }

    /// Waits until every rank has called it.
    func barrier()

    /// Replaces `buffer` on every rank by the element-wise sum over ranks (the flat gradient
    /// arena). Every rank passes the same count. Results are bitwise identical on all ranks.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// The same for Double (loss statistics, Dice sums, timings).
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>)

    /// Starts the sum over ranks of `buffer` without waiting for it (MPI_Iallreduce): the buffer
    /// must be left alone until `waitPending()` returns. Every rank starts the same buffers, in
    /// the same order. The default sums at once (`allreduceSum`).
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>)
    /// Lets the started sums advance (MPI_Testall): Open MPI moves a nonblocking collective on
    /// only inside MPI calls. Never waits. The default does nothing.
    func progressPending()
    /// Waits until every started sum is complete (MPI_Waitall). The default does nothing.
    func waitPending()

    /// Every rank's `values`, indexed by rank. Every rank must pass the same count (checked: a
    /// mismatch is a programming error and takes every rank down naming both counts).
    func allgather(_ values: [Double]) -> [[Double]]
    /// Every rank's bytes, indexed by rank; lengths may differ between ranks.
    func allgather(bytes: [UInt8]) -> [[UInt8]]
    /// Rank 0's `bytes` on every rank (other ranks' arguments are ignored).
    func broadcast(bytes: [UInt8]) -> [UInt8]

    /// Ends every rank now with exit status `code` (MPI_Abort). Output is flushed first.
    func abort(code: Int32) -> Never
    /// Writes "rank R: <reason>" on stderr and takes every rank down with status 1: for a failure
    /// only this rank knows about, when waiting for the next `check` is impossible.
    func fail(_ reason: String) -> Never
    /// The last collective on success: every rank calls it before exiting 0 (MPI_Finalize).
    /// A rank that exits without it takes every other rank down (see MPICommunicator).
    func finish()
}

extension Communicator {
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) { allreduceSum(buffer) }
    public func progressPending() {}
    public func waitPending() {}

    /// True on the rank that writes files and reports.
    public var isRoot: Bool { rank == 0 }

    /// In-place sum over ranks of a Float array.
    public func allreduceSum(_ values: inout [Float]) {
        values.withUnsafeMutableBufferPointer { allreduceSum($0) }
    }

    /// In-place sum over ranks of a Double array.
    public func allreduceSum(_ values: inout [Double]) {
        values.withUnsafeMutableBufferPointer { allreduceSum($0) }
    }

    /// Every rank's string, indexed by rank (UTF-8 on the wire).
    public func allgather(_ string: String) -> [String] {
        allgather(bytes: Array(string.utf8)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Rank 0's string on every rank.
    public func broadcast(_ string: String) -> String {
        String(decoding: broadcast(bytes: Array(string.utf8)), as: UTF8.self)
    }

    /// Every rank's 64-bit values, indexed by rank, bit for bit (hashes, seeds, counters).
    public func allgather(_ values: [UInt64]) -> [[UInt64]] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 8)
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        return allgather(bytes: bytes).map { blob in
            stride(from: 0, to: blob.count - blob.count % 8, by: 8).map { start in
                blob[start ..< start + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            }
        }
    }
}
