import Cluster
import Foundation

/// `dro-bench allreduce`: time of one in-place Float sum over the ranks of this run (the gradient
/// allreduce of data-parallel training) for buffer sizes from 1 KiB to 64 MiB, as µs per call and
/// µs per MiB. Run it under `mpirun -np R`; alone it times the single-process identity.
///
/// Method (OSU-style): per size, 2 warm-up calls, a barrier, then `repetitions` back-to-back
/// calls timed on each rank; the figure is the slowest rank's mean, because a step waits for the
/// slowest rank. Repetitions shrink with size (512 MiB of traffic per size, 5 to 2000 calls) so
/// the whole sweep takes seconds. Reference, timed the same way right after on every rank at once:
/// a memcpy of the same buffer — what one copy of the bytes costs on this machine at this moment
/// (an allreduce over shared memory moves and adds at least that much), so a loaded machine shows
/// in both columns.
public enum AllreduceBenchmark {
    /// 1 KiB, 4 KiB, … 64 MiB.
    public static let defaultSizes: [Int] = (0 ... 8).map { 1024 << (2 * $0) }

    public struct Row: Sendable {
        public var bytes: Int
        public var repetitions: Int
        /// Slowest rank's mean time per call.
        public var microseconds: Double
        /// Slowest rank's mean time of one memcpy of the buffer.
        public var memcpyMicroseconds: Double
        public var microsecondsPerMiB: Double { microseconds / (Double(bytes) / 1_048_576) }
        /// Algorithmic bandwidth: buffer bytes per second of call time.
        public var gigabytesPerSecond: Double { Double(bytes) / microseconds / 1000 }
    }

    /// Repetitions for a buffer of `bytes`.
    static func repetitions(bytes: Int) -> Int {
        min(2000, max(5, (512 << 20) / max(bytes, 1)))
    }

    /// Times every size; collective (every rank calls it with the same sizes).
    public static func run(_ comm: any Communicator, sizes: [Int] = defaultSizes) -> [Row] {
        sizes.map { bytes in
            let reps = repetitions(bytes: bytes)
            var buffer = [Float](repeating: 0, count: max(bytes / 4, 1))
            return buffer.withUnsafeMutableBufferPointer { p in
                for _ in 0 ..< 2 { comm.allreduceSum(p) }
                comm.barrier()
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0 ..< reps { comm.allreduceSum(p) }
                let mean = Double(DispatchTime.now().uptimeNanoseconds - start) / 1000 / Double(reps)
                var copy = [Float](repeating: 1, count: p.count)
                comm.barrier()
                let copyStart = DispatchTime.now().uptimeNanoseconds
                for _ in 0 ..< reps { copy.withUnsafeMutableBytes { _ = memcpy($0.baseAddress!, p.baseAddress!, $0.count) } }
                let copyMean = Double(DispatchTime.now().uptimeNanoseconds - copyStart) / 1000 / Double(reps)
                let slowest = comm.allgather([mean, copyMean])
                return Row(bytes: bytes, repetitions: reps, microseconds: slowest.map { $0[0] }.max() ?? mean,
                           memcpyMicroseconds: slowest.map { $0[1] }.max() ?? copyMean)
            }
        }
    }

    /// The table (or one JSON object) rank 0 prints.
    public static func report(_ rows: [Row], comm: any Communicator, json: Bool) throws -> String {
        if json {
            let object: [String: Any] = [
                "ranks": comm.size, "launch": comm.description,
                "sizes": rows.map { row -> [String: Any] in
                    ["bytes": row.bytes, "repetitions": row.repetitions, "microseconds": row.microseconds, "memcpy_microseconds": row.memcpyMicroseconds,
                     "microseconds_per_mib": row.microsecondsPerMiB, "gb_per_s": row.gigabytesPerSecond]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
        var text = "allreduce (Float sum, in place) over \(comm.description); slowest rank's mean per call\n"
        text += "     size   calls        µs/call     µs/MiB      GB/s   memcpy µs   allreduce/memcpy\n"
        for row in rows {
            let name = sizeName(row.bytes)
            text += String(repeating: " ", count: max(0, 9 - name.count)) + name
            text += String(format: " %7d %14.1f %10.1f %9.2f %11.1f %18.1f\n", row.repetitions, row.microseconds,
                           row.microsecondsPerMiB, row.gigabytesPerSecond, row.memcpyMicroseconds,
                           row.microseconds / row.memcpyMicroseconds)
        }
        return text
    }

    /// "1 KiB", "64 MiB".
    static func sizeName(_ bytes: Int) -> String {
        bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB"
            : bytes >= 1024 && bytes % 1024 == 0 ? "\(bytes >> 10) KiB" : "\(bytes) B"
    }
}
