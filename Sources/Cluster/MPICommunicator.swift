import CMPI
#if canImport(Glibc)
import Glibc
#endif

/// The communicator of a rank started by `mpirun` or `srun`: OpenMPI over MPI_COMM_WORLD.
///
/// Errors inside MPI keep OpenMPI's default handler (MPI_ERRORS_ARE_FATAL): a broken peer or
/// transport ends every rank with OpenMPI's message instead of returning codes nobody could
/// act on consistently across ranks.
///
/// Exiting: a rank ends successfully with `finish()` (MPI_Finalize, collective). Any other exit
/// after MPI_Init — `exit(1)` after an error, a thrown error reaching ArgumentParser — runs an
/// exit handler that writes "rank R: exited with status S before finishing; stopping every rank"
/// and calls MPI_Abort, so the other ranks stop at once instead of waiting in their next
/// collective (MPI_Finalize itself would wait for them: a hang). The line is ours because Open
/// MPI 4.1's own abort banner sometimes arrives garbled as "ORTE_ERROR_LOG: Data unpack would
/// read past end of buffer … show_help.c" (open-mpi/ompi#8356).
public final class MPICommunicator: Communicator {
    public let rank: Int
    public let size: Int
    public let description: String
    /// Requests of the sums started by `startAllreduceSum`, until `waitPending`.
    private var pending: [MPI_Request?] = []

    /// Largest element count passed to one MPI call (counts are C ints); bigger buffers go in chunks.
    static let chunk = 1 << 30

