import Cluster

/// An error every rank of a data-parallel run raised in the same way (it came from gathered
/// data, from a collective decision, or from the same shared file), so rank 0 reports it once and
/// every rank ends in order with the error's exit status.
public struct AllRanks: CollectiveError {
    public let error: Error

    public init(_ error: Error) { self.error = error }

    public var description: String { "\(error)" }

    /// The wrapped error's status (130 / 143 after a stop signal), else 1.
    public var exitCode: Int32 { (error as? RunError)?.exitCode ?? 1 }
}

extension Communicator {
    /// `error` as every rank raises it: unchanged for a single process, `AllRanks` otherwise.
    func everywhere(_ error: Error) -> Error { size == 1 ? error : AllRanks(error) }

    /// Runs `body` on every rank and agrees on the outcome (one `check` per call under MPI):
    /// when any rank failed, every rank throws — `AllRanks` of its own error when every rank
    /// failed with the same message (a shared file, the same configuration), else `RankFailure`
    /// naming each failing rank and its reason. With one rank the error passes through unchanged.
    func collectively<T>(_ body: () throws -> T) throws -> T {
        guard size > 1 else { return try body() }
        var result: T?
        var failure: Error?
        do { result = try body() } catch { failure = error }
        do {
            try check(failure.map { "\($0)" })
        } catch let reported as RankFailure {
            if let failure, reported.failures.count == size, Set(reported.failures.map(\.reason)).count == 1 {
                throw AllRanks(failure)
            }
            throw reported
        }
        return result!
    }
}
