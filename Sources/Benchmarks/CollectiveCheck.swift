import Cluster
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `dro-bench collectives`: runs every collective of `Communicator` once across the ranks of this
/// run and returns what this rank received, as one JSON line, so an outside checker
/// (scripts/interop/test_mpi.py) can compare it with sums and orders computed independently.
/// Injected faults show how a run ends when one rank fails, dies or disagrees.
///
/// The data are exact functions of (rank, index) that a checker recomputes in float32/float64:
/// value = ((i·7919 + rank·104729) mod 10007) / 3, rounded to the element type — the division
/// makes every value inexact, so a wrong summation order or precision shows in the bits.
public enum CollectiveCheck {
    /// How one rank misbehaves.
    public enum Fault: String, CaseIterable, Sendable {
        /// `fail(_:)`: message and MPI_Abort while the others wait in an allreduce.
        case abort
        /// Reports a failure through `check(_:)`: every rank ends in order, rank 0 reports.
        case check
        /// `exit(3)` without `finish()`, while the others wait in an allreduce.
        case exit
        /// SIGKILL: the rank vanishes without a word, while the others wait in an allreduce.
        case kill
        /// Starts with another config hash: refused at the agreement check.
        case config
        /// Holds one parameter one ulp off: refused at the parameter check.
        case parameters
    }

    public struct Options: Sendable {
        public var count = 1000
        public var faultyRank = 1
        public var fault: Fault? = nil
        public init() {}
    }

    /// The element both checkers compute: ((i·7919 + rank·104729) mod 10007) / 3.
    static func numerator(_ i: Int, rank: Int) -> Int { (i * 7919 + rank * 104_729) % 10007 }

    /// Runs the checks on every rank (collective); returns this rank's JSON line.
    public static func run(_ comm: any Communicator, options: Options) throws -> String {
        let faulty = options.fault != nil && comm.rank == options.faultyRank
        var configText = "collectives check, count \(options.count)"
        if faulty && options.fault == .config { configText += ", other config" }
        try comm.requireAgreement(on: StableHash.of(configText, "dro-bench"), what: "the config hash")

        if faulty {
            switch options.fault {
            case .abort: comm.fail("injected failure (abort) before the allreduce")
            case .exit: Glibc.exit(3)
            case .kill: Glibc.kill(getpid(), SIGKILL)
            default: break
            }
        }
        try comm.check(faulty && options.fault == .check ? "injected failure (check) at step 0" : nil)

        var floats = (0 ..< options.count).map { Float(numerator($0, rank: comm.rank)) / 3 }
        var doubles = (0 ..< options.count).map { Double(numerator($0, rank: comm.rank)) / 3 }
        comm.allreduceSum(&floats)
        comm.allreduceSum(&doubles)

        var parameters = floats
        if faulty && options.fault == .parameters, !parameters.isEmpty { parameters[0] = parameters[0].nextUp }
        try parameters.withUnsafeBufferPointer { try comm.requireIdenticalParameters($0, step: 1) }

        let gatheredDoubles = comm.allgather([Double(comm.rank) * 10 + 0.5, -Double(comm.rank)])
        let gatheredStrings = comm.allgather("rank \(comm.rank)" + String(repeating: "·", count: comm.rank))
        let broadcast = comm.broadcast(comm.isRoot ? "from rank 0" : "not rank 0")
        let object: [String: Any] = [
            "rank": comm.rank, "size": comm.size, "launch": comm.description,
            "float_sum_bits": floats.map { Int($0.bitPattern) },
            "double_sum_bits": doubles.map { String($0.bitPattern, radix: 16) },
            "gathered_doubles": gatheredDoubles, "gathered_strings": gatheredStrings,
            "broadcast": broadcast,
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