    /// Initialises MPI (once per process) with MPI_THREAD_FUNNELED: compute threads exist, but
    /// only the thread that called this calls MPI. `launcher` names how the ranks were started.
    public init(launcher: String) {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            var provided: Int32 = 0
            MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided)
            on_exit({ status, _ in MPICommunicator.abortUnlessFinalized(status: status) }, nil)
        }
        var r: Int32 = 0, s: Int32 = 0
        MPI_Comm_rank(dro_mpi_comm_world(), &r)
        MPI_Comm_size(dro_mpi_comm_world(), &s)
        rank = Int(r)
        size = Int(s)
        description = "\(launcher), \(s) rank\(s == 1 ? "" : "s")"
    }

    /// The exit handler: nothing after a clean `finish()`; otherwise a line naming this rank and
    /// MPI_Abort with the exit status (1 for a status of 0: leaving without `finish()` is a bug).
    static func abortUnlessFinalized(status: Int32) {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        guard finalized == 0 else { return }
        var rank: Int32 = 0
        MPI_Comm_rank(dro_mpi_comm_world(), &rank)
        writeStandardError("rank \(rank): exited with status \(status) before finishing; stopping every rank\n")
        fflush(stderr)
        MPI_Abort(dro_mpi_comm_world(), status == 0 ? 1 : status)
    }

    public func barrier() {
        MPI_Barrier(dro_mpi_comm_world())
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        allreduceInPlace(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                         stride: MemoryLayout<Float>.stride, type: dro_mpi_float())
    }

    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) {
        allreduceInPlace(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                         stride: MemoryLayout<Double>.stride, type: dro_mpi_double())
    }

    /// MPI_Allreduce(MPI_IN_PLACE, …, MPI_SUM) in chunks of at most `chunk` elements.
    private func allreduceInPlace(_ base: UnsafeMutableRawPointer?, count: Int, stride: Int, type: MPI_Datatype) {
        guard let base, count > 0 else { return }
        var start = 0
        while start < count {
            let n = min(Self.chunk, count - start)
            MPI_Allreduce(dro_mpi_in_place(), base + start * stride, Int32(n), type, dro_mpi_sum(), dro_mpi_comm_world())
            start += n
        }
    }

    /// MPI_Iallreduce(MPI_IN_PLACE, …, MPI_SUM), in chunks of at most `chunk` elements.
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        var start = 0
        while start < buffer.count {
            let n = min(Self.chunk, buffer.count - start)
            var request: MPI_Request?
            MPI_Iallreduce(dro_mpi_in_place(), base + start, Int32(n), dro_mpi_float(), dro_mpi_sum(),
                           dro_mpi_comm_world(), &request)
            pending.append(request)
            start += n
        }
    }

    public func progressPending() {
        guard !pending.isEmpty else { return }
        var done: Int32 = 0
        MPI_Testall(Int32(pending.count), &pending, &done, dro_mpi_statuses_ignore())
        if done != 0 { pending.removeAll(keepingCapacity: true) }
    }

    public func waitPending() {
        guard !pending.isEmpty else { return }
        MPI_Waitall(Int32(pending.count), &pending, dro_mpi_statuses_ignore())
        pending.removeAll(keepingCapacity: true)
    }

    public func allgather(_ values: [Double]) -> [[Double]] {
        let counts = allgatherCounts(values.count)
        if let other = counts.firstIndex(where: { $0 != values.count }) {
            fail("allgather of Double values: rank \(rank) sent \(values.count), rank \(other) sent \(counts[other]); every rank must send the same count")
        }
        guard values.count > 0 else { return Array(repeating: [], count: size) }
        var all = [Double](repeating: 0, count: values.count * size)
        values.withUnsafeBufferPointer { send in
            all.withUnsafeMutableBufferPointer { receive in
                _ = MPI_Allgather(send.baseAddress, Int32(values.count), dro_mpi_double(),
                                  receive.baseAddress, Int32(values.count), dro_mpi_double(), dro_mpi_comm_world())
            }
        }
        return (0 ..< size).map { Array(all[$0 * values.count ..< ($0 + 1) * values.count]) }
    }

    public func allgather(bytes: [UInt8]) -> [[UInt8]] {
        let counts = allgatherCounts(bytes.count)
        let total = counts.reduce(0, +)
        if total > Int(Int32.max) {
            fail("allgather of \(total) bytes in total exceeds MPI's 2 GiB limit for one call")
        }
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1 ..< max(size, 1) { offsets[r] = offsets[r - 1] + Int32(counts[r - 1]) }
        let counts32 = counts.map { Int32($0) }
        var all = [UInt8](repeating: 0, count: max(total, 1))
        bytes.withUnsafeBufferPointer { send in
            all.withUnsafeMutableBufferPointer { receive in
                _ = MPI_Allgatherv(send.baseAddress, Int32(bytes.count), dro_mpi_byte(),
                                   receive.baseAddress, counts32, offsets, dro_mpi_byte(), dro_mpi_comm_world())
            }
        }
        return (0 ..< size).map { Array(all[Int(offsets[$0]) ..< Int(offsets[$0]) + counts[$0]]) }
    }

    public func broadcast(bytes: [UInt8]) -> [UInt8] {
        var count: Int64 = rank == 0 ? Int64(bytes.count) : 0
        MPI_Bcast(&count, 1, dro_mpi_int64(), 0, dro_mpi_comm_world())
        var result = rank == 0 ? bytes : [UInt8](repeating: 0, count: Int(count))
        result.withUnsafeMutableBufferPointer { buffer in
            var start = 0
            while start < buffer.count {
                let n = min(Self.chunk, buffer.count - start)
                MPI_Bcast(buffer.baseAddress! + start, Int32(n), dro_mpi_byte(), 0, dro_mpi_comm_world())
                start += n
            }
        }
        return result
    }

    /// Every rank's count, indexed by rank (one MPI_Allgather of an Int64).
    private func allgatherCounts(_ count: Int) -> [Int] {
        var mine = Int64(count)
        var all = [Int64](repeating: 0, count: size)
        all.withUnsafeMutableBufferPointer { receive in
            _ = MPI_Allgather(&mine, 1, dro_mpi_int64(), receive.baseAddress, 1, dro_mpi_int64(), dro_mpi_comm_world())
        }
        return all.map { Int($0) }
    }

    /// MPI_Abort while MPI runs; a plain exit once `finish()` has finalized it.
    public func abort(code: Int32) -> Never {
        fflush(stdout)
        fflush(stderr)
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Abort(dro_mpi_comm_world(), code) }
        exit(code)
    }

    public func fail(_ reason: String) -> Never {
        writeStandardError("rank \(rank): \(reason)\n")
        abort(code: 1)
    }

    public func finish() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 {
            fflush(stdout)
            MPI_Finalize()
        }
    }
}
