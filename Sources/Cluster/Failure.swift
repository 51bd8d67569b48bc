/// Failures across ranks. A rank that fails alone must not leave the others waiting in their next
/// collective, so a failure takes one of two roads:
/// - at a step boundary, every rank calls `check(_:)` with its own failure or nil; if any rank
///   failed, every rank throws the same `RankFailure` naming the failing rank(s) and reason(s),
///   and the run can end in order (rank 0 reports, every rank finishes and exits 1);
/// - anywhere else, `fail(_:)` prints "rank R: reason" and aborts every rank at once.
///
/// Errors conforming to `CollectiveError` are known to every rank (they come from a collective),
/// which is what lets `terminate(after:)` print them once instead of R times.
public protocol CollectiveError: Error, CustomStringConvertible {}

/// One or more ranks reported a failure through `check(_:)`.
public struct RankFailure: CollectiveError, Equatable {
    /// (rank, reason) for every failing rank, by rank.
    public var failures: [(rank: Int, reason: String)]

    public init(failures: [(rank: Int, reason: String)]) { self.failures = failures }

    /// "rank 1: cannot read case_007.nii.gz: truncated" (further ranks follow after "; ").
    public var description: String {
        failures.map { "rank \($0.rank): \($0.reason)" }.joined(separator: "; ")
    }

    public static func == (a: RankFailure, b: RankFailure) -> Bool {
        a.failures.map(\.rank) == b.failures.map(\.rank) && a.failures.map(\.reason) == b.failures.map(\.reason)
    }
}

/// Start-up and agreement errors, the same on every rank that detects them.
public enum ClusterError: CollectiveError, Equatable {
    /// The launcher's environment or MPI's view of it is unusable.
    case launch(String)
    /// Ranks hold different values where they must agree (config hash, parameters).
    case disagreement(String)

    public var description: String {
        switch self {
        case .launch(let message), .disagreement(let message): return message
        }
    }
}

extension Communicator {
    /// The per-step failure check, a collective. `localFailure` is this rank's problem (nil when
    /// fine); throws `RankFailure` on every rank when any rank passed one. Costs one allreduce of
    /// one Double when nobody failed, so it can run every iteration.
    public func check(_ localFailure: String?) throws {
        var failed: [Double] = [localFailure == nil ? 0 : 1]
        allreduceSum(&failed)
        guard failed[0] > 0 else { return }
        // A leading "1" marks a failing rank, so an empty reason still counts.
        let reports = allgather(localFailure.map { "1" + $0 } ?? "0")
        var failures: [(rank: Int, reason: String)] = []
        for (r, report) in reports.enumerated() where report.hasPrefix("1") {
            let reason = String(report.dropFirst())
            failures.append((r, reason.isEmpty ? "failed (no reason given)" : reason))
        }
        throw RankFailure(failures: failures)
    }

    /// Ends this rank after `error` with status 1, never leaving another rank waiting.
    /// A `CollectiveError` was thrown on every rank: rank 0 prints it once, then every rank
    /// finishes MPI and exits. Any other error is this rank's alone: it is printed as
    /// "rank R: <error>" and every rank is aborted.
    public func terminate(after error: Error) -> Never {
        if error is CollectiveError {
            if isRoot { writeStandardError("\(error)\n") }
            finish()
            abort(code: 1)  // after finish, abort is a plain exit (MPI is finalized)
        }
        fail("\(error)")
    }
}
