import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The signal number received by the process-wide handler (0 = none). A plain global of a
/// trivial type with a constant initialiser (statically initialised, no lazy once-token), written
/// only by the handler and by `start()`: the sig_atomic_t pattern of C.
nonisolated(unsafe) private var receivedStopSignal: sig_atomic_t = 0

/// Async-signal-safe handler: records the first stop signal, nothing else.
private func recordStopSignal(_ number: Int32) {
    if receivedStopSignal == 0 { receivedStopSignal = number }
}

/// Turns SIGINT and SIGTERM into a flag the training loop polls between iterations, so a stop
/// request finishes the current iteration, saves a checkpoint and exits 130 / 143 instead of
/// dying mid-write. Installs a sigaction handler that only stores the signal number; `stop()`
/// restores the default action. One instance is active at a time (the handler is per process).
public final class SignalStop: @unchecked Sendable {
    public static let interruptSignal = SIGINT
    public static let terminateSignal = SIGTERM

    private let lock = NSLock()
    private var requested: Int32?
    private var started = false

    public init() {}

    /// "SIGINT", "SIGTERM" or "signal N".
    public static func name(_ signal: Int32) -> String {
        signal == interruptSignal ? "SIGINT" : signal == terminateSignal ? "SIGTERM" : "signal \(signal)"
    }

    /// The shell's status for a stop by `signal`: 128 + its number (130 SIGINT, 143 SIGTERM).
    public static func exitStatus(_ signal: Int32) -> Int32 { 128 + signal }

    /// The first stop request or signal received since `start()`, if any.
    public var signal: Int32? {
        lock.lock()
        defer { lock.unlock() }
        if let requested { return requested }
        let received = started ? receivedStopSignal : 0
        return received == 0 ? nil : received
    }

    /// Records a stop request (tests, and callers that stop for other reasons).
    public func request(_ signal: Int32) {
        lock.lock()
        let arrived = started && receivedStopSignal != 0
        if requested == nil && !arrived { requested = signal }
        lock.unlock()
    }

    /// Starts catching SIGINT and SIGTERM.
    public func start() {
        lock.lock()
        receivedStopSignal = 0
        started = true
        lock.unlock()
        for number in [SignalStop.interruptSignal, SignalStop.terminateSignal] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { recordStopSignal($0) }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART  // interrupted reads and writes resume instead of failing
            sigaction(number, &action, nil)
        }
    }

    /// Stops catching; the signals get their default action back.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard started else { return }
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&action.sa_mask)
        for number in [SignalStop.interruptSignal, SignalStop.terminateSignal] { sigaction(number, &action, nil) }
        // Keep what arrived (the caller may still read `signal`); later instances reset it.
        if receivedStopSignal != 0 && requested == nil { requested = receivedStopSignal }
        started = false
    }

    deinit { stop() }
}
